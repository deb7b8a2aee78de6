//! `m3ter destroy`.

use std::process::ExitCode;

use crate::cli::Global;

/// Arguments of `destroy`.
#[derive(Debug, clap::Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub conn: crate::cli::Connection,
    #[arg(long)]
    pub auto_approve: bool,
}
/// Runs the command.
pub fn run(_g: &Global, _a: &DestroyArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`m3ter destroy` is not implemented yet")
}
