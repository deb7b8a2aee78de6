//! `m3ter graph`: the dependency graph of the desired state in Graphviz DOT
//! on stdout (`m3ter graph | dot -Tsvg > graph.svg`).

use std::io::Write;
use std::process::ExitCode;

use super::validate::{load_checked, report};
use crate::cli::Global;

/// Runs the command.
pub fn run(g: &Global) -> anyhow::Result<ExitCode> {
    match load_checked(g) {
        Ok((_, graph)) => {
            let mut out = std::io::stdout().lock();
            match out
                .write_all(graph.to_dot().as_bytes())
                .and_then(|()| out.flush())
            {
                // `m3ter graph | head` is not an error.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(anyhow::Error::new(e).context("cannot write the graph to stdout"))
                }
                _ => Ok(ExitCode::SUCCESS),
            }
        }
        Err(diags) => {
            report(g, &diags);
            Ok(ExitCode::from(1))
        }
    }
}
