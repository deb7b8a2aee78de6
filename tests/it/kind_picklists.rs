//! The four picklists (`currencies`, `transactionTypes`, `creditReasons`,
//! `debitReasons`) end to end: collections under `/picklists/…`, keyed by
//! code; and currency fields as references by code (a plan template's
//! `currency` depends on the declared currency it names).

use crate::common;
use common::cli::EmulatorProcess;
use common::kind_flow::{
    apply, changes, destroy, export_round_trip, plan, position, summary, validate_fails,
    write_desired,
};
use serde_json::{Value, json};

const PICKLISTS: &str = "\
currencies:
  - code: USD
    name: US Dollar
    maxDecimalPlaces: 2
    roundingMode: HALF_UP
  - code: GBP
    name: Pound sterling
transactionTypes:
  - code: usage_credit
    name: Usage credit
creditReasons:
  - code: goodwill
    name: Goodwill
debitReasons:
  - code: late_fee
    name: Late fee
";

/// A product and a plan template billing in `currency`.
fn template(currency: &str) -> String {
    format!(
        "products:\n  - code: saas\n    name: SaaS\n\
         planTemplates:\n  - code: std\n    name: Standard\n    product: saas\n    \
         currency: {currency}\n    standingCharge: 0\n    billFrequency: MONTHLY\n"
    )
}

#[test]
fn picklists_are_created_left_alone_updated_replaced_and_destroyed() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    write_desired(dir.path(), &format!("{PICKLISTS}{}", template("USD")));

    let (c, s) = plan(dir.path(), &emu, &[]);
    assert_eq!(s, summary(0, 7, 0, 0), "{c:?}");
    // The template's currency is a dependency: created first.
    assert!(
        position(&c, "currency.USD", "create") < position(&c, "planTemplate.std", "create"),
        "{c:?}"
    );
    apply(dir.path(), &emu);
    let usd = emu.by_code("picklists/currency", "USD");
    assert_eq!(
        (&usd["name"], &usd["maxDecimalPlaces"], &usd["roundingMode"]),
        (&json!("US Dollar"), &json!(2), &json!("HALF_UP")),
        "{usd}"
    );
    assert_eq!(emu.by_code("plantemplates", "std")["currency"], "USD");
    for (collection, code) in [
        ("picklists/transactiontypes", "usage_credit"),
        ("picklists/creditreasons", "goodwill"),
        ("picklists/debitreasons", "late_fee"),
    ] {
        assert_eq!(emu.by_code(collection, code)["version"], 1);
    }

    let (c, s) = plan(dir.path(), &emu, &[]);
    assert_eq!((c, s), (vec![], summary(0, 0, 0, 0)));

    // A rename and an archive are updates; a new code is another entry.
    let edited = PICKLISTS
        .replace("name: US Dollar", "name: United States dollar")
        .replace(
            "name: Usage credit\n",
            "name: Usage credit\n    archived: true\n",
        )
        .replace("code: late_fee", "code: late_charge");
    write_desired(dir.path(), &format!("{edited}{}", template("USD")));
    let (c, _) = plan(dir.path(), &emu, &[]);
    let mut sorted = c.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        changes(&[
            ("currency.USD", "update"),
            ("debitReason.late_charge", "create"),
            ("debitReason.late_fee", "delete"),
            ("transactionType.usage_credit", "update"),
        ])
    );
    apply(dir.path(), &emu);
    let renamed = emu.by_code("picklists/currency", "USD");
    assert_eq!(
        (&renamed["id"], &renamed["name"], &renamed["version"]),
        (&usd["id"], &json!("United States dollar"), &json!(2))
    );
    assert_eq!(
        emu.by_code("picklists/transactiontypes", "usage_credit")["archived"],
        true
    );
    let debit: Vec<Value> = emu.list_all("picklists/debitreasons");
    assert_eq!(debit.len(), 1);
    assert_eq!(debit[0]["code"], "late_charge");

    // The template moves to GBP: an update, and USD can go.
    let without_usd = edited.replace(
        "  - code: USD\n    name: United States dollar\n    maxDecimalPlaces: 2\n    roundingMode: HALF_UP\n",
        "",
    );
    write_desired(dir.path(), &format!("{without_usd}{}", template("GBP")));
    let (c, _) = plan(dir.path(), &emu, &[]);
    assert_eq!(
        c,
        changes(&[("planTemplate.std", "update"), ("currency.USD", "delete")]),
        "the template stops using USD before USD is deleted"
    );
    apply(dir.path(), &emu);

    // Destroy deletes the template before the currency it names (the
    // emulator refuses to delete a currency in use).
    destroy(dir.path(), &emu);
    for collection in [
        "picklists/currency",
        "picklists/transactiontypes",
        "picklists/creditreasons",
        "picklists/debitreasons",
        "plantemplates",
    ] {
        assert_eq!(
            emu.list_all(collection),
            Vec::<Value>::new(),
            "{collection}"
        );
    }
}

#[test]
fn a_currency_field_names_a_declared_currency_once_there_are_any() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    // Line 24, column 15 of main.yaml: the template's `currency` value.
    write_desired(dir.path(), &format!("{PICKLISTS}{}", template("USX")));
    let out = validate_fails(dir.path(), &emu);
    assert!(
        out.contains("main.yaml:24:15")
            && out
                .contains("\"USX\" is not a currency of the org's picklist (did you mean `USD`?)")
            && out.contains("the currencies are GBP, USD"),
        "{out}"
    );

    // With no `currencies` declared, the picklist is managed elsewhere:
    // any ISO code is fine, and other codes are not.
    write_desired(dir.path(), &template("JPY"));
    let (_, s) = plan(dir.path(), &emu, &[]);
    assert_eq!(s, summary(0, 2, 0, 0));
    write_desired(dir.path(), &template("usd"));
    let out = validate_fails(dir.path(), &emu);
    assert!(
        out.contains("main.yaml:8:15") && out.contains("write it in capitals: `USD`"),
        "{out}"
    );
}

#[test]
fn live_picklists_are_adopted_and_exported() {
    let emu = EmulatorProcess::start(&[]);
    for (collection, body) in [
        (
            "picklists/currency",
            json!({"code": "USD", "name": "US Dollar", "maxDecimalPlaces": 2, "roundingMode": "HALF_UP"}),
        ),
        (
            "picklists/currency",
            json!({"code": "GBP", "name": "Pound sterling"}),
        ),
        (
            "picklists/transactiontypes",
            json!({"code": "usage_credit", "name": "Usage credit"}),
        ),
        (
            "picklists/creditreasons",
            json!({"code": "goodwill", "name": "Goodwill"}),
        ),
        (
            "picklists/debitreasons",
            json!({"code": "late_fee", "name": "Late fee"}),
        ),
    ] {
        let (status, v) = emu.api("POST", collection, Some(body));
        assert_eq!(status, 200, "{v}");
    }

    let dir = tempfile::tempdir().expect("tempdir");
    write_desired(dir.path(), PICKLISTS);
    let (c, s) = plan(dir.path(), &emu, &[]);
    assert_eq!(s, summary(5, 0, 0, 0), "{c:?}");
    apply(dir.path(), &emu);
    assert_eq!(emu.list_all("picklists/currency").len(), 2);

    let s = export_round_trip(dir.path(), &emu);
    assert_eq!(s, summary(5, 0, 0, 0));
    let yaml =
        std::fs::read_to_string(dir.path().join("exported/currencies.yaml")).expect("exported");
    assert!(
        yaml.contains("code: USD") && yaml.contains("roundingMode: HALF_UP"),
        "{yaml}"
    );
}

/// The emulator's picklist collections: routes under `/picklists/`, the
/// `archived` and `codes` filters, page size, unique codes, and currency
/// codes checked against the picklist once it has entries.
#[test]
fn the_emulator_serves_picklists() {
    let emu = EmulatorProcess::start(&[]);
    let post = |collection: &str, body: Value| {
        let (status, v) = emu.api("POST", collection, Some(body));
        assert_eq!(status, 200, "{v}");
        v
    };
    let old = post(
        "picklists/creditreasons",
        json!({"code": "old", "name": "Old", "archived": true}),
    );
    post(
        "picklists/creditreasons",
        json!({"code": "goodwill", "name": "Goodwill"}),
    );
    let codes_of = |query: &str| -> Vec<String> {
        let (status, v) = emu.api("GET", &format!("picklists/creditreasons?{query}"), None);
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
    assert_eq!(codes_of("archived=true"), ["old"]);
    assert_eq!(codes_of("archived=false"), ["goodwill"]);
    assert_eq!(codes_of("codes=old,goodwill"), ["goodwill", "old"]);
    let (status, body) = emu.api("GET", "picklists/creditreasons?archived=maybe", None);
    assert_eq!(status, 400, "{body}");
    let (status, body) = emu.api("GET", "picklists/creditreasons?pageSize=101", None);
    assert_eq!(status, 400, "{body}");
    let id = old["id"].as_str().unwrap_or("");
    let (status, one) = emu.api("GET", &format!("picklists/creditreasons/{id}"), None);
    assert_eq!((status, &one["code"]), (200, &json!("old")), "{one}");
    let (status, body) = emu.api(
        "POST",
        "picklists/creditreasons",
        Some(json!({"code": "old", "name": "Again"})),
    );
    assert_eq!(status, 400, "{body}");
    // Picklist codes are identifier codes.
    let (status, body) = emu.api(
        "POST",
        "picklists/debitreasons",
        Some(json!({"code": "late fee", "name": "Late"})),
    );
    assert_eq!(status, 400, "{body}");

    // An empty currency picklist: any ISO code. Once it has entries, only
    // theirs, and an entry in use cannot be deleted.
    let (_, product) = emu.api(
        "POST",
        "products",
        Some(json!({"code": "saas", "name": "SaaS"})),
    );
    let template = |code: &str, currency: &str| {
        json!({"code": code, "name": code, "productId": product["id"], "currency": currency,
               "standingCharge": 0, "billFrequency": "MONTHLY"})
    };
    post("plantemplates", template("a", "JPY"));
    let usd = post(
        "picklists/currency",
        json!({"code": "USD", "name": "US Dollar"}),
    );
    let (status, body) = emu.api("POST", "plantemplates", Some(template("b", "JPY")));
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_string().contains("the currencies are USD"),
        "{body}"
    );
    post("plantemplates", template("c", "USD"));
    let usd_id = usd["id"].as_str().unwrap_or("");
    let (status, body) = emu.api("DELETE", &format!("picklists/currency/{usd_id}"), None);
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("planTemplate"), "{body}");
}
