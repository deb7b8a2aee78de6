//! `m3ter import`.

use std::process::ExitCode;

use crate::cli::Global;

/// Arguments of `import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub conn: crate::cli::Connection,
    /// Address in desired state, e.g. product.aws_lambda.
    pub address: String,
    /// Id of the live entity.
    pub id: String,
}
/// Runs the command.
pub fn run(_g: &Global, _a: &ImportArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`m3ter import` is not implemented yet")
}
