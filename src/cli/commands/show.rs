//! `m3ter show`.

use std::process::ExitCode;

use crate::cli::Global;

/// Arguments of `show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// A plan saved by `plan -o`; without it, the state is shown.
    pub planfile: Option<std::path::PathBuf>,
}
/// Runs the command.
pub fn run(_g: &Global, _a: &ShowArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`m3ter show` is not implemented yet")
}
