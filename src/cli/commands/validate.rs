//! `m3ter validate`: offline; loads `--dir` with `--var`/`$M3TER_VAR_*`,
//! checks every documented limit, the references, the rules of
//! `m3ter_api::rules` and the graph.

use std::process::ExitCode;

use crate::cli::Global;
use crate::desired::{DesiredState, Diagnostics, VarInputs, load};
use crate::graph::Graph;

/// Runs the command: exit 0 and a success line, or exit 1 and every
/// problem found.
pub fn run(g: &Global) -> anyhow::Result<ExitCode> {
    match load_checked(g) {
        Ok((state, _)) => {
            let n = state.entities.len();
            if g.json {
                let mut doc = serde_json::json!({"valid": true, "entities": n});
                if !state.warnings.is_empty() {
                    let w: Vec<_> = state.warnings.iter().map(|d| d.fields_json()).collect();
                    doc["warnings"] = w.into();
                }
                crate::cli::output::emit(&doc.to_string());
            } else {
                crate::cli::output::emit(&format!("Success! {n} entities valid."));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(diags) => {
            report(g, &diags);
            Ok(ExitCode::from(1))
        }
    }
}

/// Loads the desired state named by the global options (`--dir`, `--var`,
/// `$M3TER_VAR_*`) and builds its graph; for every command that reads YAML.
/// Rule warnings go to stderr (`warning: file:line:column: …`); with
/// `--json` they are left to the command's document instead.
pub fn load_checked(g: &Global) -> Result<(DesiredState, Graph), Diagnostics> {
    let state = load(&g.dir, &VarInputs::from_env(g.vars.clone()))?;
    let graph = Graph::build(&state)?;
    if !g.json {
        for w in &state.warnings {
            eprintln!("warning: {w}");
        }
    }
    Ok((state, graph))
}

/// Prints desired-state problems: one `error: file:line:column: …` line
/// each on stderr, or with `--json` one `{"error": {…}}` line each on stdout.
pub fn report(g: &Global, diags: &Diagnostics) {
    if g.json {
        for d in diags.iter() {
            crate::cli::output::emit(&format!("{}", d.to_json()));
        }
    } else {
        for d in diags.iter() {
            eprintln!("error: {d}");
        }
        let n = diags.len();
        eprintln!(
            "The desired state is not valid: {n} error{}.",
            if n == 1 { "" } else { "s" }
        );
    }
}
