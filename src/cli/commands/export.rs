//! `m3ter export`.

use std::process::ExitCode;

use crate::cli::Global;

/// Arguments of `export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub conn: crate::cli::Connection,
    #[arg(long, value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
}
/// Runs the command.
pub fn run(_g: &Global, _a: &ExportArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`m3ter export` is not implemented yet")
}
