//! Moves: the `moved:` entries that apply to this state, and re-keying the
//! state for them (also `m3ter state mv`).

use serde::{Deserialize, Serialize};

use super::PlanError;
use crate::address::Address;
use crate::desired::DesiredState;
use crate::state::State;

/// A state-only action: the entity managed as `from` is managed as `to`
/// from now on. Apply re-keys the state before any remote step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moved {
    pub from: Address,
    pub to: Address,
    /// The live id (unchanged by the move).
    pub id: String,
}

/// The `moved:` entries whose `from` is in `state` (the others are no-ops,
/// as in Terraform, so an entry can stay after its apply).
///
/// Errors when `to` is in state too: two managed entities would claim one
/// address.
pub(crate) fn effective(desired: &DesiredState, state: &State) -> Result<Vec<Moved>, PlanError> {
    let mut out = Vec::new();
    for m in &desired.moved {
        let Some(rs) = state.resources.get(&m.from) else {
            continue;
        };
        if let Some(other) = state.resources.get(&m.to) {
            return Err(PlanError::MovedOntoManaged {
                from: m.from.clone(),
                to: m.to.clone(),
                id: other.id.clone(),
            });
        }
        out.push(Moved {
            from: m.from.clone(),
            to: m.to.clone(),
            id: rs.id.clone(),
        });
    }
    Ok(out)
}

/// Re-keys `from` as `to` in `state`, dependencies included. Returns
/// false (and changes nothing) when `from` is not in state.
pub fn rekey(state: &mut State, from: &Address, to: &Address) -> bool {
    let Some(rs) = state.resources.remove(from) else {
        return false;
    };
    state.resources.insert(to.clone(), rs);
    for r in state.resources.values_mut() {
        for dep in &mut r.depends_on {
            if dep == from {
                *dep = to.clone();
            }
        }
    }
    true
}
