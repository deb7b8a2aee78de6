//! `m3ter destroy`: delete every managed entity, dependents first.

use std::process::ExitCode;

use crate::cli::commands::apply::{How, plan_and_apply};
use crate::cli::session::Session;
use crate::cli::{Connection, Global, connect};

/// Arguments of `destroy`.
#[derive(Debug, clap::Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub conn: Connection,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// Operations run at once.
    #[arg(long, default_value_t = 8)]
    pub parallelism: usize,
}

/// Runs the command.
pub fn run(g: &Global, a: &DestroyArgs) -> anyhow::Result<ExitCode> {
    let how = How {
        auto_approve: a.auto_approve,
        force: true,
        parallelism: a.parallelism,
    };

    connect::runtime().and_then(|rt| {
        rt.block_on(async {
            let session = Session::open(g, &a.conn).await?;
            let result = plan_and_apply(g, &session, &[], true, &how).await;
            session.close().await?;
            result
        })
    })
}
