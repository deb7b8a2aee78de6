//! `m3ter ingest`.

use std::process::ExitCode;

use crate::cli::Global;

/// Arguments of `ingest`.
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    #[command(flatten)]
    pub conn: crate::cli::Connection,
    /// Meter code.
    #[arg(long)]
    pub meter: Option<String>,
    /// Account codes.
    #[arg(long = "account")]
    pub accounts: Vec<String>,
    #[arg(long, default_value_t = 100)]
    pub count: usize,
    #[arg(long)]
    pub from: Option<String>,
    #[arg(long)]
    pub to: Option<String>,
    /// FIELD=MIN..MAX (repeatable).
    #[arg(long = "measure")]
    pub measures: Vec<String>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Submit measurements from a JSON Lines or CSV file.
    #[arg(long)]
    pub file: Option<std::path::PathBuf>,
}
/// Runs the command.
pub fn run(_g: &Global, _a: &IngestArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`m3ter ingest` is not implemented yet")
}
