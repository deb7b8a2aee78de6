//! `m3ter state list|show|rm` and `m3ter force-unlock`.

use std::process::ExitCode;

use crate::cli::{Connection, Global};

/// `state` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum StateCommand {
    /// List the addresses in state.
    List(StateArgs),
    /// Show one entity's state.
    Show(StateAddrArgs),
    /// Forget an entity (it is left alone in the org).
    Rm(StateAddrArgs),
}

/// Arguments of `state list`.
#[derive(Debug, clap::Args)]
pub struct StateArgs {
    #[command(flatten)]
    pub conn: Connection,
}

/// Arguments of `state show|rm`.
#[derive(Debug, clap::Args)]
pub struct StateAddrArgs {
    #[command(flatten)]
    pub conn: Connection,
    pub address: String,
}

/// Arguments of `force-unlock`.
#[derive(Debug, clap::Args)]
pub struct ForceUnlockArgs {
    #[command(flatten)]
    pub conn: Connection,
}

/// Runs a `state` subcommand.
pub fn run(_g: &Global, _c: &StateCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`m3ter state` is not implemented yet")
}

/// Runs `force-unlock`.
pub fn force_unlock(_g: &Global, _a: &ForceUnlockArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`m3ter force-unlock` is not implemented yet")
}
