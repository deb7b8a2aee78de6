//! The `counterAdjustment` kind end to end (real binary, emulator process),
//! keyed `<account>/<counter>@<date>`: create, no-op, update, a new date (a
//! new key: delete and create), delete order (before its account and
//! counter), adopt by key, export round trip.

use crate::common;
use crate::kind_contract::{
    BASE, apply, base_live, changes, create, export_round_trip, line_of, plan, summary,
    write_desired,
};
use common::cli::{EmulatorProcess, m3ter, stderr, text};
use serde_json::{Value, json};

const COUNTER: &str =
    "counters:\n  - code: seats\n    name: Seats\n    unit: seats\n    product: saas\n";

fn adjustment(date: &str, value: u32) -> String {
    format!(
        "{COUNTER}counterAdjustments:\n  - account: acme\n    counter: seats\n\
         \x20   date: {date}\n    value: {value}\n"
    )
}

#[test]
fn an_adjustment_is_created_left_alone_updated_redated_and_deleted_first() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write_desired(d, &format!("{BASE}{}", adjustment("2025-01-01", 10)));
    let (c, s) = plan(d, &emu, &[]);
    assert!(
        c.contains(&(
            "counterAdjustment.acme/seats@2025-01-01".into(),
            "create".into()
        )),
        "{c:?}"
    );
    assert_eq!(s, summary(0, 5, 0, 0));
    apply(d, &emu);
    let live = emu.list_all("counteradjustments").remove(0);
    assert_eq!(
        (
            &live["accountId"],
            &live["counterId"],
            &live["date"],
            &live["value"]
        ),
        (
            &emu.by_code("accounts", "acme")["id"],
            &emu.by_code("counters", "seats")["id"],
            &json!("2025-01-01"),
            &json!(10)
        ),
        "{live}"
    );

    let (c, s) = plan(d, &emu, &[]);
    assert_eq!((c, s), (vec![], summary(0, 0, 0, 0)));

    write_desired(d, &format!("{BASE}{}", adjustment("2025-01-01", 12)));
    let (c, _) = plan(d, &emu, &[]);
    assert_eq!(
        c,
        changes(&[("counterAdjustment.acme/seats@2025-01-01", "update")])
    );
    apply(d, &emu);
    let updated = emu.list_all("counteradjustments").remove(0);
    assert_eq!(
        (&updated["id"], &updated["value"], &updated["version"]),
        (&live["id"], &json!(12), &json!(2))
    );

    write_desired(d, &format!("{BASE}{}", adjustment("2025-02-01", 12)));
    let (c, _) = plan(d, &emu, &[]);
    assert_eq!(
        c,
        changes(&[
            ("counterAdjustment.acme/seats@2025-01-01", "delete"),
            ("counterAdjustment.acme/seats@2025-02-01", "create"),
        ])
    );
    apply(d, &emu);
    let all = emu.list_all("counteradjustments");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["date"], json!("2025-02-01"));

    // Without the account and the counter: the adjustment goes first.
    write_desired(d, "products:\n  - code: saas\n    name: SaaS\n");
    let out = apply(d, &emu);
    let gone = line_of(&out, "counterAdjustment.acme/seats@2025-02-01");
    assert!(gone < line_of(&out, "counter.seats"), "{out}");
    assert!(gone < line_of(&out, "account.acme"), "{out}");
    assert_eq!(emu.list_all("counteradjustments"), Vec::<Value>::new());
}

#[test]
fn a_live_adjustment_is_adopted_by_key_and_exported() {
    let emu = EmulatorProcess::start(&[]);
    let (product, acme, _) = base_live(&emu);
    let counter = create(
        &emu,
        "counters",
        json!({"code": "seats", "name": "Seats", "unit": "seats", "productId": product["id"]}),
    );
    let live = create(
        &emu,
        "counteradjustments",
        json!({"accountId": acme["id"], "counterId": counter["id"], "date": "2025-01-01",
               "value": 10}),
    );
    let (status, err) = emu.api(
        "DELETE",
        &format!("counters/{}", counter["id"].as_str().unwrap_or("")),
        None,
    );
    assert_eq!(status, 400, "{err}");
    assert!(err.to_string().contains("counterAdjustment"), "{err}");

    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write_desired(d, &format!("{BASE}{}", adjustment("2025-01-01", 10)));
    let (c, s) = plan(d, &emu, &[]);
    assert_eq!(s, summary(5, 0, 0, 0), "{c:?}");
    apply(d, &emu);
    assert_eq!(emu.list_all("counteradjustments")[0]["id"], live["id"]);

    export_round_trip(
        d,
        &emu,
        "counterAdjustments.yaml",
        |yaml| {
            for key in ["account: acme", "counter: seats", "date: \"2025-01-01\""] {
                assert!(yaml.contains(key), "{key}: {yaml}");
            }
        },
        5,
    );
}

#[test]
fn a_date_time_is_not_an_adjustment_date() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write_desired(
        d,
        &format!("{BASE}{}", adjustment("2025-01-01T00:00:00Z", 10)),
    );
    let out = m3ter(d, &emu, &["validate"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("main.yaml:"), "{err}");
    assert!(
        err.contains("`date` must be a date like 2024-12-01"),
        "{err}"
    );
}
