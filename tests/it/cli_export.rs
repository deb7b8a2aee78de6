//! `m3ter export` writes the live org as desired state that round-trips:
//! planning the export against the same org with a fresh state imports
//! every entity and changes nothing.

use crate::common;

use common::cli::{EmulatorProcess, copy_example, m3ter, text};

#[test]
fn export_round_trips_through_plan_as_imports_only() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    copy_example(dir.path());
    let out = m3ter(
        dir.path(),
        &emu,
        &["apply", "--auto-approve", "--rate-limit", "0"],
    );
    assert!(out.status.success(), "{}", text(&out));

    let out = m3ter(dir.path(), &emu, &["export", "--out", "exported"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Exported 14 entities to exported."));
    let pricings =
        std::fs::read_to_string(dir.path().join("exported/pricings.yaml")).expect("file");
    assert!(pricings.contains("plan: lambda_plan_api_6"), "{pricings}");
    assert!(!pricings.contains("planId"), "{pricings}");

    let out = m3ter(
        dir.path(),
        &emu,
        &[
            "plan",
            "-d",
            "exported",
            "--state",
            "state/fresh.json",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json plan");
    assert_eq!(
        plan["summary"],
        serde_json::json!({"import": 14, "add": 0, "change": 0, "destroy": 0}),
        "{plan}"
    );
}
