//! Stage three: the plan, from the desired state, the state and the org.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{Loaded, PipelineError};
use crate::address::Address;
use crate::live::LiveSnapshot;
use crate::plan::{self, Action, Plan, PlanOptions, PlanWarning};
use crate::state::{State, is_safe_name};

/// Plans the changes that converge `live` to the loaded desired state
/// (`destroy`: deletes every managed entity), limited to `targets` (from
/// [`targets`](super::targets)). Adds the warnings that need the state. The
/// desired state moves into the plan.
pub fn plan(
    loaded: Loaded,
    state: &State,
    live: &LiveSnapshot,
    targets: Option<BTreeSet<Address>>,
    refresh_only: bool,
    destroy: bool,
) -> Result<Plan, PipelineError> {
    let opts = PlanOptions {
        targets,
        refresh_only,
        destroy,
        ..PlanOptions::default()
    };
    plan_with(loaded, state, live, opts)
}

/// [`plan`] with every planner option (`--replace` among them).
pub fn plan_with(
    (desired, graph): Loaded,
    state: &State,
    live: &LiveSnapshot,
    mut opts: PlanOptions,
) -> Result<Plan, PipelineError> {
    // The planner walks this order instead of building the graph again.
    opts.order.get_or_insert_with(|| graph.topo_order());
    // Not needed any more (a library call frees what it no longer needs;
    // only the binary's edge leaves its last values to the process exit).
    drop(graph);
    let mut desired = desired;
    // Salted with this state's lineage: its hashes mean nothing elsewhere.
    crate::sensitive::seal(&mut desired, &state.lineage);
    let mut plan = plan::plan_owned(desired, state, live, &opts)?;
    warn_on_environment_switch(&mut plan, state);
    Ok(plan)
}

fn warn_on_environment_switch(plan: &mut Plan, state: &State) {
    if let Some(w) = environment_switch(plan, &state.variables) {
        plan.warnings.push(w);
    }
}

fn environment_switch(plan: &Plan, applied: &BTreeMap<String, Value>) -> Option<PlanWarning> {
    if plan.destroy {
        return None;
    }
    let deletes = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .count();
    let changed: Vec<(&String, &Value, &Value)> = applied
        .iter()
        .filter_map(|(name, old)| {
            let new = plan.desired.variables.get(name)?;
            (new != old).then_some((name, old, new))
        })
        .collect();
    if deletes == 0 || changed.is_empty() {
        return None;
    }
    let was: Vec<String> = changed
        .iter()
        .map(|(n, old, _)| format!("{n}={}", text(old)))
        .collect();
    let now: Vec<String> = changed.iter().map(|(_, _, new)| text(new)).collect();
    let workspace = changed
        .iter()
        .map(|(_, _, new)| text(new))
        .find(|v| is_safe_name(v))
        .unwrap_or_else(|| "NAME".into());
    Some(PlanWarning::EnvironmentSwitch {
        deletes,
        was,
        now,
        workspace,
    })
}

/// A variable value as written on a command line.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
