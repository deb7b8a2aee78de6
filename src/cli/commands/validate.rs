//! `m3ter validate`: offline; loads `--dir` with `--var`/`$M3TER_VAR_*`,
//! checks every documented limit, the references, the rules of
//! `m3ter_api::rules` and the graph.

use std::process::ExitCode;

use crate::cli::{Global, output, render};

/// Runs the command: exit 0 and a success line, or exit 1 and every
/// problem found.
pub fn run(g: &Global) -> anyhow::Result<ExitCode> {
    match render::load(g) {
        Ok((state, _)) => {
            let n = state.entities.len();
            if g.json {
                let mut doc = serde_json::json!({"valid": true, "entities": n});
                if !state.warnings.is_empty() {
                    let w: Vec<_> = state.warnings.iter().map(|d| d.fields_json()).collect();
                    doc["warnings"] = w.into();
                }
                output::emit(&doc.to_string());
            } else {
                output::emit(&format!("Success! {n} entities valid."));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(diags) => {
            render::diagnostics(g, &diags);
            Ok(ExitCode::from(1))
        }
    }
}
