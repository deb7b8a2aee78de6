//! `m3ter apply [PLANFILE]`: converge the org, saving state after every
//! remote change.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::apply::{self, Report};
use crate::cli::converge::{How, apply_checked, open_locked, plan_and_apply_with, read_org};
use crate::cli::session::Session;
use crate::cli::{Connection, Global, connect};
use crate::plan::Plan;

/// Arguments of `apply`.
#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub conn: Connection,
    /// A plan saved by `plan -o`; applied exactly, or refused if stale.
    pub planfile: Option<PathBuf>,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// Operations run at once.
    #[arg(long, default_value_t = 8)]
    pub parallelism: usize,
    /// Limit to these addresses and their dependencies.
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,
    /// Replace (delete, then create) this entity even when nothing forces it
    /// (repeatable); what depends on it follows as for any replace.
    #[arg(long = "replace", value_name = "ADDR")]
    pub replace: Vec<String>,
    /// Apply even when updates plus deletes exceed 30% of managed entities.
    #[arg(long)]
    pub force: bool,
}

/// Runs the command.
pub fn run(g: &Global, a: &ApplyArgs) -> anyhow::Result<ExitCode> {
    if a.planfile.is_some() && !a.targets.is_empty() {
        bail!("`apply PLANFILE` takes no --target: the plan file already says what to do");
    }
    if a.planfile.is_some() && !a.replace.is_empty() {
        bail!(
            "`apply PLANFILE` takes no --replace: the plan file already says what to do; make the plan with `m3ter plan --replace ADDR -o FILE`"
        );
    }
    let how = How {
        auto_approve: a.auto_approve,
        force: a.force,
        parallelism: a.parallelism,
    };

    connect::runtime().and_then(|rt| {
        rt.block_on(async {
            let session = Session::open(g, &a.conn).await?;
            let result = match &a.planfile {
                Some(file) => apply_saved(g, &session, file, &how).await,
                None => plan_and_apply_with(g, &session, &a.targets, &a.replace, false, &how)
                    .await
                    .map(|done| done.map_or(ExitCode::from(1), |(r, _)| exit_code(&r))),
            };
            session.close().await?;
            result
        })
    })
}

async fn apply_saved(
    g: &Global,
    session: &Session,
    file: &std::path::Path,
    how: &How,
) -> anyhow::Result<ExitCode> {
    let plan =
        Plan::load(file).with_context(|| format!("cannot read the plan {}", file.display()))?;
    // Checked before anything is read: a plan for another org says nothing
    // about this one (and this org's reads may not even be allowed).
    if plan.org_id != session.settings.org_id {
        bail!(
            "the saved plan {} is for org {}, but this run is connected to org {}; apply it with that org's credentials",
            file.display(),
            plan.org_id,
            session.settings.org_id
        );
    }
    // The plan holds only the hashes of its secrets: read them again from
    // their variables and environment, and check them, before any request.
    crate::sensitive::reload(
        &plan.desired,
        &plan.lineage,
        &crate::desired::VarInputs::from_env(g.vars.clone()),
    )
    .with_context(|| format!("cannot apply the plan {}", file.display()))?;
    let mut store = open_locked(session)?;
    let live = read_org(session).await?;
    let why = apply::stale::check(&plan, store.state_mut(), &live);
    if !why.is_empty() {
        bail!(
            "the saved plan {} is stale: {}. Make a new one with `m3ter plan -o {}`",
            file.display(),
            why.join("; "),
            file.display()
        );
    }
    let report = apply_checked(g, session, &mut store, &plan, &live, how).await?;
    Ok(exit_code(&report))
}

/// 0 when everything the plan asked for was done, else 1.
fn exit_code(report: &Report) -> ExitCode {
    if report.complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
