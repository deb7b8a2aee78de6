//! The two configurations a bill-impact preview rates: the org as it is
//! (the refresh's live entities) and the org as the plan would leave it
//! (the live entities with the plan's changes laid over them), both in the
//! API's JSON form that the rating engine reads.

use std::collections::HashMap;

use serde_json::Value;

use m3ter_api::Kind;
use m3ter_rating::{Object, Org};

use crate::address::Address;
use crate::live::LiveSnapshot;
use crate::plan::{Action, BodyError, Plan, create_body, put_body};
use crate::state::State;

/// The kinds rating reads; the rest of the org plays no part in a bill.
pub(crate) const RATED: &[Kind] = &[
    Kind::Product,
    Kind::Meter,
    Kind::Aggregation,
    Kind::CompoundAggregation,
    Kind::Counter,
    Kind::PlanTemplate,
    Kind::Plan,
    Kind::Pricing,
    Kind::CounterPricing,
    Kind::PlanGroup,
    Kind::PlanGroupLink,
    Kind::Account,
    Kind::AccountPlan,
    Kind::Commitment,
    Kind::Balance,
    Kind::CounterAdjustment,
];

/// An org's configuration in memory, with its accounts' earlier bills and
/// balance transactions once [`OrgView::add_history`] has added them.
#[derive(Debug, Clone, Default)]
pub(crate) struct OrgView {
    entities: HashMap<Kind, Vec<Object>>,
    /// `(kind, id)` → position in `entities[kind]`.
    index: HashMap<Kind, HashMap<String, usize>>,
    bills: HashMap<String, Vec<Object>>,
    transactions: HashMap<String, Vec<Object>>,
}

fn created(o: &Object) -> Option<&str> {
    o.get("dtCreated").and_then(Value::as_str)
}

fn id_of(o: &Object) -> Option<&str> {
    o.get("id").and_then(Value::as_str)
}

impl OrgView {
    /// The rated kinds of a refreshed org.
    pub(crate) fn live(live: &LiveSnapshot) -> OrgView {
        let mut view = OrgView::default();
        for &kind in RATED {
            // Lists come newest first; rating wants creation order (its line
            // order follows it), which `dtCreated` gives where it is set.
            let mut list: Vec<Object> = live
                .of(kind)
                .iter()
                .rev()
                .filter_map(Value::as_object)
                .cloned()
                .collect();
            list.sort_by(|a, b| created(a).cmp(&created(b)));
            view.set(kind, list);
        }
        view
    }

    fn set(&mut self, kind: Kind, list: Vec<Object>) {
        let index = list
            .iter()
            .enumerate()
            .filter_map(|(i, o)| Some((id_of(o)?.to_owned(), i)))
            .collect();
        self.index.insert(kind, index);
        self.entities.insert(kind, list);
    }

    fn edit(&mut self, kind: Kind, edit: impl FnOnce(&mut Vec<Object>)) {
        let mut list = self.entities.remove(&kind).unwrap_or_default();
        edit(&mut list);
        self.set(kind, list);
    }

    /// Adds an account's earlier bills (with their line items) and a
    /// balance's transactions: what commitments and balances drew before.
    pub(crate) fn add_history(
        &mut self,
        bills: HashMap<String, Vec<Object>>,
        transactions: HashMap<String, Vec<Object>>,
    ) {
        self.bills.extend(bills);
        self.transactions.extend(transactions);
    }

    /// The org as `plan` would leave it: creates and replaces added under
    /// placeholder ids (`planned:ADDRESS`), updates laid over their live
    /// entity as the PUT would, deletes removed. References resolve to
    /// live ids from state, to the adopted ids of imports, or to the
    /// placeholders.
    pub(crate) fn planned(&self, plan: &Plan, state: &State) -> Result<OrgView, BodyError> {
        let ids = planned_ids(plan, state);
        let resolve = |a: &Address| ids.get(a).cloned();
        let mut after = self.clone();
        for change in &plan.changes {
            let kind = change.address.kind;
            if !RATED.contains(&kind) {
                continue;
            }
            let live_id = change.id.as_deref();
            match change.action {
                Action::Delete => after.edit(kind, |l| l.retain(|o| id_of(o) != live_id)),
                Action::Create | Action::Replace => {
                    let Some(entity) = plan.desired.entities.get(&change.address) else {
                        continue;
                    };
                    let mut body = create_body(entity, resolve)?;
                    body.insert("id".into(), Value::String(placeholder(&change.address)));
                    after.edit(kind, |l| {
                        if change.action == Action::Replace {
                            l.retain(|o| id_of(o) != live_id);
                        }
                        l.push(body);
                    });
                }
                Action::Update | Action::Import => {
                    let (Some(id), Some(managed)) = (live_id, change.after.as_ref()) else {
                        continue;
                    };
                    let Some(live) = self.get(kind, id) else {
                        continue;
                    };
                    let live_value = Value::Object(live.clone());
                    let body = put_body(kind, &live_value, managed, &change.resets, resolve)?;
                    let mut updated = live.clone();
                    for field in kind.fields() {
                        updated.remove(field.name);
                    }
                    updated.extend(body.into_iter().filter(|(k, _)| k != "version"));
                    after.edit(kind, |l| {
                        if let Some(slot) = l.iter_mut().find(|o| id_of(o) == Some(id)) {
                            *slot = updated;
                        }
                    });
                }
            }
        }
        Ok(after)
    }
}

/// The prefix of the ids of entities the plan creates, in the planned org.
pub(crate) const PLANNED: &str = "planned:";

/// The id an entity created by the plan goes by in the planned org.
pub(crate) fn placeholder(address: &Address) -> String {
    format!("{PLANNED}{address}")
}

/// Every address's id in the planned org.
pub(crate) fn planned_ids(plan: &Plan, state: &State) -> HashMap<Address, String> {
    let mut ids: HashMap<Address, String> = state
        .resources
        .iter()
        .map(|(a, r)| (a.clone(), r.id.clone()))
        .collect();
    for c in &plan.changes {
        match (c.action, &c.id) {
            (Action::Create | Action::Replace, _) => {
                ids.insert(c.address.clone(), placeholder(&c.address));
            }
            (Action::Import, Some(id)) => {
                ids.insert(c.address.clone(), id.clone());
            }
            _ => {}
        }
    }
    ids
}

impl Org for OrgView {
    fn get(&self, kind: Kind, id: &str) -> Option<&Object> {
        let i = *self.index.get(&kind)?.get(id)?;
        self.entities.get(&kind)?.get(i)
    }

    fn all(&self, kind: Kind) -> Vec<&Object> {
        self.entities
            .get(&kind)
            .map(|l| l.iter().collect())
            .unwrap_or_default()
    }

    fn id_by_code(&self, kind: Kind, code: &str) -> Option<&str> {
        self.entities
            .get(&kind)?
            .iter()
            .find(|o| o.get("code").and_then(Value::as_str) == Some(code))
            .and_then(id_of)
    }

    fn bills(&self, account_id: &str) -> Vec<&Object> {
        self.bills
            .get(account_id)
            .map(|l| l.iter().collect())
            .unwrap_or_default()
    }

    fn balance_transactions(&self, balance_id: &str) -> Vec<&Object> {
        self.transactions
            .get(balance_id)
            .map(|l| l.iter().collect())
            .unwrap_or_default()
    }
}
