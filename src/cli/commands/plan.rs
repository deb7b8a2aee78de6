//! `m3ter plan`.

use std::process::ExitCode;

use crate::cli::Global;

/// Arguments of `plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub conn: crate::cli::Connection,
    /// Save the plan to FILE (JSON) for `apply FILE`.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
    /// Exit 0 when nothing to do, 2 when the plan has actions, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Only show drift: what refresh would accept into state.
    #[arg(long)]
    pub refresh_only: bool,
    /// Limit the plan to these addresses and their dependencies.
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,
}
/// Runs the command.
pub fn run(_g: &Global, _a: &PlanArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`m3ter plan` is not implemented yet")
}
