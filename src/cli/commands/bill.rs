//! `m3ter bill run|list|show`.

use std::process::ExitCode;

use crate::cli::{Connection, Global};

/// `bill` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum BillCommand {
    /// Create a bill job, wait for it and print the bills.
    Run(BillRunArgs),
    /// List bills.
    List(BillListArgs),
    /// Show one bill with its line items.
    Show(BillShowArgs),
}

/// Arguments of `bill run`.
#[derive(Debug, clap::Args)]
pub struct BillRunArgs {
    #[command(flatten)]
    pub conn: Connection,
    #[arg(long)]
    pub bill_date: String,
    #[arg(long)]
    pub last_date_in_period: Option<String>,
    #[arg(long = "account")]
    pub accounts: Vec<String>,
}

/// Arguments of `bill list`.
#[derive(Debug, clap::Args)]
pub struct BillListArgs {
    #[command(flatten)]
    pub conn: Connection,
    #[arg(long = "account")]
    pub accounts: Vec<String>,
}

/// Arguments of `bill show`.
#[derive(Debug, clap::Args)]
pub struct BillShowArgs {
    #[command(flatten)]
    pub conn: Connection,
    pub id: String,
}

/// Runs a `bill` subcommand.
pub fn run(_g: &Global, _c: &BillCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`m3ter bill` is not implemented yet")
}
