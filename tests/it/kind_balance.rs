//! The `balance` kind end to end (real binary, emulator process): create,
//! no-op, update, replace when it moves to another account, delete order,
//! adopt by code (balances have no `codes` filter: the account's are
//! listed), export round trip.

use crate::common;
use crate::kind_contract::{
    BASE, apply, base_live, changes, create, export_round_trip, line_of, plan, summary,
    write_desired,
};
use common::cli::EmulatorProcess;
use serde_json::{Value, json};

fn balance(name: &str, account: &str) -> String {
    format!(
        "contracts:\n  - code: msa\n    name: MSA\n    account: acme\n\
         \x20   startDate: 2025-01-01\n    endDate: 2027-01-01\n\
         balances:\n  - code: credit\n    name: {name}\n    account: {account}\n\
         \x20   currency: USD\n    startDate: 2025-01-01\n    endDate: 2026-01-01T00:00:00Z\n\
         \x20   rolloverAmount: 50\n    feesAccountingProduct: saas\n"
    )
}

#[test]
fn a_balance_is_created_left_alone_renamed_moved_and_deleted_before_its_account() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write_desired(d, &format!("{BASE}{}", balance("Credit", "acme")));
    let (c, s) = plan(d, &emu, &[]);
    assert!(
        c.contains(&("balance.credit".into(), "create".into())),
        "{c:?}"
    );
    assert_eq!(s, summary(0, 5, 0, 0));
    apply(d, &emu);
    let live = emu.by_code("balances", "credit");
    assert_eq!(
        (
            &live["accountId"],
            &live["feesAccountingProductId"],
            &live["startDate"],
            &live["amount"]
        ),
        (
            &emu.by_code("accounts", "acme")["id"],
            &emu.by_code("products", "saas")["id"],
            &json!("2025-01-01T00:00:00Z"),
            &json!(0)
        ),
        "{live}"
    );

    let (c, s) = plan(d, &emu, &[]);
    assert_eq!((c, s), (vec![], summary(0, 0, 0, 0)));

    write_desired(d, &format!("{BASE}{}", balance("Prepaid credit", "acme")));
    let (c, _) = plan(d, &emu, &[]);
    assert_eq!(c, changes(&[("balance.credit", "update")]));
    apply(d, &emu);
    let renamed = emu.by_code("balances", "credit");
    assert_eq!(
        (&renamed["id"], &renamed["name"], &renamed["version"]),
        (&live["id"], &json!("Prepaid credit"), &json!(2))
    );

    write_desired(d, &format!("{BASE}{}", balance("Prepaid credit", "globex")));
    let (c, _) = plan(d, &emu, &[]);
    assert_eq!(c, changes(&[("balance.credit", "replace")]));
    apply(d, &emu);
    let moved = emu.by_code("balances", "credit");
    assert_ne!(moved["id"], live["id"]);
    assert_eq!(moved["accountId"], emu.by_code("accounts", "globex")["id"]);

    write_desired(
        d,
        "products:\n  - code: saas\n    name: SaaS\n\
         accounts:\n  - code: acme\n    name: Acme\n    emailAddress: billing@acme.example\n",
    );
    let out = apply(d, &emu);
    let gone = line_of(&out, "balance.credit");
    assert!(gone < line_of(&out, "account.globex"), "{out}");
    assert_eq!(emu.list_all("balances"), Vec::<Value>::new());
}

#[test]
fn a_live_balance_is_adopted_exported_and_protects_its_contract() {
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
        "balances",
        json!({"code": "credit", "name": "Credit", "accountId": acme["id"], "currency": "USD",
               "startDate": "2025-01-01T00:00:00Z", "endDate": "2026-01-01T00:00:00Z",
               "rolloverAmount": 50, "feesAccountingProductId": product["id"],
               "contractId": contract["id"]}),
    );
    let (status, err) = emu.api(
        "DELETE",
        &format!("contracts/{}", contract["id"].as_str().unwrap_or("")),
        None,
    );
    assert_eq!(status, 400, "{err}");
    assert!(err.to_string().contains("balance"), "{err}");

    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let yaml = format!("{BASE}{}    contract: msa\n", balance("Credit", "acme"));
    write_desired(d, &yaml);
    let (c, s) = plan(d, &emu, &[]);
    assert_eq!(s, summary(5, 0, 0, 0), "{c:?}");
    apply(d, &emu);
    assert_eq!(emu.by_code("balances", "credit")["id"], live["id"]);

    export_round_trip(
        d,
        &emu,
        "balances.yaml",
        |yaml| {
            for key in [
                "account: acme",
                "contract: msa",
                "feesAccountingProduct: saas",
            ] {
                assert!(yaml.contains(key), "{key}: {yaml}");
            }
        },
        5,
    );
}
