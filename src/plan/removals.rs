//! Updates that take away something a dependent uses (issue 7, "Order
//! matters"): a meter update that drops a field waits for the update or
//! delete of the aggregation that targets it, because the API refuses to
//! drop a field an aggregation still targets.
//!
//! What an entity uses of another is data from `m3ter_api::uses`, not a case
//! here: this module only compares the values a target offers before and
//! after its update with what each dependent's old and new version use.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

use super::{Action, Change, PlanError};
use crate::address::Address;
use m3ter_api::uses::{Target, offered, uses};

/// Adds to `preds` (the steps each step waits for) the waits of updates
/// that remove values a dependent's current version uses:
/// - the dependent is deleted or replaced: the update waits for its DELETE;
/// - the dependent is updated: the update waits for the dependent's PUT,
///   which then no longer waits for this update.
///
/// Fails when a dependent's new version needs a value the same update adds
/// while its old version uses one the update removes: neither PUT can go
/// first, so the plan says how to split it into two applies.
pub(super) fn wait_for_users(
    changes: &[Change],
    write_of: &HashMap<&Address, usize>,
    delete_of: &HashMap<&Address, usize>,
    preds: &mut [BTreeSet<usize>],
) -> Result<(), PlanError> {
    for t in changes {
        if !matches!(t.action, Action::Update | Action::Import) {
            continue;
        }
        let (Some(&t_write), Some(old)) = (write_of.get(&t.address), t.before.as_ref()) else {
            continue;
        };
        let kind = t.address.kind;
        let new = final_body(t);
        let (had, has) = (offered(kind, old), offered(kind, &new));
        let removed: BTreeSet<&String> = had.difference(&has).collect();
        if removed.is_empty() {
            continue;
        }
        let added: BTreeSet<&String> = has.difference(&had).collect();
        for d in changes.iter().filter(|d| d.address != t.address) {
            let Some(d_old) = d.before.as_ref() else {
                continue;
            };
            let lost = used_of(d, d_old, t);
            if !lost.iter().any(|v| removed.contains(v)) {
                continue;
            }
            match d.action {
                Action::Delete | Action::Replace => {
                    if let Some(&d_delete) = delete_of.get(&d.address) {
                        preds[t_write].insert(d_delete);
                    }
                }
                Action::Update | Action::Import => {
                    let Some(&d_write) = write_of.get(&d.address) else {
                        continue;
                    };
                    let needs: Vec<String> = used_of(d, &final_body(d), t)
                        .into_iter()
                        .filter(|v| added.contains(v))
                        .collect();
                    if !needs.is_empty() {
                        return Err(PlanError::AddsAndRemovesUsed {
                            address: t.address.clone(),
                            dependent: d.address.clone(),
                            adds: needs,
                            removes: lost.into_iter().filter(|v| removed.contains(v)).collect(),
                        });
                    }
                    preds[d_write].remove(&t_write);
                    preds[t_write].insert(d_write);
                }
                Action::Create => {}
            }
        }
    }
    Ok(())
}

/// The body an update leaves: the live values it compared, without the
/// fields it resets, with the desired managed fields over them (fields the
/// change does not manage keep their live value).
fn final_body(c: &Change) -> Map<String, Value> {
    let mut body = c.before.clone().unwrap_or_default();
    for r in &c.resets {
        body.remove(r);
    }
    if let Some(after) = &c.after {
        body.extend(after.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    body
}

/// The values of `target` that `user`'s version `body` uses. A reference in
/// `body` is the live id (a live version) or the address (a desired one).
fn used_of(user: &Change, body: &Map<String, Value>, target: &Change) -> BTreeSet<String> {
    let address = target.address.to_string();
    let names_target = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .is_some_and(|s| s == address || target.id.as_deref() == Some(s))
    };
    let code = target
        .before
        .as_ref()
        .and_then(|b| b.get("code"))
        .and_then(Value::as_str)
        .unwrap_or(&target.address.key);
    uses(user.address.kind, body)
        .into_iter()
        .filter(|u| match &u.target {
            Target::Reference(field) => names_target(body.get(*field)),
            Target::Code(kind, c) => *kind == target.address.kind && c == code,
        })
        .flat_map(|u| u.values)
        .collect()
}
