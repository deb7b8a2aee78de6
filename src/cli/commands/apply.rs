//! `m3ter apply [PLANFILE]`: converge the org, saving state after every
//! remote change. Also the engine of `m3ter destroy`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::apply::{self, ApplyOptions, Event};
use crate::cli::commands::plan::{load_or_report, print, targets};
use crate::cli::session::Session;
use crate::cli::{Connection, Global, connect, hint, output, workspace};
use crate::live::{LiveSnapshot, refresh};
use crate::plan::{self, MASS_CHANGE_RATIO, Plan, PlanOptions};
use crate::state::StateStore;

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
    /// Apply even when updates plus deletes exceed 30% of managed entities.
    #[arg(long)]
    pub force: bool,
}

/// Runs the command.
pub fn run(g: &Global, a: &ApplyArgs) -> anyhow::Result<ExitCode> {
    if a.planfile.is_some() && !a.targets.is_empty() {
        bail!("`apply PLANFILE` takes no --target: the plan file already says what to do");
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
                None => plan_and_apply(g, &session, &a.targets, false, &how).await,
            };
            session.close().await?;
            result
        })
    })
}

/// How to go about it: confirmation, mass-change override, concurrency.
pub struct How {
    pub auto_approve: bool,
    pub force: bool,
    pub parallelism: usize,
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
    let mut store = open_locked(session)?;
    let live = refresh(&session.client)
        .await
        .context("cannot read the org")?;
    let why = apply::stale::check(&plan, store.state_mut(), &live);
    if !why.is_empty() {
        bail!(
            "the saved plan {} is stale: {}. Make a new one with `m3ter plan -o {}`",
            file.display(),
            why.join("; "),
            file.display()
        );
    }
    forget_gone(g, &plan, &mut store)?;
    let report = execute(g, session, &mut store, &plan, &live, how).await?;
    Ok(exit_code(&report))
}

/// Plans (a destroy plan when `destroy`), prints, asks, applies. A destroy
/// succeeds only when the state manages nothing afterwards.
pub async fn plan_and_apply(
    g: &Global,
    session: &Session,
    target_args: &[String],
    destroy: bool,
    how: &How,
) -> anyhow::Result<ExitCode> {
    let Some((desired, graph)) = load_or_report(g) else {
        return Ok(ExitCode::from(1));
    };
    let opts = PlanOptions {
        targets: targets(target_args, &graph)?,
        refresh_only: false,
        destroy,
    };
    let mut store = open_locked(session)?;
    let live = refresh(&session.client)
        .await
        .context("cannot read the org")?;
    let mut plan = plan::plan(&desired, store.state(), &live, &opts)?;
    workspace::warn_on_environment_switch(&mut plan, store.state());
    print(g, &plan);
    let report = if plan.changes.is_empty() {
        forget_gone(g, &plan, &mut store)?;
        apply::Report::default()
    } else {
        if !how.auto_approve {
            confirm(destroy)?;
        }
        forget_gone(g, &plan, &mut store)?;
        execute(g, session, &mut store, &plan, &live, how).await?
    };
    if destroy {
        return Ok(super::destroy::check_nothing_left(store.state(), &report));
    }
    Ok(exit_code(&report))
}

/// Drops from state the entities that were deleted outside this tool and
/// are no longer desired (or, for a destroy plan, whatever the desired
/// state says): the plan shows them as drift only (there is nothing left to
/// delete), so apply is where state catches up.
fn forget_gone(g: &Global, plan: &Plan, store: &mut StateStore) -> anyhow::Result<()> {
    let gone: Vec<_> = plan
        .drift
        .iter()
        .filter(|d| d.after.is_none() && plan.change(&d.address).is_none())
        .filter(|d| plan.destroy || !plan.desired.entities.contains_key(&d.address))
        .map(|d| d.address.clone())
        .collect();
    if gone.is_empty() {
        return Ok(());
    }
    for address in &gone {
        store.state_mut().resources.remove(address);
    }
    store.commit()?;
    if !g.json {
        let why = if plan.destroy {
            "already deleted outside m3ter-reconcile"
        } else {
            "deleted outside m3ter-reconcile and no longer desired"
        };
        for address in &gone {
            output::emit(&format!("{address}: forgotten ({why})"));
        }
    }
    Ok(())
}

fn open_locked(session: &Session) -> anyhow::Result<StateStore> {
    let s = &session.settings;
    if let Some(dir) = s.state_path.parent().filter(|d| !d.as_os_str().is_empty()) {
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

/// The mass-change rule of design §4: updates plus deletes above 30% of the
/// managed entities (with at least 10 managed) need `--force`.
fn check_mass_change(plan: &Plan, managed: usize, force: bool) -> anyhow::Result<()> {
    match plan.mass_change(managed) {
        Some(touched) if !force => bail!(
            "this plan updates, replaces or deletes {touched} of {managed} managed entities (more than {:.0}%); if that is intended, run again with --force",
            MASS_CHANGE_RATIO * 100.0
        ),
        _ => Ok(()),
    }
}

/// Runs the plan and prints its progress and summary; the caller turns the
/// report into an exit code.
async fn execute(
    g: &Global,
    session: &Session,
    store: &mut StateStore,
    plan: &Plan,
    live: &LiveSnapshot,
    how: &How,
) -> anyhow::Result<apply::Report> {
    check_mass_change(plan, store.state().resources.len(), how.force)?;
    let opts = ApplyOptions {
        parallelism: how.parallelism.max(1),
    };
    // Saved with the first change: what the next plan compares against.
    store.state_mut().variables = plan.desired.variables.clone();
    let json = g.json;
    let report = apply::execute(plan, live, &session.client, store, &opts, |e| {
        print_event(e, g);
    })
    .await?;
    if json {
        let summary = serde_json::json!({
            "type": "summary",
            "complete": report.complete(),
            "imported": report.imported,
            "added": report.added,
            "changed": report.changed,
            "destroyed": report.destroyed,
            "failed": report.failures.len(),
            "skipped": report.skipped,
            "interrupted": report.interrupted,
        });
        output::emit(&summary.to_string());
    } else {
        output::emit(&format!("\n{}", report.summary_line()));
        for failure in &report.failures {
            eprintln!(
                "error: {}: {}",
                failure.address,
                hint::complete(g, &failure.source.to_string())
            );
        }
        if report.skipped > 0 {
            eprintln!(
                "{} operation(s) not run{}; run `{}` again to finish.",
                report.skipped,
                if report.interrupted {
                    " (interrupted)"
                } else {
                    " because what they wait for failed"
                },
                hint::command(g, &["apply"])
            );
        }
    }
    Ok(report)
}

/// 0 when everything the plan asked for was done, else 1.
fn exit_code(report: &apply::Report) -> ExitCode {
    if report.complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn print_event(e: &Event, g: &Global) {
    if g.json {
        let mut v = serde_json::to_value(e).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("type".into(), "operation".into());
            // Errors have one shape in every JSON output (design §4).
            if let Some(message) = o.remove("error") {
                let error = serde_json::json!({ "message": message, "address": e.address });
                o.insert("error".into(), error);
            }
        }
        output::emit(&v.to_string());
        return;
    }
    match (&e.done, &e.error) {
        (Some(done), _) => output::emit(&format!(
            "{}: {} after {:.2}s{}",
            e.address,
            done.verb(),
            e.duration.as_secs_f64(),
            e.id.as_ref()
                .map(|id| format!(" [id={id}]"))
                .unwrap_or_default()
        )),
        (None, Some(err)) => eprintln!(
            "{}: {} failed: {}",
            e.address,
            e.action,
            hint::complete(g, err)
        ),
        (None, None) => {}
    }
}
