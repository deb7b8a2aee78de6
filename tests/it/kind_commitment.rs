//! The `commitment` kind end to end (real binary, emulator process). The
//! API gives commitments no code, so the key is `<account>@<startDate>`:
//! create, no-op, update, a new start (a new key: delete, then create),
//! delete order, adopt by key, export round trip, and the overlap rule on
//! both sides.

use crate::common;
use crate::kind_contract::{
    BASE, apply, base_live, changes, create, export_round_trip, line_of, plan, summary,
    write_desired,
};
use common::cli::{EmulatorProcess, m3ter, stderr, text};
use serde_json::{Value, json};

/// A contract of acme and one commitment of acme on it.
fn commitment(start: &str, end: &str, amount: u32) -> String {
    format!(
        "contracts:\n  - code: msa\n    name: MSA\n    account: acme\n\
         \x20   startDate: 2025-01-01\n    endDate: 2027-01-01\n\
         commitments:\n  - account: acme\n    contract: msa\n    currency: USD\n\
         \x20   amount: {amount}\n    startDate: {start}\n    endDate: {end}\n\
         \x20   accountingProduct: saas\n    lineItemTypes: [USAGE]\n"
    )
}

#[test]
fn a_commitment_is_created_left_alone_updated_moved_and_deleted_before_its_account() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write_desired(
        d,
        &format!("{BASE}{}", commitment("2025-01-01", "2026-01-01", 1000)),
    );
    let (c, s) = plan(d, &emu, &[]);
    assert!(
        c.contains(&("commitment.acme@2025-01-01".into(), "create".into())),
        "{c:?}"
    );
    assert_eq!(s, summary(0, 5, 0, 0));
    let out = apply(d, &emu);
    assert!(line_of(&out, "contract.msa") < line_of(&out, "commitment.acme@2025-01-01"));
    let live = emu.list_all("commitments").remove(0);
    assert_eq!(
        (
            &live["accountId"],
            &live["contractId"],
            &live["accountingProductId"]
        ),
        (
            &emu.by_code("accounts", "acme")["id"],
            &emu.by_code("contracts", "msa")["id"],
            &emu.by_code("products", "saas")["id"]
        ),
        "{live}"
    );
    assert_eq!(live["amount"], json!(1000));

    let (c, s) = plan(d, &emu, &[]);
    assert_eq!((c, s), (vec![], summary(0, 0, 0, 0)));

    write_desired(
        d,
        &format!("{BASE}{}", commitment("2025-01-01", "2026-01-01", 1500)),
    );
    let (c, _) = plan(d, &emu, &[]);
    assert_eq!(c, changes(&[("commitment.acme@2025-01-01", "update")]));
    apply(d, &emu);
    let updated = emu.list_all("commitments").remove(0);
    assert_eq!(
        (&updated["id"], &updated["amount"], &updated["version"]),
        (&live["id"], &json!(1500), &json!(2))
    );

    // A new start is a new key. The new commitment overlaps the old one, so
    // it is created only after the old one is deleted.
    write_desired(
        d,
        &format!("{BASE}{}", commitment("2025-02-01", "2026-01-01", 1500)),
    );
    let (c, _) = plan(d, &emu, &[]);
    assert_eq!(
        c,
        changes(&[
            ("commitment.acme@2025-01-01", "delete"),
            ("commitment.acme@2025-02-01", "create"),
        ])
    );
    let out = apply(d, &emu);
    assert!(
        line_of(&out, "commitment.acme@2025-01-01") < line_of(&out, "commitment.acme@2025-02-01"),
        "{out}"
    );
    let all = emu.list_all("commitments");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["startDate"], json!("2025-02-01"));

    // Without its account and contract: the commitment goes first.
    write_desired(d, "products:\n  - code: saas\n    name: SaaS\n");
    let out = apply(d, &emu);
    let gone = line_of(&out, "commitment.acme@2025-02-01");
    assert!(gone < line_of(&out, "contract.msa"), "{out}");
    assert!(gone < line_of(&out, "account.acme"), "{out}");
    assert_eq!(emu.list_all("commitments"), Vec::<Value>::new());
}

#[test]
fn a_live_commitment_is_adopted_by_account_and_start_and_exported() {
    let emu = EmulatorProcess::start(&[]);
    let (product, acme, _) = base_live(&emu);
    let contract = create(
        &emu,
        "contracts",
        json!({"code": "msa", "name": "MSA", "accountId": acme["id"],
               "startDate": "2025-01-01", "endDate": "2027-01-01"}),
    );
    let live = create(
        &emu,
        "commitments",
        json!({"accountId": acme["id"], "contractId": contract["id"], "currency": "USD",
               "amount": 1000, "startDate": "2025-01-01", "endDate": "2026-01-01",
               "accountingProductId": product["id"], "lineItemTypes": ["USAGE"]}),
    );
    // The account and the contract are referenced: neither can go.
    // (The account's first dependent may be the contract: the message names one.)
    for (collection, id, names) in [
        ("accounts", &acme["id"], "references it"),
        ("contracts", &contract["id"], "commitment"),
    ] {
        let (status, err) = emu.api(
            "DELETE",
            &format!("{collection}/{}", id.as_str().unwrap_or("")),
            None,
        );
        assert_eq!(status, 400, "{err}");
        assert!(err.to_string().contains(names), "{err}");
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write_desired(
        d,
        &format!("{BASE}{}", commitment("2025-01-01", "2026-01-01", 1000)),
    );
    let (c, s) = plan(d, &emu, &[]);
    assert_eq!(s, summary(5, 0, 0, 0), "{c:?}");
    apply(d, &emu);
    assert_eq!(emu.list_all("commitments")[0]["id"], live["id"]);

    export_round_trip(
        d,
        &emu,
        "commitments.yaml",
        |yaml| {
            for key in ["account: acme", "contract: msa", "accountingProduct: saas"] {
                assert!(yaml.contains(key), "{key}: {yaml}");
            }
            assert!(!yaml.contains("Id:"), "{yaml}");
        },
        5,
    );
}

#[test]
fn overlapping_commitments_of_one_account_are_refused_offline_and_online() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let yaml = format!(
        "{BASE}commitments:\n\
         \x20 - account: acme\n    currency: USD\n    amount: 100\n\
         \x20   startDate: 2025-01-01\n    endDate: 2026-01-01\n\
         \x20 - account: acme\n    currency: USD\n    amount: 200\n\
         \x20   startDate: 2025-06-01\n    endDate: 2026-06-01\n\
         \x20 - account: globex\n    currency: USD\n    amount: 300\n\
         \x20   startDate: 2025-06-01\n    endDate: 2026-06-01\n"
    );
    write_desired(d, &yaml);
    let out = m3ter(d, &emu, &["plan", "--rate-limit", "0"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    // Each of the two is reported where it is written, naming the other
    // and where that one is.
    assert!(
        err.contains("desired-state/main.yaml:15:16: commitment: account `acme`")
            && err.contains("(that commitment is at desired-state/main.yaml:17:5)"),
        "{err}"
    );
    assert!(
        err.contains("desired-state/main.yaml:20:16: commitment: account `acme`")
            && err.contains("(that commitment is at desired-state/main.yaml:12:5)"),
        "{err}"
    );
    assert!(err.contains("commitment `acme@2025-06-01`"), "{err}");
    assert!(err.contains("commitment `acme@2025-01-01`"), "{err}");
    assert!(!err.contains("globex"), "{err}");
    // `plan` reads the org while it loads the YAML (see cli::commands::plan),
    // so the promise for it is "no change": no write of any kind. `validate`
    // makes no request at all.
    let writes: u64 = common::kind_flow::org_requests(&emu, |route| !route.starts_with("GET "));
    assert_eq!(writes, 0, "bad input is refused before any write: {err}");
    let before = common::kind_flow::org_requests(&emu, |_| true);
    let out = m3ter(d, &emu, &["validate"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("desired-state/main.yaml:15:16: commitment: account `acme`"),
        "{}",
        text(&out)
    );
    assert_eq!(
        common::kind_flow::org_requests(&emu, |_| true),
        before,
        "validate makes no request"
    );

    let (_, acme, _) = base_live(&emu);
    create(
        &emu,
        "commitments",
        json!({"accountId": acme["id"], "currency": "USD", "amount": 100,
               "startDate": "2025-01-01", "endDate": "2026-01-01"}),
    );
    let (status, body) = emu.api(
        "POST",
        "commitments",
        Some(
            json!({"accountId": acme["id"], "currency": "USD", "amount": 200,
                    "startDate": "2025-06-01", "endDate": "2026-06-01"}),
        ),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("overlaps"), "{body}");
}
