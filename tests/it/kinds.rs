//! The kind table as the outside sees it: the SDK suite lists the table's
//! kinds, and identity derived from the table keys a live entity the way
//! the loader keys the desired one.

use std::path::Path;

use crate::common;
use common::cli::{EmulatorProcess, m3ter, text};
use m3ter_api::Kind;
use serde_json::{Value, json};

/// `compoundAggregation` → `compound_aggregation` (the SDK's spelling).
fn snake(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The SDK suite keeps its own list of kinds (Python); it must be the
/// table's, in the table's order (creates run in it, deletes in reverse).
#[test]
fn the_sdk_suite_lists_the_kinds_of_the_table() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/builders.py");
    let src = std::fs::read_to_string(&path).expect("builders.py");
    let list = src
        .split("\nKINDS = [")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .unwrap_or_else(|| panic!("no `KINDS = [...]` in {}", path.display()));
    let sdk: Vec<&str> = list
        .split(',')
        .map(|s| s.trim().trim_matches('"'))
        .filter(|s| !s.is_empty())
        .collect();
    let table: Vec<String> = Kind::ALL.iter().map(|k| snake(k.name())).collect();
    assert_eq!(sdk, table, "update KINDS in {}", path.display());
}

/// A live account plan on a plan group has the key the loader gives the
/// desired one, `<account>/<planGroup code>@<date>`, so the plan adopts it
/// (and the plan group) instead of creating second ones.
#[test]
fn a_live_account_plan_on_a_plan_group_is_imported_by_its_key() {
    let emu = EmulatorProcess::start(&[]);
    let (status, account) = emu.api(
        "POST",
        "accounts",
        Some(json!({"code": "acme", "name": "Acme", "emailAddress": "billing@acme.test"})),
    );
    assert_eq!(status, 200, "{account}");
    let (status, group) = emu.api(
        "POST",
        "plangroups",
        Some(json!({"code": "bundle", "name": "Bundle", "currency": "USD"})),
    );
    assert_eq!(status, 200, "{group}");
    let (status, ap) = emu.api(
        "POST",
        "accountplans",
        Some(
            json!({"accountId": account["id"], "planGroupId": group["id"],
                    "startDate": "2025-01-01T00:00:00Z"}),
        ),
    );
    assert_eq!(status, 200, "{ap}");

    let dir = tempfile::tempdir().expect("tempdir");
    let desired = dir.path().join("desired-state");
    std::fs::create_dir_all(&desired).expect("mkdir");
    std::fs::write(
        desired.join("main.yaml"),
        "accounts:\n  - code: acme\n    name: Acme\n    emailAddress: billing@acme.test\n\
         planGroups:\n  - code: bundle\n    name: Bundle\n    currency: USD\n\
         accountPlans:\n  - account: acme\n    planGroup: bundle\n    startDate: 2025-01-01T00:00:00Z\n",
    )
    .expect("write desired state");

    let out = m3ter(dir.path(), &emu, &["plan", "--json", "--rate-limit", "0"]);
    assert!(matches!(out.status.code(), Some(0 | 2)), "{}", text(&out));
    let plan: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    let actions: Vec<(&str, &str)> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["address"].as_str().unwrap_or(""),
                c["action"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("planGroup.bundle", "import"),
            ("account.acme", "import"),
            ("accountPlan.acme/bundle@2025-01-01", "import")
        ],
        "{}",
        text(&out)
    );
    let ids: Vec<&str> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    let id = |v: &Value| v["id"].as_str().unwrap_or("").to_owned();
    assert_eq!(ids, [id(&group), id(&account), id(&ap)]);
}
