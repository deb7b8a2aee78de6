//! `m3ter graph`.

use std::process::ExitCode;

use crate::cli::Global;

/// Runs the command.
pub fn run(_g: &Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`m3ter graph` is not implemented yet")
}
