//! The main job end to end: apply the example to an emulator process, then
//! plan shows no changes.

mod common;

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
