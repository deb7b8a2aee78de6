//! The `counterPricing` kind end to end: create on a plan and on a plan
//! template, no-op, update, replace when its start date (a key field)
//! changes, adopt, export, destroy order, and the owner rule offline.

use crate::common;
use common::cli::EmulatorProcess;
use common::kind_flow::{
    apply, changes, destroy, export_round_trip, plan, position, summary, validate_fails,
    write_desired,
};
use serde_json::{Value, json};

const BASE: &str = "\
products:
  - code: saas
    name: SaaS
counters:
  - code: seats
    name: Seats
    unit: seats
planTemplates:
  - code: std
    name: Standard
    product: saas
    currency: USD
    standingCharge: 0
    billFrequency: MONTHLY
plans:
  - code: pro
    name: Pro
    planTemplate: std
";

/// Two counter pricings of `seats`: on plan `pro` from `start` at
/// `price` a seat, and on the template from 2025-01-01.
fn desired(start: &str, price: u32) -> String {
    format!(
        "{BASE}counterPricings:
  - plan: pro
    counter: seats
    startDate: {start}
    proRateRunningTotal: true
    pricingBands:
      - lowerLimit: 0
        fixedPrice: 0
        unitPrice: {price}
  - planTemplate: std
    counter: seats
    startDate: 2025-01-01T00:00:00Z
    pricingBands:
      - lowerLimit: 0
        fixedPrice: 0
        unitPrice: 7
"
    )
}

const ON_PLAN: &str = "counterPricing.pro/seats@2025-01-01";
// A key with `:` is quoted in addresses, as a pricing's.
const ON_TEMPLATE: &str = "counterPricing[\"template:std/seats@2025-01-01\"]";

#[test]
fn counter_pricings_are_created_updated_replaced_and_destroyed() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    write_desired(dir.path(), &desired("2025-01-01T00:00:00Z", 5));
    let (c, s) = plan(dir.path(), &emu, &[]);
    assert_eq!(s, summary(0, 6, 0, 0), "{c:?}");
    assert!(position(&c, "counter.seats", "create") < position(&c, ON_PLAN, "create"));
    assert!(position(&c, "plan.pro", "create") < position(&c, ON_PLAN, "create"));
    assert!(position(&c, "planTemplate.std", "create") < position(&c, ON_TEMPLATE, "create"));
    apply(dir.path(), &emu);
    let counter = emu.by_code("counters", "seats");
    let pro = emu.by_code("plans", "pro");
    let live = emu.list_all("counterpricings");
    let on_plan = live
        .iter()
        .find(|p| p["planId"] == pro["id"])
        .expect("pricing on the plan")
        .clone();
    assert_eq!(
        (
            &on_plan["counterId"],
            &on_plan["proRateRunningTotal"],
            &on_plan["pricingBands"][0]["unitPrice"],
            &on_plan["cumulative"]
        ),
        (&counter["id"], &json!(true), &json!(5), &json!(true)),
        "{on_plan}"
    );

    let (c, s) = plan(dir.path(), &emu, &[]);
    assert_eq!((c, s), (vec![], summary(0, 0, 0, 0)));

    write_desired(dir.path(), &desired("2025-01-01T00:00:00Z", 6));
    let (c, _) = plan(dir.path(), &emu, &[]);
    assert_eq!(c, changes(&[(ON_PLAN, "update")]));
    apply(dir.path(), &emu);

    // A new start date is a new key: the old pricing goes, a new one comes.
    write_desired(dir.path(), &desired("2025-02-01T00:00:00Z", 6));
    let (c, _) = plan(dir.path(), &emu, &[]);
    let mut sorted = c.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        changes(&[
            ("counterPricing.pro/seats@2025-01-01", "delete"),
            ("counterPricing.pro/seats@2025-02-01", "create"),
        ])
    );
    apply(dir.path(), &emu);
    assert_eq!(emu.list_all("counterpricings").len(), 2);

    // The pricings go before the counter, plan and template they name (the
    // emulator refuses to orphan them).
    destroy(dir.path(), &emu);
    for collection in ["counterpricings", "counters", "plans", "plantemplates"] {
        assert_eq!(
            emu.list_all(collection),
            Vec::<Value>::new(),
            "{collection}"
        );
    }
}

#[test]
fn a_live_counter_pricing_is_adopted_and_exported() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    write_desired(dir.path(), &desired("2025-01-01T00:00:00Z", 5));
    apply(dir.path(), &emu);

    // A fresh state over the same org: everything is adopted by key.
    let (c, s) = plan(dir.path(), &emu, &["--state", "state/other.json"]);
    assert_eq!(s, summary(6, 0, 0, 0), "{c:?}");
    assert!(
        c.contains(&(ON_TEMPLATE.to_string(), "import".to_string())),
        "{c:?}"
    );

    let s = export_round_trip(dir.path(), &emu);
    assert_eq!(s, summary(6, 0, 0, 0));
    let yaml = std::fs::read_to_string(dir.path().join("exported/counterPricings.yaml"))
        .or_else(|_| std::fs::read_to_string(dir.path().join("exported/counterpricings.yaml")))
        .expect("exported counter pricings");
    assert!(
        yaml.contains("counter: seats") && yaml.contains("planTemplate: std"),
        "{yaml}"
    );
}

#[test]
fn a_counter_pricing_has_exactly_one_owner() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let both = desired("2025-01-01T00:00:00Z", 5).replacen(
        "  - plan: pro\n",
        "  - plan: pro\n    planTemplate: std\n",
        1,
    );
    write_desired(dir.path(), &both);
    let out = validate_fails(dir.path(), &emu);
    assert!(
        out.contains("main.yaml:") && out.contains("counterPricing") && out.contains("`plan`"),
        "{out}"
    );
    let neither =
        desired("2025-01-01T00:00:00Z", 5).replacen("  - plan: pro\n    counter", "  - counter", 1);
    write_desired(dir.path(), &neither);
    let out = validate_fails(dir.path(), &emu);
    assert!(
        out.contains("main.yaml:") && out.contains("`planTemplate`"),
        "{out}"
    );
}
