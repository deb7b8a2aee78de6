//! `m3ter validate`.

use std::process::ExitCode;

use crate::cli::Global;

/// Runs the command.
pub fn run(_g: &Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`m3ter validate` is not implemented yet")
}
