//! The `counter` kind end to end, the first kind added from the table alone
//! (`docs/adding-a-kind.md`): the real binary against an emulator process,
//! through create, no-op, update, delete, adopt, import, export and destroy,
//! and the emulator's own checks of the collection.

use crate::common;
use common::cli::{EmulatorProcess, m3ter, text};
use common::kind_flow::{apply, changes, plan, summary, write_desired};
use serde_json::{Value, json};

/// A product and one counter on it, named `name`.
fn desired(name: &str) -> String {
    format!(
        "products:\n  - code: saas\n    name: SaaS\n\
         counters:\n  - code: seats\n    name: {name}\n    unit: seats\n    product: saas\n"
    )
}

#[test]
fn a_counter_is_created_left_alone_renamed_and_deleted() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    write_desired(dir.path(), &desired("Seats"));

    let (c, _) = plan(dir.path(), &emu, &[]);
    assert_eq!(
        c,
        changes(&[("product.saas", "create"), ("counter.seats", "create")])
    );
    apply(dir.path(), &emu);
    let live = emu.by_code("counters", "seats");
    let product = emu.by_code("products", "saas");
    assert_eq!(
        (&live["name"], &live["unit"], &live["productId"]),
        (&json!("Seats"), &json!("seats"), &product["id"]),
        "{live}"
    );

    let (c, s) = plan(dir.path(), &emu, &[]);
    assert_eq!((c, s), (vec![], summary(0, 0, 0, 0)));

    write_desired(dir.path(), &desired("Licensed seats"));
    let (c, _) = plan(dir.path(), &emu, &[]);
    assert_eq!(c, changes(&[("counter.seats", "update")]));
    apply(dir.path(), &emu);
    let renamed = emu.by_code("counters", "seats");
    assert_eq!(
        (&renamed["id"], &renamed["name"], &renamed["version"]),
        (&live["id"], &json!("Licensed seats"), &json!(2)),
        "{renamed}"
    );

    write_desired(dir.path(), "products:\n  - code: saas\n    name: SaaS\n");
    let (c, _) = plan(dir.path(), &emu, &[]);
    assert_eq!(c, changes(&[("counter.seats", "delete")]));
    apply(dir.path(), &emu);
    assert_eq!(emu.list_all("counters"), Vec::<Value>::new());
}

#[test]
fn a_live_counter_is_adopted_exported_and_destroyed() {
    let emu = EmulatorProcess::start(&[]);
    let (status, product) = emu.api(
        "POST",
        "products",
        Some(json!({"code": "saas", "name": "SaaS"})),
    );
    assert_eq!(status, 200, "{product}");
    let (status, counter) = emu.api(
        "POST",
        "counters",
        Some(
            json!({"code": "seats", "name": "Seats", "unit": "seats", "productId": product["id"]}),
        ),
    );
    assert_eq!(status, 200, "{counter}");

    // Written in YAML with a fresh state: adopted by code, not created again.
    let dir = tempfile::tempdir().expect("tempdir");
    write_desired(dir.path(), &desired("Seats"));
    let (c, s) = plan(dir.path(), &emu, &[]);
    assert_eq!(
        (c, s),
        (
            changes(&[("product.saas", "import"), ("counter.seats", "import")]),
            summary(2, 0, 0, 0)
        )
    );
    apply(dir.path(), &emu);
    assert_eq!(emu.list_all("counters").len(), 1);

    // Export, then plan the export with a fresh state: imports only.
    let out = m3ter(dir.path(), &emu, &["export", "--out", "exported"]);
    assert!(out.status.success(), "{}", text(&out));
    let yaml = std::fs::read_to_string(dir.path().join("exported/counters.yaml")).expect("file");
    assert!(yaml.contains("product: saas"), "{yaml}");
    assert!(!yaml.contains("productId"), "{yaml}");
    let (_, s) = plan(
        dir.path(),
        &emu,
        &["-d", "exported", "--state", "state/fresh.json"],
    );
    assert_eq!(s, summary(2, 0, 0, 0));

    // Destroy deletes the counter before the product it references.
    let out = m3ter(
        dir.path(),
        &emu,
        &["destroy", "--auto-approve", "--rate-limit", "0"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(emu.list_all("counters"), Vec::<Value>::new());
    assert_eq!(emu.list_all("products"), Vec::<Value>::new());
}

/// The emulator's collection, all of it derived from the table: the
/// request schema, the documented filters, pagination and delete
/// protection.
#[test]
fn the_emulator_validates_filters_and_pages_counters() {
    let emu = EmulatorProcess::start(&[]);
    let (_, product) = emu.api(
        "POST",
        "products",
        Some(json!({"code": "saas", "name": "SaaS"})),
    );

    let (status, body) = emu.api(
        "POST",
        "counters",
        Some(json!({"code": "seats", "name": "Seats"})),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("unit"), "{body}");

    let mut ids = Vec::new();
    for (code, product_id) in [
        ("a", Some(&product["id"])),
        ("b", None),
        ("c", Some(&product["id"])),
    ] {
        let mut body = json!({"code": code, "name": code, "unit": "seats"});
        if let Some(p) = product_id {
            body["productId"] = p.clone();
        }
        let (status, c) = emu.api("POST", "counters", Some(body));
        assert_eq!(status, 200, "{c}");
        ids.push(c["id"].clone());
    }
    // Codes are unique within the kind, and a reference must name a live entity.
    let (status, body) = emu.api(
        "POST",
        "counters",
        Some(json!({"code": "a", "name": "again", "unit": "seats"})),
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = emu.api(
        "POST",
        "counters",
        Some(json!({"code": "d", "name": "d", "unit": "seats",
                    "productId": "6a1f4c8e-2b7d-4e39-9c51-0d8e7f3a2b14"})),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("productId"), "{body}");

    let codes_of = |query: &str| -> Vec<String> {
        let (status, v) = emu.api("GET", &format!("counters?{query}"), None);
        assert_eq!(status, 200, "{v}");
        let mut codes: Vec<String> = v["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|c| c["code"].as_str().unwrap_or("").to_string())
            .collect();
        codes.sort();
        codes
    };
    assert_eq!(codes_of("codes=a,b"), ["a", "b"]);
    assert_eq!(
        codes_of(&format!(
            "productId={}",
            product["id"].as_str().unwrap_or("")
        )),
        ["a", "c"]
    );
    assert_eq!(
        codes_of(&format!("ids={}", ids[1].as_str().unwrap_or(""))),
        ["b"]
    );

    let (status, page) = emu.api("GET", "counters?pageSize=2", None);
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["data"].as_array().map(Vec::len), Some(2));
    assert!(
        page["nextToken"].as_str().is_some_and(|t| !t.is_empty()),
        "{page}"
    );
    let (status, body) = emu.api("GET", "counters?pageSize=201", None);
    assert_eq!(status, 400, "{body}");

    let (status, body) = emu.api(
        "DELETE",
        &format!("products/{}", product["id"].as_str().unwrap_or("")),
        None,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("counter"), "{body}");
}
