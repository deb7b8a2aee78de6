//! `m3ter destroy`: delete every managed entity, dependents first.

use std::process::ExitCode;

use crate::apply::Report;
use crate::cli::converge::{How, plan_and_apply};
use crate::cli::session::Session;
use crate::cli::{Connection, Global, connect};
use crate::state::State;

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
            let result =
                plan_and_apply(g, &session, &[], true, &how)
                    .await
                    .map(|done| match done {
                        Some((report, store)) => check_nothing_left(store.state(), &report),
                        None => ExitCode::from(1),
                    });
            session.close().await?;
            result
        })
    })
}

/// The exit code of a destroy: 0 only when the state manages nothing any
/// more. Otherwise prints what is left and why (its delete failed, it was
/// not run) and returns 1, so CI does not take a half-done destroy for a
/// finished one.
fn check_nothing_left(state: &State, report: &Report) -> ExitCode {
    if state.resources.is_empty() {
        return ExitCode::SUCCESS;
    }
    let n = state.resources.len();
    let mut lines = vec![format!(
        "error: destroy left {n} managed entit{} in state:",
        if n == 1 { "y" } else { "ies" }
    )];
    for address in state.resources.keys() {
        let why = match report.failures.iter().find(|f| &f.address == address) {
            Some(failure) => format!("its delete failed: {}", failure.source),
            None if report.interrupted => "not deleted: the run was interrupted".to_string(),
            None if report.skipped > 0 => {
                "not deleted: the delete of an entity that depends on it failed".to_string()
            }
            None => "still managed".to_string(),
        };
        lines.push(format!("  {address}: {why}"));
    }
    lines.push(
        "Fix the cause and run `m3ter destroy` again, or stop managing an entity without deleting it with `m3ter state rm ADDR`.".to_string(),
    );
    eprintln!("{}", lines.join("\n"));
    ExitCode::from(1)
}
