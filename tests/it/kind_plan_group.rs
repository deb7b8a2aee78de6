//! `planGroups` and `planGroupLinks` end to end, with an account plan on a
//! plan group: create, no-op, update, replace (a bespoke group's account is
//! immutable), a link moved to another plan, adopt, export, destroy order,
//! and the link currency rule offline and online.

use crate::common;
use common::cli::EmulatorProcess;
use common::kind_flow::{
    apply, changes, destroy, export_round_trip, plan, position, summary, validate_fails,
    write_desired,
};
use serde_json::{Value, json};

/// Two plans on a USD template (`pro`, `team`), one on a GBP one (`uk`),
/// an account.
const BASE: &str = "\
products:
  - code: saas
    name: SaaS
planTemplates:
  - code: std
    name: Standard
    product: saas
    currency: USD
    standingCharge: 0
    billFrequency: MONTHLY
  - code: std_uk
    name: Standard UK
    product: saas
    currency: GBP
    standingCharge: 0
    billFrequency: MONTHLY
plans:
  - code: pro
    name: Pro
    planTemplate: std
  - code: team
    name: Team
    planTemplate: std
  - code: uk
    name: UK
    planTemplate: std_uk
accounts:
  - code: acme
    name: Acme
    emailAddress: billing@acme.test
";

/// A USD plan group with `minimum` spend linking `plan`, attached to acme.
fn desired(minimum: u32, plan: &str, extra: &str) -> String {
    format!(
        "{BASE}planGroups:
  - code: bundle
    name: Bundle
    currency: USD
    minimumSpend: {minimum}
    minimumSpendDescription: Bundle minimum
{extra}planGroupLinks:
  - planGroup: bundle
    plan: {plan}
accountPlans:
  - account: acme
    planGroup: bundle
    startDate: 2025-01-01T00:00:00Z
"
    )
}

#[test]
fn plan_groups_and_links_are_created_updated_replaced_and_destroyed() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    write_desired(dir.path(), &desired(100, "pro", ""));
    let (c, s) = plan(dir.path(), &emu, &[]);
    assert_eq!(s, summary(0, 10, 0, 0), "{c:?}");
    let link = "planGroupLink.bundle/pro";
    let ap = "accountPlan.acme/bundle@2025-01-01";
    assert!(position(&c, "planGroup.bundle", "create") < position(&c, link, "create"));
    assert!(position(&c, "plan.pro", "create") < position(&c, link, "create"));
    assert!(position(&c, "planGroup.bundle", "create") < position(&c, ap, "create"));
    apply(dir.path(), &emu);
    let group = emu.by_code("plangroups", "bundle");
    let pro = emu.by_code("plans", "pro");
    assert_eq!(
        (&group["currency"], &group["minimumSpend"]),
        (&json!("USD"), &json!(100)),
        "{group}"
    );
    let links = emu.list_all("plangrouplinks");
    assert_eq!(
        (links.len(), &links[0]["planGroupId"], &links[0]["planId"]),
        (1, &group["id"], &pro["id"])
    );
    let aps = emu.list_all("accountplans");
    assert_eq!(aps[0]["planGroupId"], group["id"]);

    let (c, s) = plan(dir.path(), &emu, &[]);
    assert_eq!((c, s), (vec![], summary(0, 0, 0, 0)));

    write_desired(dir.path(), &desired(150, "pro", ""));
    let (c, _) = plan(dir.path(), &emu, &[]);
    assert_eq!(c, changes(&[("planGroup.bundle", "update")]));
    apply(dir.path(), &emu);
    assert_eq!(emu.by_code("plangroups", "bundle")["minimumSpend"], 150);

    // The link's plan is its key: another plan is another link.
    write_desired(dir.path(), &desired(150, "team", ""));
    let (c, _) = plan(dir.path(), &emu, &[]);
    let mut sorted = c.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        changes(&[
            ("planGroupLink.bundle/pro", "delete"),
            ("planGroupLink.bundle/team", "create"),
        ])
    );
    apply(dir.path(), &emu);

    // A bespoke group cannot move to an account: a replace, and its
    // dependents (the link, the account plan) are replaced with it.
    write_desired(dir.path(), &desired(150, "team", "    account: acme\n"));
    let (c, _) = plan(dir.path(), &emu, &[]);
    assert!(
        c.contains(&("planGroup.bundle".into(), "replace".into())),
        "{c:?}"
    );
    apply(dir.path(), &emu);
    let bespoke = emu.by_code("plangroups", "bundle");
    assert_ne!(bespoke["id"], group["id"]);
    assert_eq!(bespoke["accountId"], emu.by_code("accounts", "acme")["id"]);

    // Links and account plans go before the group and plans they name.
    destroy(dir.path(), &emu);
    for collection in ["accountplans", "plangrouplinks", "plangroups", "plans"] {
        assert_eq!(
            emu.list_all(collection),
            Vec::<Value>::new(),
            "{collection}"
        );
    }
}

#[test]
fn live_plan_groups_are_adopted_and_exported() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    write_desired(dir.path(), &desired(100, "pro", ""));
    apply(dir.path(), &emu);
    let (c, s) = plan(dir.path(), &emu, &["--state", "state/other.json"]);
    assert_eq!(s, summary(10, 0, 0, 0), "{c:?}");
    let s = export_round_trip(dir.path(), &emu);
    assert_eq!(s, summary(10, 0, 0, 0));
}

#[test]
fn a_link_to_a_plan_of_another_currency_is_refused() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    write_desired(dir.path(), &desired(100, "uk", ""));
    let out = validate_fails(dir.path(), &emu);
    // Line 39, column 11: the link's `plan` value.
    assert!(
        out.contains("main.yaml:39:11")
            && out.contains("plan `uk` bills in GBP")
            && out.contains("plan group `bundle` is in USD"),
        "{out}"
    );

    // Online, the emulator refuses the same link.
    write_desired(dir.path(), &desired(100, "pro", ""));
    apply(dir.path(), &emu);
    let group = emu.by_code("plangroups", "bundle");
    let uk = emu.by_code("plans", "uk");
    let (status, body) = emu.api(
        "POST",
        "plangrouplinks",
        Some(json!({"planGroupId": group["id"], "planId": uk["id"]})),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("bills in GBP"), "{body}");
    let (status, body) = emu.api(
        "GET",
        &format!(
            "plangrouplinks?planGroup={}",
            group["id"].as_str().unwrap_or("")
        ),
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"].as_array().map(Vec::len), Some(1), "{body}");
}
