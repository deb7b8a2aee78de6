//! `m3ter plan`: load the desired state, refresh the org, diff, and print
//! (or save) the plan. Read-only: takes no lock and changes nothing.

use std::process::ExitCode;

use anyhow::Context;

use crate::cli::session::Session;
use crate::cli::{Connection, Global, connect, hint, output, render};
use crate::desired::Diagnostics;
use crate::impact::{self, BillImpact, Period};
use crate::live::{LiveSnapshot, refresh};
use crate::pipeline::{self, Loaded};
use crate::plan::{Plan, PlanOptions, PlanWarning};
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
    /// Plan a replace (delete, then create) of this entity even when nothing
    /// forces it (repeatable); what depends on it follows as for any replace.
    #[arg(long = "replace", value_name = "ADDR", conflicts_with = "refresh_only")]
    pub replace: Vec<String>,
    /// The plan `destroy` would run: delete every managed entity, dependents
    /// first. Save it with -o and apply it with `apply FILE`.
    #[arg(long, conflicts_with_all = ["refresh_only", "replace"])]
    pub destroy: bool,
    /// How to print the plan: text (default), json (as --json), or
    /// markdown for a pull request; a -o FILE plan is JSON whatever this says.
    #[arg(long, value_enum, value_name = "FORMAT", help_heading = crate::cli::OUTPUT)]
    pub format: Option<render::PlanFormat>,
    /// Also show what the plan does to invoices: every affected account's
    /// bill for a period rated under the live and the planned
    /// configuration, from its usage in the org (default period: the last
    /// complete calendar month).
    #[arg(long, help_heading = BILL_IMPACT)]
    pub bill_impact: bool,
    /// The calendar month of --bill-impact.
    #[arg(long, value_name = "YYYY-MM", requires = "bill_impact", conflicts_with = "from", help_heading = BILL_IMPACT)]
    pub period: Option<String>,
    /// The first day of the --bill-impact period (with --to).
    #[arg(long, value_name = "YYYY-MM-DD", requires_all = ["bill_impact", "to"], help_heading = BILL_IMPACT)]
    pub from: Option<String>,
    /// The last day of the --bill-impact period, included (with --from).
    #[arg(long, value_name = "YYYY-MM-DD", requires = "from", help_heading = BILL_IMPACT)]
    pub to: Option<String>,
}

const BILL_IMPACT: &str = "Bill impact";

impl PlanArgs {
    /// The --bill-impact period, checked before anything connects.
    fn period(&self) -> anyhow::Result<Option<Period>> {
        if !self.bill_impact {
            return Ok(None);
        }
        let p = match (&self.period, &self.from, &self.to) {
            (Some(month), _, _) => Period::month(month),
            (None, Some(from), Some(to)) => Period::days(from, to),
            _ => Ok(Period::last_month(chrono::Utc::now().date_naive())),
        };
        p.map(Some).map_err(anyhow::Error::msg)
    }
}

/// Runs the command.
///
/// Loading the desired state is CPU-bound and reading the org is
/// network-bound, so both run at once: the YAML on a thread of its own, the
/// org (and the state file) on the async runtime. A desired-state error is
/// still what gets reported, as soon as it is known (the reads in flight are
/// abandoned; they change nothing).
pub fn run(g: &Global, a: &PlanArgs) -> anyhow::Result<ExitCode> {
    let (format, g) = render::PlanFormat::resolve(a.format, g)?;
    let g = &g;
    let markdown = format == render::PlanFormat::Markdown;
    let period = a.period()?;
    let runtime = connect::runtime()?;
    let (tx, loaded) = tokio::sync::oneshot::channel();
    let made = std::thread::scope(|scope| {
        scope.spawn(|| {
            // The receiver only goes away when planning already failed.
            let _ = tx.send(render::load(g));
        });
        runtime.block_on(plan_concurrently(g, a, markdown, period, loaded))
    })?;
    let Some((plan, bill_impact)) = made else {
        return Ok(ExitCode::from(1));
    };
    match (&bill_impact, period) {
        (Some(i), Some(p)) => show_with_impact(g, format, &plan, i, p),
        _ => render::plan_as(g, format, &plan),
    }
    if let Some(out) = &a.out {
        plan.save(out)
            .with_context(|| format!("cannot save the plan to {}", out.display()))?;
        if !g.json {
            let apply = hint::command(g, &["apply", &out.to_string_lossy()]);
            let saved = format!(
                "\nSaved the plan to {}. Apply exactly it with `{apply}`.",
                out.display()
            );
            // Not into the markdown: stdout is a comment or a job summary.
            if markdown {
                eprintln!("{}", saved.trim_start());
            } else {
                output::emit(&saved);
            }
        }
    }
    let code = if a.detailed_exitcode && plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    };
    // The process ends here: freeing tens of thousands of small values one by
    // one would only delay the exit (about 10% of a 10,000-entity plan).
    std::mem::forget(plan);
    Ok(code)
}

/// The plan followed by its bill impact, in the chosen format; with
/// `--json`, the plan document gains `billImpact`.
fn show_with_impact(
    g: &Global,
    format: render::PlanFormat,
    plan: &Plan,
    bill_impact: &BillImpact,
    period: Period,
) {
    if g.json {
        let mut doc = crate::plan::render::json(plan);
        if let (Some(o), Ok(v)) = (doc.as_object_mut(), serde_json::to_value(bill_impact)) {
            o.insert("billImpact".into(), v);
        }
        output::emit(&doc.to_string());
        return;
    }
    render::plan_as(g, format, plan);
    let text = if format == render::PlanFormat::Markdown {
        impact::render::markdown(bill_impact, period)
    } else {
        impact::render::human(bill_impact, period)
    };
    output::emit(text.strip_suffix('\n').unwrap_or(&text));
}

/// What the desired-state thread sends.
type Sent = Result<Loaded, Diagnostics>;

/// Waits for the desired state and the org; plans. `None` when the desired
/// state is invalid (its diagnostics are printed).
async fn plan_concurrently(
    g: &Global,
    a: &PlanArgs,
    markdown: bool,
    period: Option<Period>,
    mut loaded: tokio::sync::oneshot::Receiver<Sent>,
) -> anyhow::Result<Option<(Plan, Option<BillImpact>)>> {
    let fetch = fetch(g, &a.conn);
    tokio::pin!(fetch);
    // Whichever finishes first; a desired-state error (or a bad --target)
    // is reported without waiting for the org.
    let mut fetched = None;
    let loaded = tokio::select! {
        biased;
        l = &mut loaded => l,
        f = &mut fetch => {
            fetched = Some(f);
            loaded.await
        }
    }
    .context("loading the desired state stopped unexpectedly")?;
    let loaded = match loaded {
        Ok(x) => x,
        Err(diags) => {
            render::diagnostics(g, &diags);
            return Ok(None);
        }
    };
    // Rule warnings: on stderr already, unless --json wants them in the
    // plan; the markdown shows them too, to the reviewers of a pull request.
    let load_warnings: Vec<PlanWarning> = if g.json || markdown {
        loaded
            .0
            .warnings
            .iter()
            .map(|w| PlanWarning::Text(w.to_string()))
            .collect()
    } else {
        Vec::new()
    };
    let targets = pipeline::targets(&a.targets, &loaded.1)?;
    let replace = pipeline::replacements(&a.replace, &loaded.1)?;
    let (state, live, session) = match fetched {
        Some(f) => f,
        None => fetch.await,
    }?;
    let opts = PlanOptions {
        targets,
        refresh_only: a.refresh_only,
        destroy: a.destroy,
        replace,
        ..PlanOptions::default()
    };
    let mut plan = pipeline::plan_with(loaded, &state, &live, opts)?;
    plan.warnings.extend(load_warnings);
    let bill_impact = match period {
        Some(p) => Some(
            pipeline::bill_impact(&session.client, &plan, &state, &live, p)
                .await
                .context("cannot preview the bill impact")?,
        ),
        None => None,
    };
    session.close().await?;
    // Not needed any more and freed by the process exit (see `run`).
    std::mem::forget((state, live));
    Ok(Some((plan, bill_impact)))
}

/// Reads the state file (without a lock: `plan` takes none) and the whole
/// org, at the same time; the session stays open for the bill impact.
async fn fetch(g: &Global, conn: &Connection) -> anyhow::Result<(State, LiveSnapshot, Session)> {
    let session = Session::open(g, conn).await?;
    let s = &session.settings;
    let (path, org, base) = (s.state_path.clone(), s.org_id.clone(), s.base_url.clone());
    let reading = tokio::task::spawn_blocking(move || {
        StateStore::open(&path, &org, &base, false).map(StateStore::into_state)
    });
    let (state, live) = tokio::join!(reading, refresh(&session.client));
    let state = state.context("reading the state file stopped unexpectedly")??;
    let live = live.context("cannot read the org")?;
    Ok((state, live, session))
}
