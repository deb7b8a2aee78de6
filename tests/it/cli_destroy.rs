//! `m3ter destroy` end to end: it forgets entities already gone from the
//! org, and exits 0 only when the state manages nothing afterwards. Each
//! test runs the real binary against its own emulator process.

use crate::common;

use std::path::Path;
use std::process::Output;

use serde_json::json;

use common::apply::{census, state_addresses, total};
use common::cli::{EmulatorProcess, m3ter, stderr, stdout, text};

/// Two products and a meter on the first: the smallest set with a
/// dependency.
const MINIMAL: &str = "\
products:
  - code: p_one
    name: P One
  - code: p_two
    name: P Two
meters:
  - code: m_one
    name: M One
    product: p_one
    dataFields:
      - code: q
        name: Q
        category: MEASURE
        unit: s
";

fn write_minimal(dir: &Path) {
    let d = dir.join("desired-state");
    std::fs::create_dir_all(&d).expect("mkdir");
    std::fs::write(d.join("minimal.yaml"), MINIMAL).expect("write yaml");
}

fn run(dir: &Path, emu: &EmulatorProcess, cmd: &str) -> Output {
    m3ter(dir, emu, &[cmd, "--auto-approve", "--rate-limit", "0"])
}

#[test]
fn destroy_forgets_entities_already_deleted_outside() {
    let emu = EmulatorProcess::start(&["--strict"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write_minimal(d);
    let out = run(d, &emu, "apply");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(state_addresses(d).len(), 3);

    // p_two deleted behind the tool's back (nothing refers to it).
    let id = emu.by_code("products", "p_two")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let (status, v) = emu.api("DELETE", &format!("products/{id}"), None);
    assert_eq!(status, 200, "{v}");

    let out = run(d, &emu, "destroy");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains("product.p_two: forgotten (already deleted outside m3ter-reconcile)"),
        "{}",
        text(&out)
    );
    assert!(
        stdout(&out).contains("0 added, 0 changed, 2 destroyed."),
        "{}",
        text(&out)
    );
    assert!(state_addresses(d).is_empty(), "{:?}", state_addresses(d));
    let (counts, _) = census(&emu);
    assert_eq!(total(&counts), 0, "{counts:?}");

    // Everything already gone: "No changes", and the last entry forgotten.
    let out = run(d, &emu, "apply");
    assert!(out.status.success(), "{}", text(&out));
    for collection in ["meters", "products"] {
        for e in emu.list_all(collection) {
            let path = format!("{collection}/{}", e["id"].as_str().expect("id"));
            let (status, v) = emu.api("DELETE", &path, None);
            assert_eq!(status, 200, "{v}");
        }
    }
    let out = run(d, &emu, "destroy");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains("product.p_one: forgotten"),
        "{}",
        text(&out)
    );
    assert!(state_addresses(d).is_empty(), "{:?}", state_addresses(d));
}

#[test]
fn destroy_that_leaves_entities_in_state_exits_1_naming_them() {
    let emu = EmulatorProcess::start(&["--strict"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write_minimal(d);
    let out = run(d, &emu, "apply");
    assert!(out.status.success(), "{}", text(&out));
    // An unmanaged meter on p_two: m3ter refuses to delete p_two.
    let p_two = emu.by_code("products", "p_two");
    let (status, v) = emu.api(
        "POST",
        "meters",
        Some(
            json!({"code": "unmanaged_meter", "name": "Not ours", "productId": p_two["id"],
                    "dataFields": [{"code": "q", "name": "Q", "category": "MEASURE", "unit": "s"}],
                    "derivedFields": []}),
        ),
    );
    assert_eq!(status, 200, "{v}");

    let out = run(d, &emu, "destroy");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("destroy left 1 managed entity in state"),
        "{}",
        text(&out)
    );
    assert!(
        err.contains("  product.p_two: its delete failed:") && err.contains("unmanaged_meter"),
        "{}",
        text(&out)
    );
    assert!(err.contains("m3ter state rm ADDR"), "{}", text(&out));
    assert_eq!(state_addresses(d), ["product.p_two"]);
}
