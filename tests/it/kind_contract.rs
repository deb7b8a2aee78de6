//! The `contract` kind end to end (real binary, emulator process): create,
//! no-op, update, replace when it moves to another account, delete order
//! (before its account), adopt by code, export round trip. The helpers are
//! shared with the other account-level kinds' modules.

use std::path::Path;

use crate::common;
use common::cli::{EmulatorProcess, m3ter, stdout, text};
use common::kind_flow;
pub(crate) use common::kind_flow::{summary, write_desired};
use serde_json::{Value, json};

/// A product and two accounts: what the account-level kinds hang off.
pub(crate) const BASE: &str = "products:\n  - code: saas\n    name: SaaS\n\
     accounts:\n  - code: acme\n    name: Acme\n    emailAddress: billing@acme.example\n\
     \x20 - code: globex\n    name: Globex\n    emailAddress: billing@globex.example\n";

/// `m3ter plan --json ARGS` (exit 0 or 2); returns (address, action) per
/// change, sorted, and the summary.
pub(crate) fn plan(
    dir: &Path,
    emu: &EmulatorProcess,
    args: &[&str],
) -> (Vec<(String, String)>, Value) {
    let (mut changes, summary) = kind_flow::plan(dir, emu, args);
    changes.sort();
    (changes, summary)
}

/// `m3ter apply` one change at a time; returns its stdout (the progress
/// lines, in the order the changes ran).
pub(crate) fn apply(dir: &Path, emu: &EmulatorProcess) -> String {
    let out = m3ter(
        dir,
        emu,
        &[
            "apply",
            "--auto-approve",
            "--rate-limit",
            "0",
            "--parallelism",
            "1",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    stdout(&out)
}

/// The index in apply's output of the progress line that starts with `address:`.
pub(crate) fn line_of(out: &str, address: &str) -> usize {
    out.lines()
        .position(|l| l.starts_with(&format!("{address}: ")))
        .unwrap_or_else(|| panic!("no progress line for {address}:\n{out}"))
}

/// Sorted (address, action) pairs.
pub(crate) fn changes(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = list
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

/// `POST` to the emulator, which must accept it.
pub(crate) fn create(emu: &EmulatorProcess, collection: &str, body: Value) -> Value {
    let (status, v) = emu.api("POST", collection, Some(body));
    assert_eq!(status, 200, "{collection}: {v}");
    v
}

/// The live product and two accounts of [`BASE`], created through the API.
pub(crate) fn base_live(emu: &EmulatorProcess) -> (Value, Value, Value) {
    let product = create(emu, "products", json!({"code": "saas", "name": "SaaS"}));
    let acme = create(
        emu,
        "accounts",
        json!({"code": "acme", "name": "Acme", "emailAddress": "billing@acme.example"}),
    );
    let globex = create(
        emu,
        "accounts",
        json!({"code": "globex", "name": "Globex", "emailAddress": "billing@globex.example"}),
    );
    (product, acme, globex)
}

/// Exports the org, checks `file` of the export with `check`, then plans
/// the export into a fresh state: `imports` imports and nothing else.
pub(crate) fn export_round_trip(
    dir: &Path,
    emu: &EmulatorProcess,
    file: &str,
    check: impl Fn(&str),
    imports: u64,
) {
    let out = m3ter(dir, emu, &["export", "--out", "exported"]);
    assert!(out.status.success(), "{}", text(&out));
    let yaml = std::fs::read_to_string(dir.join("exported").join(file)).expect("exported file");
    check(&yaml);
    let (_, s) = plan(dir, emu, &["-d", "exported", "--state", "state/fresh.json"]);
    assert_eq!(s, summary(imports, 0, 0, 0), "{yaml}");
}

fn contract(name: &str, account: &str) -> String {
    format!(
        "contracts:\n  - code: msa\n    name: {name}\n    account: {account}\n\
         \x20   startDate: 2025-01-01\n    endDate: 2026-01-01\n"
    )
}

#[test]
fn a_contract_is_created_left_alone_renamed_moved_and_deleted_before_its_account() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write_desired(d, &format!("{BASE}{}", contract("MSA", "acme")));

    let (c, _) = plan(d, &emu, &[]);
    assert_eq!(
        c,
        changes(&[
            ("account.acme", "create"),
            ("account.globex", "create"),
            ("contract.msa", "create"),
            ("product.saas", "create"),
        ])
    );
    apply(d, &emu);
    let live = emu.by_code("contracts", "msa");
    let acme = emu.by_code("accounts", "acme");
    assert_eq!(
        (&live["accountId"], &live["startDate"], &live["endDate"]),
        (&acme["id"], &json!("2025-01-01"), &json!("2026-01-01")),
        "{live}"
    );

    let (c, s) = plan(d, &emu, &[]);
    assert_eq!((c, s), (vec![], summary(0, 0, 0, 0)));

    write_desired(
        d,
        &format!("{BASE}{}", contract("Master agreement", "acme")),
    );
    let (c, _) = plan(d, &emu, &[]);
    assert_eq!(c, changes(&[("contract.msa", "update")]));
    apply(d, &emu);
    let renamed = emu.by_code("contracts", "msa");
    assert_eq!(
        (&renamed["id"], &renamed["name"], &renamed["version"]),
        (&live["id"], &json!("Master agreement"), &json!(2))
    );

    // A contract cannot move to another account: a replace.
    write_desired(
        d,
        &format!("{BASE}{}", contract("Master agreement", "globex")),
    );
    let (c, _) = plan(d, &emu, &[]);
    assert_eq!(c, changes(&[("contract.msa", "replace")]));
    apply(d, &emu);
    let moved = emu.by_code("contracts", "msa");
    assert_ne!(moved["id"], live["id"]);
    assert_eq!(moved["accountId"], emu.by_code("accounts", "globex")["id"]);

    // The emulator refuses the move as an update too.
    let mut body = moved.clone();
    body["accountId"] = acme["id"].clone();
    let (status, err) = emu.api(
        "PUT",
        &format!("contracts/{}", moved["id"].as_str().unwrap_or("")),
        Some(body),
    );
    assert_eq!(status, 400, "{err}");
    assert!(err.to_string().contains("accountId"), "{err}");

    // Gone with its account: the contract is deleted first.
    write_desired(
        d,
        "products:\n  - code: saas\n    name: SaaS\n\
         accounts:\n  - code: acme\n    name: Acme\n    emailAddress: billing@acme.example\n",
    );
    let out = apply(d, &emu);
    assert!(
        line_of(&out, "contract.msa") < line_of(&out, "account.globex"),
        "{out}"
    );
    assert_eq!(emu.list_all("contracts"), Vec::<Value>::new());
}

#[test]
fn a_live_contract_is_adopted_exported_and_protects_its_account() {
    let emu = EmulatorProcess::start(&[]);
    let (_, acme, _) = base_live(&emu);
    let live = create(
        &emu,
        "contracts",
        json!({"code": "msa", "name": "MSA", "accountId": acme["id"],
               "startDate": "2025-01-01", "endDate": "2026-01-01"}),
    );

    let (status, err) = emu.api(
        "DELETE",
        &format!("accounts/{}", acme["id"].as_str().unwrap_or("")),
        None,
    );
    assert_eq!(status, 400, "{err}");
    assert!(err.to_string().contains("contract"), "{err}");

    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write_desired(d, &format!("{BASE}{}", contract("MSA", "acme")));
    let (c, s) = plan(d, &emu, &[]);
    assert_eq!(s, summary(4, 0, 0, 0), "{c:?}");
    assert!(
        c.contains(&("contract.msa".into(), "import".into())),
        "{c:?}"
    );
    apply(d, &emu);
    assert_eq!(emu.by_code("contracts", "msa")["id"], live["id"]);

    export_round_trip(
        d,
        &emu,
        "contracts.yaml",
        |yaml| {
            assert!(yaml.contains("account: acme"), "{yaml}");
            assert!(!yaml.contains("accountId"), "{yaml}");
        },
        4,
    );
}

#[test]
fn an_account_plan_links_a_contract_by_code() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let yaml = format!(
        "{BASE}{}\
         planTemplates:\n  - code: t\n    name: T\n    product: saas\n    currency: USD\n\
         \x20   standingCharge: 0\n    billFrequency: MONTHLY\n\
         plans:\n  - code: std\n    name: Std\n    planTemplate: t\n\
         accountPlans:\n  - account: acme\n    plan: std\n    startDate: 2025-01-01\n\
         \x20   contract: msa\n",
        contract("MSA", "acme")
    );
    write_desired(d, &yaml);
    let out = apply(d, &emu);
    assert!(line_of(&out, "contract.msa") < line_of(&out, "accountPlan.acme/std@2025-01-01"));
    let ap = &emu.list_all("accountplans")[0];
    assert_eq!(ap["contractId"], emu.by_code("contracts", "msa")["id"]);
    let (c, _) = plan(d, &emu, &[]);
    assert_eq!(c, vec![]);
}
