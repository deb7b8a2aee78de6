//! `m3ter plan`: load the desired state, refresh the org, diff, and print
//! (or save) the plan. Read-only: takes no lock and changes nothing.

use std::collections::BTreeSet;
use std::process::ExitCode;

use anyhow::Context;

use crate::address::Address;
use crate::cli::commands::validate::{load_checked, report};
use crate::cli::session::Session;
use crate::cli::{Connection, Global, connect, output};
use crate::desired::DesiredState;
use crate::graph::Graph;
use crate::live::{LiveSnapshot, refresh};
use crate::plan::{self, Plan, PlanOptions, render};
use crate::state::{State, StateStore};

/// Arguments of `plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub conn: Connection,
    /// Save the plan to FILE (JSON) for `apply FILE`.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
    /// Exit 0 when nothing to do, 2 when the plan has actions, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Only show drift: what refresh would accept into state.
    #[arg(long)]
    pub refresh_only: bool,
    /// Limit the plan to these addresses and their dependencies.
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,
}

/// Runs the command.
pub fn run(g: &Global, a: &PlanArgs) -> anyhow::Result<ExitCode> {
    let Some((desired, graph)) = load_or_report(g) else {
        return Ok(ExitCode::from(1));
    };
    let opts = PlanOptions {
        targets: targets(&a.targets, &graph)?,
        refresh_only: a.refresh_only,
        destroy: false,
    };
    let made = connect::runtime()?.block_on(async {
        let session = Session::open(g, &a.conn).await?;
        let result = make(&session, &desired, &opts, false).await;
        session.close().await?;
        result
    })?;
    let plan = made.plan;
    print(g, &plan);
    if let Some(out) = &a.out {
        plan.save(out)
            .with_context(|| format!("cannot save the plan to {}", out.display()))?;
        if !g.json {
            println!(
                "\nSaved the plan to {}. Apply exactly it with `m3ter apply {}`.",
                out.display(),
                out.display()
            );
        }
    }
    Ok(if a.detailed_exitcode && plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Loads `--dir`; on failure prints the diagnostics and returns `None`.
pub fn load_or_report(g: &Global) -> Option<(DesiredState, Graph)> {
    match load_checked(g) {
        Ok(x) => Some(x),
        Err(diags) => {
            report(g, &diags);
            None
        }
    }
}

/// Parses `--target` addresses and closes them over their dependencies.
pub fn targets(given: &[String], graph: &Graph) -> anyhow::Result<Option<BTreeSet<Address>>> {
    if given.is_empty() {
        return Ok(None);
    }
    let mut addrs = Vec::new();
    for t in given {
        let a: Address = t.parse().with_context(|| format!("--target {t}"))?;
        if !graph.contains(&a) {
            anyhow::bail!("--target {a}: no such entity in the desired state");
        }
        addrs.push(a);
    }
    Ok(Some(graph.closure(addrs.iter())))
}

/// A plan with what it was made from.
pub struct Made {
    pub plan: Plan,
    pub state: State,
    pub live: LiveSnapshot,
}

/// Refreshes the org and plans against the state file (read without a lock
/// unless `locked`, in which case the caller holds it).
pub async fn make(
    session: &Session,
    desired: &DesiredState,
    opts: &PlanOptions,
    _locked: bool,
) -> anyhow::Result<Made> {
    let s = &session.settings;
    let store = StateStore::open(&s.state_path, &s.org_id, &s.base_url, false)?;
    let live = refresh(&session.client)
        .await
        .context("cannot read the org")?;
    let plan = plan::plan(desired, store.state(), &live, opts)?;
    Ok(Made {
        plan,
        state: store.state().clone(),
        live,
    })
}

/// Prints a plan: human text (with warnings on stderr) or `--json`.
pub fn print(g: &Global, plan: &Plan) {
    for w in &plan.warnings {
        eprintln!("warning: {w}");
    }
    if g.json {
        println!("{}", render::json(plan));
    } else {
        print!("{}", render::human(plan, output::use_color(g)));
    }
}
