//! Which accounts' bills a plan's changes could affect.
//!
//! The changes that count are those of a rated configuration: pricings and
//! counter pricings, plan templates, plans, plan groups and their links,
//! aggregations, and the account-level entities (account plans,
//! commitments, balances, counter adjustments). A change reaches the
//! accounts on a plan it prices (or on a plan group linking that plan), in
//! either configuration; an account-level change reaches its own account.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use m3ter_api::Kind;
use m3ter_rating::{Object, Org, Window};

use super::org::OrgView;
use crate::address::Address;
use crate::plan::Plan;

/// The affected accounts (ids), or None when no change of the plan is one
/// that rating reads: then there is no billing impact to show.
pub(crate) fn affected_accounts(
    plan: &Plan,
    before: &OrgView,
    after: &OrgView,
    ids: &HashMap<Address, String>,
    period: Window,
) -> Option<BTreeSet<String>> {
    let mut reach = Reach::default();
    let mut relevant = false;
    for change in &plan.changes {
        let kind = change.address.kind;
        let versions: Vec<&Object> = [
            change.id.as_deref().and_then(|id| before.get(kind, id)),
            ids.get(&change.address).and_then(|id| after.get(kind, id)),
        ]
        .into_iter()
        .flatten()
        .collect();
        relevant |= reach.add(kind, &versions, [before, after]);
    }
    if !relevant {
        return None;
    }
    Some(reach.accounts(before, after, period))
}

fn str_of<'a>(o: &'a Object, key: &str) -> Option<&'a str> {
    o.get(key).and_then(Value::as_str)
}

/// What the changes reach, as ids.
#[derive(Default)]
struct Reach {
    templates: BTreeSet<String>,
    plans: BTreeSet<String>,
    groups: BTreeSet<String>,
    accounts: BTreeSet<String>,
}

impl Reach {
    /// Records what one change's entity (as it is and as it will be)
    /// reaches; false when rating does not read the kind.
    fn add(&mut self, kind: Kind, versions: &[&Object], orgs: [&OrgView; 2]) -> bool {
        let put = |set: &mut BTreeSet<String>, o: &Object, key: &str| {
            if let Some(v) = str_of(o, key) {
                set.insert(v.to_owned());
            }
        };
        for &o in versions {
            match kind {
                Kind::Pricing | Kind::CounterPricing => {
                    put(&mut self.plans, o, "planId");
                    put(&mut self.templates, o, "planTemplateId");
                }
                Kind::PlanTemplate => put(&mut self.templates, o, "id"),
                Kind::Plan => put(&mut self.plans, o, "id"),
                Kind::PlanGroup => put(&mut self.groups, o, "id"),
                Kind::PlanGroupLink => put(&mut self.groups, o, "planGroupId"),
                Kind::Aggregation | Kind::CompoundAggregation => {
                    let field = if kind == Kind::Aggregation {
                        "aggregationId"
                    } else {
                        "compoundAggregationId"
                    };
                    for org in orgs {
                        for p in org.all(Kind::Pricing) {
                            if str_of(p, field).is_some() && str_of(p, field) == str_of(o, "id") {
                                put(&mut self.plans, p, "planId");
                                put(&mut self.templates, p, "planTemplateId");
                            }
                        }
                    }
                }
                Kind::AccountPlan | Kind::Commitment | Kind::Balance | Kind::CounterAdjustment => {
                    put(&mut self.accounts, o, "accountId");
                }
                _ => return false,
            }
        }
        true
    }

    /// The accounts reached, through account plans active in the period
    /// on a reached plan or plan group, in either configuration.
    fn accounts(mut self, before: &OrgView, after: &OrgView, period: Window) -> BTreeSet<String> {
        for org in [before, after] {
            for p in org.all(Kind::Plan) {
                if str_of(p, "planTemplateId").is_some_and(|t| self.templates.contains(t))
                    && let Some(id) = str_of(p, "id")
                {
                    self.plans.insert(id.to_owned());
                }
            }
        }
        for org in [before, after] {
            for link in org.all(Kind::PlanGroupLink) {
                if str_of(link, "planId").is_some_and(|p| self.plans.contains(p))
                    && let Some(g) = str_of(link, "planGroupId")
                {
                    self.groups.insert(g.to_owned());
                }
            }
        }
        for org in [before, after] {
            for ap in org.all(Kind::AccountPlan) {
                let on_plan = str_of(ap, "planId").is_some_and(|p| self.plans.contains(p));
                let on_group = str_of(ap, "planGroupId").is_some_and(|g| self.groups.contains(g));
                if (on_plan || on_group)
                    && active_in(ap, period)
                    && let Some(a) = str_of(ap, "accountId")
                {
                    self.accounts.insert(a.to_owned());
                }
            }
        }
        self.accounts
    }
}

/// Whether an account plan's `[startDate, endDate)` meets the period.
fn active_in(ap: &Object, period: Window) -> bool {
    let at = |k: &str| str_of(ap, k).and_then(super::instant);
    at("startDate").is_none_or(|s| s < period.to) && at("endDate").is_none_or(|e| e > period.from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::LiveSnapshot;
    use serde_json::json;

    fn obj(v: Value) -> Object {
        v.as_object().cloned().expect("object")
    }

    /// Two templates, a plan on each, a group linking the first plan, and
    /// one account on each plan and one on the group.
    fn org() -> OrgView {
        let live = LiveSnapshot::from_entities(
            [
                (Kind::PlanTemplate, vec![json!({"id": "t1"}), json!({"id": "t2"})]),
                (
                    Kind::Plan,
                    vec![
                        json!({"id": "p1", "planTemplateId": "t1"}),
                        json!({"id": "p2", "planTemplateId": "t2"}),
                    ],
                ),
                (Kind::PlanGroup, vec![json!({"id": "g1"})]),
                (
                    Kind::PlanGroupLink,
                    vec![json!({"id": "l1", "planGroupId": "g1", "planId": "p1"})],
                ),
                (
                    Kind::AccountPlan,
                    vec![
                        json!({"id": "ap1", "accountId": "a1", "planId": "p1", "startDate": "2024-12-01"}),
                        json!({"id": "ap2", "accountId": "a2", "planId": "p2", "startDate": "2024-12-01"}),
                        json!({"id": "ap3", "accountId": "a3", "planGroupId": "g1", "startDate": "2024-12-01"}),
                        // Ended before December: not billed in it.
                        json!({"id": "ap4", "accountId": "a4", "planId": "p1",
                               "startDate": "2024-10-01", "endDate": "2024-11-01"}),
                    ],
                ),
            ]
            .into_iter()
            .collect(),
        );
        OrgView::live(&live)
    }

    fn december() -> Window {
        let at = |s: &str| crate::impact::instant(s).expect("date");
        Window {
            from: at("2024-12-01"),
            to: at("2025-01-01"),
        }
    }

    fn reached(kind: Kind, entity: Value) -> Option<BTreeSet<String>> {
        let org = org();
        let mut reach = Reach::default();
        let entity = obj(entity);
        reach
            .add(kind, &[&entity], [&org, &org])
            .then(|| reach.accounts(&org, &org, december()))
    }

    fn set(ids: &[&str]) -> Option<BTreeSet<String>> {
        Some(ids.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn a_template_pricing_reaches_its_plans_accounts_and_the_groups_linking_them() {
        let pricing = json!({"id": "x", "planTemplateId": "t1", "aggregationId": "agg"});
        assert_eq!(reached(Kind::Pricing, pricing), set(&["a1", "a3"]));
        let pricing = json!({"id": "x", "planId": "p2", "aggregationId": "agg"});
        assert_eq!(reached(Kind::Pricing, pricing), set(&["a2"]));
    }

    #[test]
    fn plans_groups_and_account_level_changes_reach_their_accounts() {
        assert_eq!(
            reached(Kind::PlanTemplate, json!({"id": "t2"})),
            set(&["a2"])
        );
        assert_eq!(reached(Kind::PlanGroup, json!({"id": "g1"})), set(&["a3"]));
        assert_eq!(
            reached(Kind::Commitment, json!({"id": "c", "accountId": "a9"})),
            set(&["a9"])
        );
    }

    #[test]
    fn a_change_rating_does_not_read_has_no_impact() {
        assert_eq!(reached(Kind::Product, json!({"id": "prod"})), None);
        assert_eq!(reached(Kind::Webhook, json!({"id": "w"})), None);
    }
}
