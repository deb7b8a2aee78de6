//! What several commands print: desired-state diagnostics, plans, and the
//! pipeline's events and apply summary. Commands share these instead of
//! importing each other.

use super::{Global, hint, output};
use crate::apply::{self, Progress, Report};
use crate::desired::{DesiredState, Diagnostics, VarInputs};
use crate::graph::Graph;
use crate::pipeline::{self, Event};
use crate::plan::{Plan, render};

/// Loads `--dir` with `--var-file`, `--var` and `$M3TER_VAR_*` (the
/// pipeline's first stage).
/// Rule warnings go to stderr (`warning: file:line:column: …`); with
/// `--json` they are left to the command's document instead.
pub(crate) fn load(g: &Global) -> Result<(DesiredState, Graph), Diagnostics> {
    let loaded = pipeline::load(
        &g.dir,
        &VarInputs::from_env(g.vars.clone()).with_files(g.var_files.clone()),
    )?;
    if !g.json {
        for w in &loaded.0.warnings {
            eprintln!("warning: {w}");
        }
    }
    Ok(loaded)
}

/// [`load`]; on failure prints the diagnostics and returns `None`.
pub(crate) fn load_or_report(g: &Global) -> Option<(DesiredState, Graph)> {
    match load(g) {
        Ok(x) => Some(x),
        Err(diags) => {
            diagnostics(g, &diags);
            None
        }
    }
}

/// Prints desired-state problems: one `error: file:line:column: …` line
/// each on stderr, or with `--json` one `{"error": {…}}` line each on stdout.
pub(crate) fn diagnostics(g: &Global, diags: &Diagnostics) {
    if g.json {
        for d in diags.iter() {
            output::emit(&format!("{}", d.to_json()));
        }
    } else {
        for d in diags.iter() {
            eprintln!("error: {d}");
        }
        let n = diags.len();
        eprintln!(
            "The desired state is not valid: {n} error{}.",
            if n == 1 { "" } else { "s" }
        );
    }
}

/// How `plan` and `show` write a plan (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    /// Terraform-like text (the default).
    Text,
    /// One JSON document (as `--json`).
    Json,
    /// GitHub-flavoured markdown for a pull-request comment or job summary,
    /// cut to fit a comment.
    Markdown,
}

impl PlanFormat {
    /// The format `--format` and the global `--json` ask for, and the
    /// options to run with: `--format json` is `--json` for everything the
    /// command prints (errors included).
    pub(crate) fn resolve(
        given: Option<PlanFormat>,
        g: &Global,
    ) -> anyhow::Result<(PlanFormat, Global)> {
        let format = match (given, g.json) {
            (None, false) => PlanFormat::Text,
            (None, true) | (Some(PlanFormat::Json), _) => PlanFormat::Json,
            (Some(f), false) => f,
            (Some(f), true) => anyhow::bail!(
                "--json and --format {} ask for two outputs; give one (--json is --format json)",
                if f == PlanFormat::Text {
                    "text"
                } else {
                    "markdown"
                }
            ),
        };
        let mut g = g.clone();
        g.json = format == PlanFormat::Json;
        Ok((format, g))
    }
}

/// Prints a plan in `format`: markdown, or as [`plan`] does.
pub(crate) fn plan_as(g: &Global, format: PlanFormat, p: &Plan) {
    if format == PlanFormat::Markdown {
        let md = render::markdown(p);
        output::emit(md.strip_suffix('\n').unwrap_or(&md));
    } else {
        plan(g, p);
    }
}

/// Prints a plan: human text (with warnings on stderr) or `--json`.
pub(crate) fn plan(g: &Global, plan: &Plan) {
    if g.json {
        output::emit(&render::json(plan).to_string());
    } else {
        let text = render::human(plan, output::use_color(g));
        output::emit(text.strip_suffix('\n').unwrap_or(&text));
    }
}

/// Prints one pipeline event as it happens.
pub(crate) fn event(g: &Global, e: Event<'_>) {
    match e {
        Event::Forgotten { forget } => {
            if !g.json {
                output::emit(&format!("{}: forgotten ({})", forget.address, forget.why()));
            }
        }
        Event::Moved { from, to } => {
            if !g.json {
                output::emit(&format!("{from}: moved to {to} in state"));
            }
        }
        Event::Apply(Progress::Interrupted { signal, in_flight }) => eprintln!(
            "Interrupt received ({signal}): waiting for {in_flight} operation(s) in flight, then saving state."
        ),
        Event::Apply(Progress::Step(step)) => operation(g, step),
    }
}

fn operation(g: &Global, e: &apply::Event) {
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

/// Prints the end of an apply: the summary (a JSON line with `--json`),
/// each failure, and what was left unrun.
pub(crate) fn summary(g: &Global, report: &Report) {
    if g.json {
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
        return;
    }
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
