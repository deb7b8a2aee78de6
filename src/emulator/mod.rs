//! The local m3ter API emulator: a real HTTP server (axum) speaking m3ter's
//! paths, auth, JSON, pagination, versioning and errors.

use std::process::ExitCode;

/// Options of `m3ter emulator` (`shared/design.md` §6).
#[derive(Debug, Clone, clap::Args)]
pub struct EmulatorArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
}

/// Runs `m3ter emulator` until SIGINT/SIGTERM.
pub fn run_cli(_args: &EmulatorArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`m3ter emulator` is not implemented yet")
}
