//! Workspaces (`--workspace NAME`, `$M3TER_WORKSPACE`): several environments
//! of one org (e.g. one per `suffix` of the example), each with its own
//! state file `state/<org-id>.<NAME>.json` (`state/local.<NAME>.json` with
//! `--local`), so applying one never plans to delete another.

use std::collections::BTreeMap;

use anyhow::bail;
use serde_json::Value;

use super::connect::is_safe_name;
use crate::plan::{Action, Plan};
use crate::state::State;

/// The file name of a state file: `<base>.json`, or `<base>.<NAME>.json` in
/// workspace NAME (`base` is an org id or `local`).
pub(crate) fn state_file_name(base: &str, workspace: Option<&str>) -> String {
    match workspace {
        Some(ws) => format!("{base}.{ws}.json"),
        None => format!("{base}.json"),
    }
}

/// The workspace name, checked: it becomes part of a file name.
pub(crate) fn checked(name: Option<&str>) -> anyhow::Result<Option<&str>> {
    let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if !is_safe_name(name) {
        bail!(
            "--workspace `{name}` is not a workspace name: use letters, digits, `_` and `-` only (e.g. --workspace api_7)"
        );
    }
    Ok(Some(name))
}

/// Adds a warning to a plan that deletes entities while the variables
/// differ from the last apply recorded in state: the likely cause is a new
/// environment (a new `suffix`) planned against the old one's state.
pub(crate) fn warn_on_environment_switch(plan: &mut Plan, state: &State) {
    if let Some(w) = environment_switch(plan, &state.variables) {
        plan.warnings.push(w);
    }
}

fn environment_switch(plan: &Plan, applied: &BTreeMap<String, Value>) -> Option<String> {
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
    let suggestion = changed
        .iter()
        .map(|(_, _, new)| text(new))
        .find(|v| is_safe_name(v))
        .unwrap_or_else(|| "NAME".into());
    Some(format!(
        "this plan deletes {deletes} entit{} last applied with {} (now {}); to keep both environments, give each its own workspace: --workspace {suggestion}",
        if deletes == 1 { "y" } else { "ies" },
        was.join(", "),
        now.join(", "),
    ))
}

/// A variable value as written on a command line.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert_eq!(checked(Some("api_7")).expect("ok"), Some("api_7"));
        assert_eq!(checked(None).expect("ok"), None);
        assert_eq!(checked(Some(" ")).expect("ok"), None);
        for bad in ["a.b", "../x", "a b", "ü"] {
            let err = checked(Some(bad)).expect_err(bad).to_string();
            assert!(err.contains("letters, digits"), "{err}");
        }
        assert_eq!(state_file_name("local", Some("w")), "local.w.json");
        assert_eq!(state_file_name("org", None), "org.json");
    }
}
