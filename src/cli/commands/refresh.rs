//! `m3ter refresh`.

use std::process::ExitCode;

use crate::cli::Global;

/// Arguments of `refresh`.
#[derive(Debug, clap::Args)]
pub struct RefreshArgs {
    #[command(flatten)]
    pub conn: crate::cli::Connection,
}
/// Runs the command.
pub fn run(_g: &Global, _a: &RefreshArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`m3ter refresh` is not implemented yet")
}
