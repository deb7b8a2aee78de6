//! `m3ter validate`: offline; loads `--dir` with `--var`/`$M3TER_VAR_*`,
//! checks every documented limit, the references and the graph.

use std::process::ExitCode;

use crate::cli::Global;
use crate::desired::{DesiredState, Diagnostics};
use crate::graph::Graph;

/// Runs the command: exit 0 and a success line, or exit 1 and every
/// problem found.
pub fn run(g: &Global) -> anyhow::Result<ExitCode> {
    match load_checked(g) {
        Ok((state, _)) => {
            let n = state.entities.len();
            if g.json {
                crate::cli::output::emit(&format!(
                    "{}",
                    serde_json::json!({"valid": true, "entities": n})
                ));
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
pub fn load_checked(g: &Global) -> Result<(DesiredState, Graph), Diagnostics> {
    crate::cli::render::load(g)
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
