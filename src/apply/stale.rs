//! Refusing a saved plan that no longer describes the org or the state
//! (design §4: lineage, serial, org and the live versions it touched).

use serde_json::Value;

use crate::live::LiveSnapshot;
use crate::plan::Plan;
use crate::state::State;

/// Checks a saved plan against the current state and a fresh snapshot.
/// Returns every reason the plan is stale (empty = still good).
pub fn check(plan: &Plan, state: &mut State, live: &LiveSnapshot) -> Vec<String> {
    let mut why = Vec::new();
    if plan.org_id != state.org_id {
        why.push(format!(
            "the plan is for org {}, the state for org {}",
            plan.org_id, state.org_id
        ));
        return why;
    }
    let never_written = state.serial == 0 && state.resources.is_empty();
    if never_written && plan.serial == 0 {
        // No state file existed when planning nor now: the plan's lineage,
        // made for that empty state, becomes this state's.
        state.lineage = plan.lineage.clone();
    } else if plan.lineage != state.lineage {
        why.push(format!(
            "the state's lineage is {}, the plan was made from lineage {}",
            state.lineage, plan.lineage
        ));
    } else if plan.serial != state.serial {
        why.push(format!(
            "the state has been written since the plan was made (serial {} then, {} now)",
            plan.serial, state.serial
        ));
    }
    for change in &plan.changes {
        let (Some(id), Some(version)) = (&change.id, change.version) else {
            continue;
        };
        match live.by_id(change.address.kind, id) {
            None => why.push(format!(
                "{} (id {id}) no longer exists in the org",
                change.address
            )),
            Some(entity) => {
                let now = entity.get("version").and_then(Value::as_i64);
                if now != Some(version) {
                    let now = now.map_or_else(|| "none".to_string(), |v| v.to_string());
                    why.push(format!(
                        "{} changed since the plan (version {version} then, {now} now)",
                        change.address
                    ));
                }
            }
        }
    }
    why
}
