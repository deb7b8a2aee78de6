//! The flow `apply` and `destroy` share: plan, print, ask, apply, over the
//! pipeline's stages. Here rather than in either command, so commands never
//! import each other.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, bail};

use super::session::Session;
use super::{Global, render};
use crate::apply::Report;
use crate::live::{LiveSnapshot, refresh};
use crate::pipeline::{self, Converge};
use crate::plan::Plan;
use crate::state::StateStore;

/// How to go about it: confirmation, mass-change override, concurrency.
pub(crate) struct How {
    pub auto_approve: bool,
    pub force: bool,
    pub parallelism: usize,
}

impl How {
    fn converge(&self) -> Converge {
        Converge {
            force: self.force,
            parallelism: self.parallelism,
        }
    }
}

/// Plans (a destroy plan when `destroy`), prints, asks, applies. `None`
/// when the desired state is invalid (its diagnostics are printed); else
/// the report and the state as apply left it.
pub(crate) async fn plan_and_apply(
    g: &Global,
    session: &Session,
    target_args: &[String],
    destroy: bool,
    how: &How,
) -> anyhow::Result<Option<(Report, StateStore)>> {
    let Some(loaded) = render::load_or_report(g) else {
        return Ok(None);
    };
    let targets = pipeline::targets(target_args, &loaded.1)?;
    let mut store = open_locked(session)?;
    let live = read_org(session).await?;
    let plan = pipeline::plan(loaded, store.state(), &live, targets, false, destroy)?;
    render::plan(g, &plan);
    if !plan.changes.is_empty() && !how.auto_approve {
        confirm(destroy)?;
    }
    let report = run(g, session, &mut store, &plan, &live, how).await?;
    if !plan.changes.is_empty() {
        render::summary(g, &report);
    }
    Ok(Some((report, store)))
}

/// Applies a saved plan whose freshness the caller checked, and prints the
/// summary.
pub(crate) async fn apply_checked(
    g: &Global,
    session: &Session,
    store: &mut StateStore,
    plan: &Plan,
    live: &LiveSnapshot,
    how: &How,
) -> anyhow::Result<Report> {
    let report = run(g, session, store, plan, live, how).await?;
    render::summary(g, &report);
    Ok(report)
}

async fn run(
    g: &Global,
    session: &Session,
    store: &mut StateStore,
    plan: &Plan,
    live: &LiveSnapshot,
    how: &How,
) -> anyhow::Result<Report> {
    let on_event = |e: pipeline::Event<'_>| render::event(g, e);
    Ok(pipeline::apply(plan, live, &session.client, store, how.converge(), on_event).await?)
}

/// The whole org, read for a plan.
pub(crate) async fn read_org(session: &Session) -> anyhow::Result<LiveSnapshot> {
    refresh(&session.client)
        .await
        .context("cannot read the org")
}

/// The state file, locked for the whole run (its directory made if need be).
pub(crate) fn open_locked(session: &Session) -> anyhow::Result<StateStore> {
    let s = &session.settings;
    let file = s.state_path.as_file();
    if let Some(dir) = file
        .and_then(|f| f.parent())
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    Ok(StateStore::open(
        &s.state_path,
        &s.org_id,
        &s.base_url,
        true,
    )?)
}

/// Asks for `yes` on a terminal; refuses without one.
fn confirm(destroy: bool) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!(
            "refusing to {} without confirmation: there is no terminal to ask on. Review the plan above, then pass --auto-approve",
            if destroy { "destroy" } else { "apply" }
        );
    }
    let what = if destroy {
        "destroy every managed entity"
    } else {
        "perform these actions"
    };
    print!("\nDo you want to {what}? Only 'yes' will be accepted.\n  Enter a value: ");
    std::io::stdout().flush().ok();
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .context("cannot read the answer")?;
    if answer.trim() != "yes" {
        bail!("apply cancelled: the answer was not `yes`");
    }
    Ok(())
}
