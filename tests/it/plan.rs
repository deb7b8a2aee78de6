//! Planner ladder (`shared/code-we-admire.md` §2): the no-change case first,
//! then one test per action, then one per comparison rule, each on small
//! hand-made desired / state / live fixtures, with the rendered plan
//! snapshotted by insta.

use std::collections::BTreeSet;

use m3ter_api::Kind;
use m3ter_reconcile::address::Address;
use m3ter_reconcile::desired::DesiredEntity;
use m3ter_reconcile::plan::{
    Action, Forget, Phase, Plan, PlanError, PlanOptions, Reason, Summary, put_body, render,
};
use serde_json::{Value, json};

use crate::common::world::{World, addr, obj};

fn text(p: &Plan) -> String {
    render::human(p, false)
}

fn actions(p: &Plan) -> Vec<(String, Action)> {
    p.changes
        .iter()
        .map(|c| (c.address.to_string(), c.action))
        .collect()
}

fn steps(p: &Plan) -> Vec<String> {
    p.steps
        .iter()
        .map(|s| {
            format!(
                "{:?} {} after {:?}",
                s.phase, p.changes[s.change].address, s.wait_for
            )
        })
        .collect()
}

fn summary(import: usize, add: usize, change: usize, destroy: usize) -> Summary {
    Summary {
        import,
        add,
        change,
        destroy,
    }
}

// ---- 1. No changes ---------------------------------------------------------

#[test]
fn in_sync_org_plans_nothing() {
    let w = World::billing();
    let p = w.plan();
    assert_eq!(text(&p), "No changes. The org matches the desired state.\n");
    assert!(!p.has_changes());
    assert_eq!(p.summary(), summary(0, 0, 0, 0));
    assert!(p.steps.is_empty() && p.drift.is_empty() && p.warnings.is_empty());
    let doc = render::json(&p);
    assert_eq!(doc["changes"], json!([]));
    assert_eq!(doc["formatVersion"], json!(1));
}

// ---- 2. One test per action --------------------------------------------------

#[test]
fn create_of_new_entities_in_dependency_order() {
    let mut w = World::basic();
    w.want(
        "product.aws_lambda_api_6",
        json!({"code": "aws_lambda_api_6", "name": "AWS Lambda API 6"}),
        &[],
    );
    w.want(
        "meter.lambda",
        json!({"code": "lambda", "name": "Lambda",
               "dataFields": [{"category": "MEASURE", "code": "ms", "name": "Duration"}]}),
        &[("productId", "product.aws_lambda_api_6")],
    );
    let p = w.plan();
    assert_eq!(p.summary(), summary(0, 2, 0, 0));
    assert!(p.has_changes());
    assert_eq!(
        steps(&p),
        [
            "Write product.aws_lambda_api_6 after []",
            "Write meter.lambda after [0]"
        ]
    );
    insta::assert_snapshot!("create", text(&p));
}

#[test]
fn update_in_place_diffs_fields() {
    let mut w = World::basic();
    w.want(
        "meter.m",
        json!({"code": "m", "name": "M2",
        "dataFields": [{"category": "MEASURE", "code": "q", "name": "Q", "unit": "s"}],
        "derivedFields": [{"category": "MEASURE", "code": "q2", "name": "Q2", "unit": "s",
                           "calculation": "q*2"}]}),
        &[("productId", "product.p")],
    );
    let p = w.plan();
    assert_eq!(actions(&p), [("meter.m".to_string(), Action::Update)]);
    assert_eq!(p.changes[0].version, Some(1));
    assert_eq!(p.changes[0].id.as_deref(), Some("meter-1"));
    insta::assert_snapshot!("update", text(&p));
}

#[test]
fn multi_line_strings_are_diffed_line_by_line() {
    let mut w = World::basic();
    w.synced(
        "compoundAggregation.c",
        "cagg-1",
        json!({"code": "c", "name": "C", "rounding": "NONE", "quantityPerUnit": 1, "unit": "u",
               "calculation": "a\n+ b\n+ c"}),
        &[],
    );
    w.want(
        "compoundAggregation.c",
        json!({"code": "c", "name": "C", "rounding": "NONE", "quantityPerUnit": 1, "unit": "u",
               "calculation": "a\n+ b2\n+ c"}),
        &[],
    );
    insta::assert_snapshot!("multi_line", text(&w.plan()));
}

#[test]
fn changing_a_bespoke_plans_account_replaces_it_and_its_pricings_and_account_plans() {
    let mut w = World::billing();
    w.synced(
        "account.b",
        "acc-2",
        json!({"code": "b", "name": "B", "emailAddress": "b@example.com"}),
        &[],
    );
    // plan.x becomes bespoke for account b: accountId is immutable.
    w.want(
        "plan.x",
        json!({"code": "x", "name": "X"}),
        &[
            ("planTemplateId", "planTemplate.t"),
            ("accountId", "account.b"),
        ],
    );
    // Live plan.x is bespoke for account a.
    w.live_mut(Kind::Plan, "plan-1")
        .insert("accountId".into(), json!("acc-1"));
    let p = w.plan();
    assert_eq!(
        actions(&p),
        [
            ("plan.x".to_string(), Action::Replace),
            ("pricing.x/q_sum@2024-12-01".to_string(), Action::Replace),
            ("accountPlan.a/x@2024-12-01".to_string(), Action::Replace),
        ]
    );
    assert_eq!(p.summary(), summary(0, 3, 0, 3));
    // Dependents' DELETEs first, then the plan's DELETE, its POST, theirs.
    assert_eq!(
        steps(&p),
        [
            "Delete pricing.x/q_sum@2024-12-01 after []",
            "Delete accountPlan.a/x@2024-12-01 after []",
            "Delete plan.x after [0, 1]",
            "Write plan.x after [2]",
            "Write pricing.x/q_sum@2024-12-01 after [0, 3]",
            "Write accountPlan.a/x@2024-12-01 after [1, 3]",
        ]
    );
    insta::assert_snapshot!("replace", text(&p));
}

#[test]
fn prevent_destroy_refuses_a_replace() {
    let mut w = World::billing();
    w.want(
        "plan.x",
        json!({"code": "x", "name": "X"}),
        &[
            ("planTemplateId", "planTemplate.t"),
            ("accountId", "account.a"),
        ],
    )
    .lifecycle
    .prevent_destroy = true;
    w.live_mut(Kind::Plan, "plan-1")
        .insert("accountId".into(), json!("acc-other"));
    let err = w.plan_with(&PlanOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "plan.x has `lifecycle.preventDestroy: true` but this plan would replace it; remove the flag first if that is intended"
    );
}

#[test]
fn removed_entities_are_deleted_and_adopted_ones_say_so() {
    let mut w = World::basic();
    w.record(
        "product.old",
        "prod-9",
        json!({"code": "old", "name": "Old"}),
        &[],
        true,
    );
    w.live(
        Kind::Product,
        "prod-9",
        4,
        json!({"code": "old", "name": "Old"}),
    );
    // An unmanaged live entity is never touched.
    w.live(
        Kind::Product,
        "prod-x",
        1,
        json!({"code": "other", "name": "Other"}),
    );
    let p = w.plan();
    assert_eq!(actions(&p), [("product.old".to_string(), Action::Delete)]);
    assert_eq!(p.changes[0].version, Some(4));
    assert!(p.changes[0].adopted);
    insta::assert_snapshot!("delete_adopted", text(&p));
}

#[test]
fn matching_live_entity_is_imported_not_duplicated() {
    let mut w = World::basic();
    w.want("product.q", json!({"code": "q", "name": "Q"}), &[]);
    w.live(
        Kind::Product,
        "prod-7",
        2,
        json!({"code": "q", "name": "Q"}),
    );
    // The meter on the imported product compares against its live id.
    w.want(
        "meter.n",
        json!({"code": "n", "name": "N", "dataFields": [{"category": "WHO", "code": "w", "name": "W"}]}),
        &[("productId", "product.q")],
    );
    w.live(
        Kind::Meter,
        "meter-7",
        3,
        json!({"code": "n", "name": "N", "productId": "prod-7",
               "dataFields": [{"category": "WHO", "code": "w", "name": "W"}], "derivedFields": []}),
    );
    let p = w.plan();
    assert_eq!(
        actions(&p),
        [
            ("product.q".to_string(), Action::Import),
            ("meter.n".to_string(), Action::Import)
        ]
    );
    assert_eq!(p.summary(), summary(2, 0, 0, 0));
    assert!(p.has_changes(), "an import is an action");
    assert_eq!(p.changes[0].id.as_deref(), Some("prod-7"));
    insta::assert_snapshot!("import", text(&p));
}

#[test]
fn import_that_needs_changes_counts_as_import_and_change() {
    let mut w = World::basic();
    w.want("product.q", json!({"code": "q", "name": "Q new"}), &[]);
    w.live(
        Kind::Product,
        "prod-7",
        2,
        json!({"code": "q", "name": "Q old"}),
    );
    let p = w.plan();
    assert_eq!(p.summary(), summary(1, 0, 1, 0));
    assert!(p.changes[0].adopted);
    insta::assert_snapshot!("import_with_change", text(&p));
}

#[test]
fn pricing_and_account_plan_are_imported_by_their_keys() {
    let mut w = World::billing();
    // Forget the pricing and account plan: live still has them.
    w.state
        .resources
        .remove(&addr("pricing.x/q_sum@2024-12-01"));
    w.state
        .resources
        .remove(&addr("accountPlan.a/x@2024-12-01"));
    let p = w.plan();
    assert_eq!(
        actions(&p),
        [
            ("pricing.x/q_sum@2024-12-01".to_string(), Action::Import),
            ("accountPlan.a/x@2024-12-01".to_string(), Action::Import),
        ]
    );
    assert_eq!(p.changes[0].id.as_deref(), Some("pri-1"));
    assert_eq!(p.changes[1].id.as_deref(), Some("ap-1"));
}

#[test]
fn several_live_matches_are_an_error_naming_them() {
    let mut w = World::basic();
    w.want("product.q", json!({"code": "q", "name": "Q"}), &[]);
    w.live(
        Kind::Product,
        "prod-8",
        1,
        json!({"code": "q", "name": "Q"}),
    );
    w.live(
        Kind::Product,
        "prod-7",
        1,
        json!({"code": "q", "name": "Q"}),
    );
    let err = w.plan_with(&PlanOptions::default()).unwrap_err();
    assert_eq!(
        err,
        PlanError::AmbiguousImport {
            address: addr("product.q"),
            ids: vec!["prod-7".into(), "prod-8".into()]
        }
    );
    assert_eq!(
        err.to_string(),
        "product.q: 2 live entities match its key (ids prod-7, prod-8); adopt the right one with `m3ter import product.q ID`"
    );
}

#[test]
fn drift_is_reported_and_reverted() {
    let mut w = World::basic();
    w.live_mut(Kind::Meter, "meter-1")
        .insert("name".into(), json!("Renamed in the console"));
    let p = w.plan();
    assert_eq!(p.drift.len(), 1);
    assert_eq!(p.drift[0].before, obj(json!({"name": "M"})));
    assert_eq!(
        p.drift[0].after,
        Some(obj(json!({"name": "Renamed in the console"})))
    );
    assert_eq!(actions(&p), [("meter.m".to_string(), Action::Update)]);
    insta::assert_snapshot!("drift", text(&p));
    insta::assert_json_snapshot!("drift_json", render::json(&p));
}

#[test]
fn refresh_only_reports_drift_and_plans_no_change() {
    let mut w = World::basic();
    w.live_mut(Kind::Meter, "meter-1")
        .insert("name".into(), json!("Renamed in the console"));
    let p = w
        .plan_with(&PlanOptions {
            refresh_only: true,
            ..Default::default()
        })
        .expect("plan");
    assert!(p.changes.is_empty() && p.steps.is_empty());
    assert!(p.has_changes(), "the state would change");
    insta::assert_snapshot!("refresh_only", text(&p));
}

#[test]
fn deleted_outside_is_drift_and_a_create() {
    let mut w = World::basic();
    w.live
        .entities
        .get_mut(&Kind::Meter)
        .expect("meters")
        .clear();
    let p = w.plan();
    assert_eq!(p.drift.len(), 1);
    assert_eq!(p.drift[0].after, None);
    assert_eq!(actions(&p), [("meter.m".to_string(), Action::Create)]);
    insta::assert_snapshot!("deleted_outside", text(&p));
}

#[test]
fn recreating_a_dependency_updates_the_reference_after_its_create() {
    let mut w = World::basic();
    w.live
        .entities
        .get_mut(&Kind::Product)
        .expect("products")
        .clear();
    let p = w.plan();
    assert_eq!(
        actions(&p),
        [
            ("product.p".to_string(), Action::Create),
            ("meter.m".to_string(), Action::Update)
        ]
    );
    let d = &p.changes[1].diff[0];
    assert_eq!(d.field, "productId");
    assert!(d.known_after_apply && !d.forces_replacement);
    assert_eq!(
        steps(&p),
        ["Write product.p after []", "Write meter.m after [0]"]
    );
}

// ---- 3. One test per comparison rule ----------------------------------------

#[test]
fn numbers_compare_numerically() {
    let mut w = World::billing();
    w.want(
        "aggregation.q_sum",
        json!({"code": "q_sum", "name": "Q sum", "targetField": "q", "aggregation": "SUM",
               "rounding": "NONE", "quantityPerUnit": 6000000000u64, "unit": "s"}),
        &[("meterId", "meter.m")],
    );
    w.live_mut(Kind::Aggregation, "agg-1")
        .insert("quantityPerUnit".into(), json!(6e9));
    w.state
        .resources
        .get_mut(&addr("aggregation.q_sum"))
        .expect("agg")
        .applied
        .insert("quantityPerUnit".into(), json!(6000000000u64));
    w.live_mut(Kind::PlanTemplate, "tpl-1")
        .insert("standingCharge".into(), json!(0.0));
    let p = w.plan();
    assert_eq!(text(&p), "No changes. The org matches the desired state.\n");
}

#[test]
fn dates_compare_as_instants() {
    let mut w = World::billing();
    w.live_mut(Kind::Pricing, "pri-1")
        .insert("startDate".into(), json!("2024-12-01T00:00:00.000Z"));
    w.live_mut(Kind::AccountPlan, "ap-1")
        .insert("startDate".into(), json!("2024-12-01T01:00:00+01:00"));
    w.want(
        "account.a",
        json!({"code": "a", "name": "A", "emailAddress": "a@example.com", "billEpoch": "2024-12-01"}),
        &[],
    );
    w.live_mut(Kind::Account, "acc-1")
        .insert("billEpoch".into(), json!("2024-12-01T00:00:00Z"));
    assert!(!w.plan().has_changes(), "{}", text(&w.plan()));
}

#[test]
fn bands_compare_in_lower_limit_order_ignoring_ids() {
    let mut w = World::billing();
    w.live_mut(Kind::Pricing, "pri-1").insert(
        "pricingBands".into(),
        json!([
            {"id": "band-2", "lowerLimit": 100.0, "fixedPrice": 0.0, "unitPrice": 0.5},
            {"id": "band-1", "lowerLimit": 0.0, "fixedPrice": 0.0, "unitPrice": 1.0}
        ]),
    );
    assert!(!w.plan().has_changes());

    w.want(
        "pricing.x/q_sum@2024-12-01",
        json!({"startDate": "2024-12-01T00:00:00Z",
               "pricingBands": [{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 1},
                                {"lowerLimit": 100, "fixedPrice": 0, "unitPrice": 0.4}]}),
        &[("planId", "plan.x"), ("aggregationId", "aggregation.q_sum")],
    );
    let p = w.plan();
    assert_eq!(
        actions(&p),
        [("pricing.x/q_sum@2024-12-01".to_string(), Action::Update)]
    );
    insta::assert_snapshot!("bands_update", text(&p));
}

#[test]
fn added_and_removed_bands_are_elements_with_their_own_markers() {
    let mut w = World::billing();
    w.want(
        "pricing.x/q_sum@2024-12-01",
        json!({"startDate": "2024-12-01T00:00:00Z",
               "pricingBands": [{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 1},
                                {"lowerLimit": 50, "fixedPrice": 0, "unitPrice": 0.7},
                                {"lowerLimit": 200, "fixedPrice": 5, "unitPrice": 0.3}]}),
        &[("planId", "plan.x"), ("aggregationId", "aggregation.q_sum")],
    );
    insta::assert_snapshot!("bands_added", text(&w.plan()));
}

#[test]
fn drift_and_updates_name_references_and_nested_fields_as_the_yaml_does() {
    let mut w = World::basic();
    let meter = w.live_mut(Kind::Meter, "meter-1");
    meter.insert("productId".into(), json!("prod-9"));
    meter.insert(
        "dataFields".into(),
        json!([{"category": "MEASURE", "code": "q", "name": "Q", "unit": "ms"}]),
    );
    let p = w.plan();
    let text = text(&p);
    // `product`, as written in desired state, never the API's `productId`;
    // `--json` keeps the API names.
    assert!(!text.contains("productId"), "{text}");
    assert_eq!(p.changes[0].diff[1].field, "productId");
    insta::assert_snapshot!("drift_nested_and_reference", text);
}

#[test]
fn server_filled_and_response_only_fields_never_differ() {
    let mut w = World::billing();
    let pricing = w.live_mut(Kind::Pricing, "pri-1");
    pricing.insert("cumulative".into(), json!(true));
    pricing.insert("type".into(), json!("DEBIT"));
    pricing.insert("aggregationType".into(), json!("SIMPLE"));
    pricing.insert("segmentString".into(), json!(""));
    pricing.insert("lastModifiedBy".into(), json!("someone"));
    w.live_mut(Kind::Plan, "plan-1")
        .insert("productId".into(), json!("prod-1"));
    w.live_mut(Kind::AccountPlan, "ap-1")
        .insert("productId".into(), json!("prod-1"));
    w.live_mut(Kind::Product, "prod-1")
        .insert("customFields".into(), json!({}));
    assert_eq!(
        text(&w.plan()),
        "No changes. The org matches the desired state.\n"
    );
}

#[test]
fn nested_objects_compare_only_the_keys_desired_sets() {
    let mut w = World::basic();
    w.synced(
        "account.c",
        "acc-3",
        json!({"code": "c", "name": "C", "emailAddress": "c@example.com",
               "address": {"country": "UK", "postCode": "N1"}}),
        &[],
    );
    w.live_mut(Kind::Account, "acc-3").insert(
        "address".into(),
        json!({"country": "UK", "postCode": "N1", "locality": "London"}),
    );
    assert!(!w.plan().has_changes());
    w.want(
        "account.c",
        json!({"code": "c", "name": "C", "emailAddress": "c@example.com",
               "address": {"country": "UK", "postCode": "N2"}}),
        &[],
    );
    insta::assert_snapshot!("nested_address", text(&w.plan()));
}

#[test]
fn a_removed_field_is_reset_and_left_out_of_the_put() {
    let mut w = World::basic();
    w.synced(
        "product.r",
        "prod-5",
        json!({"code": "r", "name": "R", "customFields": {"team": "billing"}}),
        &[],
    );
    w.want("product.r", json!({"code": "r", "name": "R"}), &[]);
    let p = w.plan();
    let c = &p.changes[0];
    assert_eq!(c.action, Action::Update);
    assert_eq!(c.resets, ["customFields"]);
    assert!(c.diff.is_empty());
    let live = w.live.by_id(Kind::Product, "prod-5").expect("live");
    let body = put_body(
        Kind::Product,
        live,
        c.after.as_ref().expect("after"),
        &c.resets,
        |_| None,
    )
    .expect("body");
    assert_eq!(
        Value::Object(body),
        json!({"name": "R", "code": "r", "version": 1})
    );
    insta::assert_snapshot!("reset", text(&p));
    insta::assert_json_snapshot!("reset_json", render::json(&p));
}

#[test]
fn ignore_changes_fields_are_skipped() {
    let mut w = World::basic();
    w.want(
        "product.p",
        json!({"code": "p", "name": "Desired name"}),
        &[],
    )
    .lifecycle
    .ignore_changes = vec!["name".into()];
    w.live_mut(Kind::Product, "prod-1")
        .insert("name".into(), json!("Edited by finance"));
    let p = w.plan();
    assert!(!p.has_changes());
    assert!(p.drift.is_empty(), "ignored fields are not drift either");
}

#[test]
fn destroy_plans_every_delete_in_reverse_order_and_respects_prevent_destroy() {
    let mut w = World::billing();
    let p = w
        .plan_with(&PlanOptions {
            destroy: true,
            ..Default::default()
        })
        .expect("plan");
    let order: Vec<String> = p.changes.iter().map(|c| c.address.to_string()).collect();
    assert_eq!(
        order,
        [
            "pricing.x/q_sum@2024-12-01",
            "aggregation.q_sum",
            "meter.m",
            "accountPlan.a/x@2024-12-01",
            "plan.x",
            "planTemplate.t",
            "product.p",
            "account.a"
        ]
    );
    assert_eq!(p.summary(), summary(0, 0, 0, 8));

    w.desired
        .entities
        .get_mut(&addr("account.a"))
        .expect("account")
        .lifecycle
        .prevent_destroy = true;
    let err = w
        .plan_with(&PlanOptions {
            destroy: true,
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        err,
        PlanError::PreventDestroy {
            address: addr("account.a"),
            action: "destroy"
        }
    );
}

#[test]
fn mass_change_warns() {
    let mut w = World::new();
    for i in 0..10 {
        w.synced(
            &format!("product.p{i}"),
            &format!("prod-{i}"),
            json!({"code": format!("p{i}"), "name": "P"}),
            &[],
        );
    }
    for i in 0..4 {
        w.desired.entities.remove(&addr(&format!("product.p{i}")));
    }
    let p = w.plan();
    assert_eq!(p.summary(), summary(0, 0, 0, 4));
    assert_eq!(
        p.warnings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [
            "this plan updates, replaces or deletes 4 of 10 managed entities (more than 30%); `apply` will refuse it without --force"
        ]
    );
    assert!(text(&p).ends_with("will refuse it without --force\n"));
    // 3 of 10 is not more than 30%.
    w.desired.entities.insert(
        addr("product.p0"),
        DesiredEntity {
            address: addr("product.p0"),
            fields: obj(json!({"code": "p0", "name": "P"})),
            refs: Default::default(),
            extra_deps: vec![],
            lifecycle: Default::default(),
            source: None,
        },
    );
    assert!(w.plan().warnings.is_empty());
}

#[test]
fn delete_chain_waits_account_plan_then_account_and_plan() {
    let mut w = World::billing();
    for a in [
        "accountPlan.a/x@2024-12-01",
        "account.a",
        "pricing.x/q_sum@2024-12-01",
        "plan.x",
    ] {
        w.desired.entities.remove(&addr(a));
    }
    let p = w.plan();
    assert_eq!(
        actions(&p),
        [
            ("pricing.x/q_sum@2024-12-01".to_string(), Action::Delete),
            ("accountPlan.a/x@2024-12-01".to_string(), Action::Delete),
            ("plan.x".to_string(), Action::Delete),
            ("account.a".to_string(), Action::Delete),
        ]
    );
    assert_eq!(
        steps(&p),
        [
            "Delete pricing.x/q_sum@2024-12-01 after []",
            "Delete accountPlan.a/x@2024-12-01 after []",
            "Delete plan.x after [0, 1]",
            "Delete account.a after [1]",
        ]
    );
    insta::assert_snapshot!("delete_chain", text(&p));
}

#[test]
fn a_create_waits_for_the_delete_that_frees_its_account_plan_slot() {
    let mut w = World::billing();
    // Move the account plan's start: a new address, the old one is deleted.
    w.desired
        .entities
        .remove(&addr("accountPlan.a/x@2024-12-01"));
    w.want(
        "accountPlan.a/x@2025-01-01",
        json!({"startDate": "2025-01-01T00:00:00Z"}),
        &[("accountId", "account.a"), ("planId", "plan.x")],
    );
    let p = w.plan();
    assert_eq!(
        steps(&p),
        [
            "Delete accountPlan.a/x@2024-12-01 after []",
            "Write accountPlan.a/x@2025-01-01 after [0]",
        ]
    );
}

#[test]
fn targets_limit_the_plan() {
    let mut w = World::basic();
    w.want("product.p", json!({"code": "p", "name": "P2"}), &[]);
    w.want(
        "account.a",
        json!({"code": "a", "name": "A2", "emailAddress": "a@example.com"}),
        &[],
    );
    let p = w
        .plan_with(&PlanOptions {
            targets: Some(BTreeSet::from([addr("account.a")])),
            ..Default::default()
        })
        .expect("plan");
    assert_eq!(actions(&p), [("account.a".to_string(), Action::Update)]);
}

#[test]
fn json_document_has_the_documented_shape() {
    let mut w = World::basic();
    w.want("product.p", json!({"code": "p", "name": "P2"}), &[]);
    w.want("product.n", json!({"code": "n", "name": "N"}), &[]);
    insta::assert_json_snapshot!("update_and_create_json", render::json(&w.plan()));
}

#[test]
fn saved_plan_round_trips_and_refuses_other_format_versions() {
    let mut w = World::billing();
    w.want("product.p", json!({"code": "p", "name": "P2"}), &[]);
    let p = w.plan();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("plan.json");
    p.save(&path).expect("save");
    let back = Plan::load(&path).expect("load");
    assert_eq!(back, p);
    assert_eq!(back.serial, 7);
    assert_eq!(back.lineage, "0b6c3c9e-lineage");

    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    doc["formatVersion"] = json!(2);
    std::fs::write(&path, doc.to_string()).expect("write");
    let err = Plan::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("has formatVersion 2; this build reads formatVersion 1"),
        "{err}"
    );
    assert!(err.contains("m3ter plan -o FILE"), "{err}");
}

#[test]
fn ten_thousand_entities_plan_quickly() {
    let mut w = World::new();
    w.synced("product.p", "prod", json!({"code": "p", "name": "P"}), &[]);
    for i in 0..2000 {
        w.synced(
            &format!("account.a{i}"),
            &format!("acc-{i}"),
            json!({"code": format!("a{i}"), "name": "A", "emailAddress": "a@example.com"}),
            &[],
        );
        w.synced(
            &format!("meter.m{i}"),
            &format!("meter-{i}"),
            json!({"code": format!("m{i}"), "name": "M",
                   "dataFields": [{"category": "MEASURE", "code": "q", "name": "Q"}],
                   "derivedFields": []}),
            &[("productId", "product.p")],
        );
    }
    for i in 0..3000 {
        // New entities, half of them matching unmanaged live ones.
        w.want(
            &format!("product.n{i}"),
            json!({"code": format!("n{i}"), "name": "N"}),
            &[],
        );
        if i % 2 == 0 {
            w.live(
                Kind::Product,
                &format!("live-{i}"),
                1,
                json!({"code": format!("n{i}"), "name": "N"}),
            );
        }
    }
    for i in 0..3000 {
        w.record(
            &format!("product.gone{i}"),
            &format!("gone-{i}"),
            json!({"code": format!("gone{i}")}),
            &[],
            false,
        );
        w.live(
            Kind::Product,
            &format!("gone-{i}"),
            1,
            json!({"code": format!("gone{i}"), "name": "G"}),
        );
    }
    // The result only: how fast planning is (wall time on a loaded machine
    // is no test) is measured by bench/plan.sh on 10,000 entities.
    let p = w.plan();
    assert_eq!(p.summary(), summary(1500, 1500, 0, 3000));
}

#[test]
fn colors_only_when_asked() {
    let mut w = World::basic();
    w.want("product.n", json!({"code": "n", "name": "N"}), &[]);
    let p = w.plan();
    assert!(render::human(&p, true).contains("  \x1b[32m+\x1b[0m product.n {"));
    assert!(!render::human(&p, false).contains('\x1b'));
}

#[test]
fn gone_and_no_longer_desired_is_drift_only() {
    let mut w = World::basic();
    w.desired.entities.remove(&addr("account.a"));
    w.live
        .entities
        .get_mut(&Kind::Account)
        .expect("accounts")
        .clear();
    let p = w.plan();
    assert!(p.changes.is_empty());
    assert!(!p.has_changes());
    insta::assert_snapshot!("gone_not_desired", text(&p));
}

#[test]
fn reference_to_an_entity_not_desired_is_an_error() {
    let mut w = World::basic();
    w.want(
        "meter.m",
        json!({"code": "m", "name": "M",
               "dataFields": [{"category": "MEASURE", "code": "q", "name": "Q", "unit": "s"}]}),
        &[("productId", "product.nope")],
    );
    let err = w.plan_with(&PlanOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "meter.m references product.nope, which is not in the desired state"
    );
}

#[test]
fn dependency_cycle_is_an_error_naming_the_whole_loop() {
    let mut w = World::new();
    w.want(
        "account.a",
        json!({"code": "a", "name": "A", "emailAddress": "a@x.io"}),
        &[("parentAccountId", "account.b")],
    );
    w.want(
        "account.b",
        json!({"code": "b", "name": "B", "emailAddress": "b@x.io"}),
        &[("parentAccountId", "account.a")],
    );
    w.want(
        "account.c",
        json!({"code": "c", "name": "C", "emailAddress": "c@x.io"}),
        &[],
    );
    let err = w.plan_with(&PlanOptions::default()).unwrap_err();
    assert_eq!(
        err,
        PlanError::Cycle(vec![
            addr("account.a"),
            addr("account.b"),
            addr("account.a")
        ])
    );
    assert_eq!(
        err.to_string(),
        "dependency cycle: account.a -> account.b -> account.a (each waits for the next)"
    );
}

#[test]
fn template_pricing_on_a_compound_aggregation_is_imported_by_key() {
    let mut w = World::billing();
    w.synced(
        "compoundAggregation.c",
        "cagg-1",
        json!({"code": "c", "name": "C", "rounding": "NONE", "quantityPerUnit": 1, "unit": "u",
               "calculation": "q_sum * 2"}),
        &[],
    );
    w.want(
        "pricing.template:t/c@2024-12-01#region=eu",
        json!({"startDate": "2024-12-01T00:00:00Z", "segment": {"region": "eu"},
               "pricingBands": [{"lowerLimit": 0, "fixedPrice": 5, "unitPrice": 0}]}),
        &[
            ("planTemplateId", "planTemplate.t"),
            ("compoundAggregationId", "compoundAggregation.c"),
        ],
    );
    w.live(
        Kind::Pricing,
        "pri-7",
        2,
        json!({"planTemplateId": "tpl-1", "compoundAggregationId": "cagg-1",
               "startDate": "2024-12-01T00:00:00.000Z", "segment": {"region": "eu"},
               "aggregationType": "COMPOUND",
               "pricingBands": [{"id": "b", "lowerLimit": 0.0, "fixedPrice": 5.0, "unitPrice": 0.0}]}),
    );
    let p = w.plan();
    assert_eq!(
        actions(&p),
        [(
            "pricing[\"template:t/c@2024-12-01#region=eu\"]".to_string(),
            Action::Import
        )]
    );
    assert!(!p.changes[0].import_with_changes());
}

#[test]
fn pricing_put_body_sends_desired_bands_and_no_response_only_fields() {
    let mut w = World::billing();
    w.live_mut(Kind::Pricing, "pri-1")
        .insert("aggregationType".into(), json!("SIMPLE"));
    w.live_mut(Kind::Pricing, "pri-1")
        .insert("cumulative".into(), json!(true));
    w.want(
        "pricing.x/q_sum@2024-12-01",
        json!({"startDate": "2024-12-01T00:00:00Z",
               "pricingBands": [{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 2}]}),
        &[("planId", "plan.x"), ("aggregationId", "aggregation.q_sum")],
    );
    let p = w.plan();
    let c = &p.changes[0];
    assert_eq!(c.action, Action::Update);
    let ids = |a: &Address| w.state.resources.get(a).map(|r| r.id.clone());
    let live = w.live.by_id(Kind::Pricing, "pri-1").expect("live");
    let body = put_body(
        Kind::Pricing,
        live,
        c.after.as_ref().expect("after"),
        &c.resets,
        ids,
    )
    .expect("body");
    assert_eq!(
        Value::Object(body),
        json!({
            "planId": "plan-1", "aggregationId": "agg-1",
            "pricingBands": [{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 2}],
            "startDate": "2024-12-01T00:00:00Z", "cumulative": true, "version": 1
        })
    );
}

#[test]
fn deleted_outside_but_recreated_by_hand_is_adopted() {
    let mut w = World::basic();
    w.live
        .entities
        .get_mut(&Kind::Account)
        .expect("accounts")
        .clear();
    w.live(
        Kind::Account,
        "acc-new",
        1,
        json!({"code": "a", "name": "A", "emailAddress": "a@example.com"}),
    );
    let p = w.plan();
    assert_eq!(p.drift.len(), 1, "the recorded id is gone");
    assert_eq!(actions(&p), [("account.a".to_string(), Action::Import)]);
    assert_eq!(p.changes[0].id.as_deref(), Some("acc-new"));
}

#[test]
fn plan_owned_is_plan_without_the_copy() {
    let mut w = World::billing();
    w.live_mut(Kind::Meter, "meter-1")
        .insert("name".into(), json!("Renamed in the console"));
    w.want(
        "product.extra",
        json!({"code": "extra", "name": "Extra"}),
        &[],
    );
    let borrowed = w.plan();
    let owned = m3ter_reconcile::plan::plan_owned(
        w.desired.clone(),
        &w.state,
        &w.live,
        &PlanOptions::default(),
    )
    .expect("plan");
    assert_eq!(owned, borrowed);
    assert_eq!(owned.desired, w.desired);
    assert_eq!(owned.summary(), summary(0, 1, 1, 0));
    assert_eq!(owned.drift.len(), 1);
}

/// The step of `address`'s change in `phase`, by index.
fn step_of(p: &Plan, address: &str, phase: Phase) -> usize {
    p.steps
        .iter()
        .position(|s| p.changes[s.change].address == addr(address) && s.phase == phase)
        .unwrap_or_else(|| panic!("no {phase:?} step for {address}: {:?}", p.steps))
}

/// `basic` whose meter also has field `old`, with aggregation `agg` on it.
fn meter_with_old_field() -> World {
    let mut w = World::basic();
    let fields = json!({"code": "m", "name": "M",
        "dataFields": [{"category": "MEASURE", "code": "q", "name": "Q", "unit": "s"},
                       {"category": "MEASURE", "code": "old", "name": "Old", "unit": "s"}],
        "derivedFields": []});
    w.synced("meter.m", "meter-1", fields, &[("productId", "product.p")]);
    w.synced(
        "aggregation.agg",
        "agg-1",
        json!({"code": "agg", "name": "Agg", "targetField": "old", "aggregation": "SUM",
               "rounding": "NONE", "quantityPerUnit": 1, "unit": "s"}),
        &[("meterId", "meter.m")],
    );
    // The desired meter no longer has `old`.
    w.desired
        .entities
        .get_mut(&addr("meter.m"))
        .expect("meter")
        .fields
        .insert(
            "dataFields".into(),
            json!([{"category": "MEASURE", "code": "q", "name": "Q", "unit": "s"}]),
        );
    w
}

#[test]
fn dropping_a_field_waits_for_the_delete_of_the_aggregation_that_targets_it() {
    let mut w = meter_with_old_field();
    w.desired.entities.remove(&addr("aggregation.agg"));
    let p = w.plan();
    let meter = step_of(&p, "meter.m", Phase::Write);
    let agg = step_of(&p, "aggregation.agg", Phase::Delete);
    assert!(
        p.steps[meter].wait_for.contains(&agg),
        "the meter update does not wait for the aggregation's delete: {:?}",
        p.steps
    );
}

#[test]
fn dropping_a_field_an_aggregation_moves_away_from_waits_for_that_update() {
    let mut w = meter_with_old_field();
    w.desired
        .entities
        .get_mut(&addr("aggregation.agg"))
        .expect("aggregation")
        .fields
        .insert("targetField".into(), json!("q"));
    let p = w.plan();
    let meter = step_of(&p, "meter.m", Phase::Write);
    let agg = step_of(&p, "aggregation.agg", Phase::Write);
    assert!(agg < meter, "{:?}", p.steps);
    assert!(p.steps[meter].wait_for.contains(&agg), "{:?}", p.steps);
}

#[test]
fn an_update_that_adds_and_drops_what_a_dependent_moves_between_is_refused() {
    let mut w = meter_with_old_field();
    w.desired
        .entities
        .get_mut(&addr("meter.m"))
        .expect("meter")
        .fields
        .insert(
            "dataFields".into(),
            json!([{"category": "MEASURE", "code": "q", "name": "Q", "unit": "s"},
                   {"category": "MEASURE", "code": "new", "name": "New", "unit": "s"}]),
        );
    w.desired
        .entities
        .get_mut(&addr("aggregation.agg"))
        .expect("aggregation")
        .fields
        .insert("targetField".into(), json!("new"));
    let err = w.plan_with(&PlanOptions::default()).unwrap_err();
    insta::assert_snapshot!(err.to_string(), @"meter.m: this update adds `new` that aggregation.agg will use and removes `old` that aggregation.agg uses now, so neither can be sent first; make the change in two applies: first add `new` to meter.m and apply, then remove `old` and apply again");
}

#[test]
fn an_entity_deleted_outside_and_no_longer_desired_is_forgotten_by_the_plan() {
    let mut w = World::basic();
    w.desired.entities.remove(&addr("account.a"));
    w.live
        .entities
        .get_mut(&Kind::Account)
        .expect("accounts")
        .clear();
    let p = w.plan();
    assert_eq!(
        p.forget,
        [Forget {
            address: addr("account.a"),
            id: "acc-1".into(),
            reason: Reason::RemovedFromDesired,
        }]
    );
    assert_eq!(
        render::json(&p)["forget"],
        json!([{"address": "account.a", "action": "forget", "id": "acc-1",
                "reason": "removedFromDesired"}])
    );
    // Still desired: created again, not forgotten.
    let mut w = World::basic();
    w.live
        .entities
        .get_mut(&Kind::Account)
        .expect("accounts")
        .clear();
    let p = w.plan();
    assert!(p.forget.is_empty());
    assert_eq!(p.changes[0].action, Action::Create);
}
