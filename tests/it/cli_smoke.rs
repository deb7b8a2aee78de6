//! The main job end to end: apply the example to an emulator process, then
//! plan shows no changes.

use crate::common;

use common::cli::{EmulatorProcess, copy_example, m3ter, text};

#[test]
fn apply_then_plan_shows_no_changes() {
    let emu = EmulatorProcess::start(&["--strict"]);
    let dir = tempfile::tempdir().expect("tempdir");
    copy_example(dir.path());
    let out = m3ter(
        dir.path(),
        &emu,
        &["apply", "--auto-approve", "--rate-limit", "0"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Apply complete! 0 imported, 14 added, 0 changed, 0 destroyed."),
        "{stdout}"
    );
    let out = m3ter(dir.path(), &emu, &["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("No changes. The org matches the desired state.")
    );
    assert_eq!(emu.list_all("products").len(), 1);
}

/// An entity deleted outside the tool and then removed from desired state
/// has nothing left to delete: the plan shows it as drift only, and apply
/// drops it from state so it stops showing up.
#[test]
fn apply_forgets_entities_gone_live_and_no_longer_desired() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let desired = copy_example(dir.path());
    let out = m3ter(
        dir.path(),
        &emu,
        &["apply", "--auto-approve", "--rate-limit", "0"],
    );
    assert!(out.status.success(), "{}", text(&out));

    // Out of band: delete Pluto's account plan, then the account.
    let plans = emu.list_all("accountplans");
    let accounts = emu.list_all("accounts");
    let pluto = accounts
        .iter()
        .find(|a| a["code"] == "pluto_llp_api_6")
        .expect("pluto");
    let pluto_plan = plans
        .iter()
        .find(|p| p["accountId"] == pluto["id"])
        .expect("its plan");
    for (kind, v) in [("accountplans", pluto_plan), ("accounts", pluto)] {
        let (status, body) = emu.api(
            "DELETE",
            &format!("{kind}/{}", v["id"].as_str().unwrap()),
            None,
        );
        assert_eq!(status, 200, "{body}");
    }
    // And remove them from desired state.
    let path = desired.join("accounts.yaml");
    let yaml = std::fs::read_to_string(&path).expect("accounts.yaml");
    std::fs::write(&path, without_items_mentioning(&yaml, "pluto_llp_")).expect("write");

    let out = m3ter(
        dir.path(),
        &emu,
        &["apply", "--auto-approve", "--rate-limit", "0"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("account.pluto_llp_api_6: forgotten"),
        "{stdout}"
    );
    let out = m3ter(dir.path(), &emu, &["state", "list"]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(!listed.contains("pluto"), "{listed}");
    assert_eq!(listed.lines().count(), 12, "{listed}");
    let out = m3ter(dir.path(), &emu, &["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// The YAML text without the list items (`  - ...` blocks) that mention
/// `needle`; section headers and other items are kept.
fn without_items_mentioning(yaml: &str, needle: &str) -> String {
    let mut out = Vec::new();
    let mut item: Vec<&str> = Vec::new();
    let flush = |item: &mut Vec<&str>, out: &mut Vec<String>| {
        if !item.iter().any(|l| l.contains(needle)) {
            out.extend(item.iter().map(|l| l.to_string()));
        }
        item.clear();
    };
    for line in yaml.lines() {
        let starts_item = line.starts_with("  - ");
        let continues_item = line.starts_with("    ") && !item.is_empty();
        if starts_item {
            flush(&mut item, &mut out);
            item.push(line);
        } else if continues_item {
            item.push(line);
        } else {
            flush(&mut item, &mut out);
            out.push(line.to_string());
        }
    }
    flush(&mut item, &mut out);
    out.join("\n") + "\n"
}
