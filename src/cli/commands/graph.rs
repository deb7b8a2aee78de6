//! `m3ter graph`: the dependency graph of the desired state in Graphviz DOT
//! on stdout (`m3ter graph | dot -Tsvg > graph.svg`).

use std::process::ExitCode;

use super::validate::{load_checked, report};
use crate::cli::Global;

/// Runs the command.
pub fn run(g: &Global) -> anyhow::Result<ExitCode> {
    match load_checked(g) {
        Ok((_, graph)) => {
            print!("{}", graph.to_dot());
            Ok(ExitCode::SUCCESS)
        }
        Err(diags) => {
            report(g, &diags);
            Ok(ExitCode::from(1))
        }
    }
}
