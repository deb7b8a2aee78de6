//! `m3ter apply`.

use std::process::ExitCode;

use crate::cli::Global;

/// Arguments of `apply`.
#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub conn: crate::cli::Connection,
    /// A plan saved by `plan -o`.
    pub planfile: Option<std::path::PathBuf>,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// Operations run at once.
    #[arg(long, default_value_t = 8)]
    pub parallelism: usize,
    /// Limit to these addresses and their dependencies.
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,
    /// Apply even when updates plus deletes exceed 30% of managed entities.
    #[arg(long)]
    pub force: bool,
}
/// Runs the command.
pub fn run(_g: &Global, _a: &ApplyArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`m3ter apply` is not implemented yet")
}
