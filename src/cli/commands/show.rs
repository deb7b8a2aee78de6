//! `m3ter show`: renders a saved plan, or the state when no file is given.
//!
//! Read-only: the state file is read directly, without taking the lock.

use std::process::ExitCode;

use serde_json::{Value, json};

use crate::cli::render::PlanFormat;
use crate::cli::{Global, StateLocation, connect};
use crate::plan::{Plan, render};
use crate::state::{Location, State, StateStore};

/// Arguments of `show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub loc: StateLocation,
    /// A plan saved by `plan -o`; without it, the state is shown.
    pub planfile: Option<std::path::PathBuf>,
    /// How to print: text (default), json (as --json), or markdown (a plan
    /// only) for a pull request.
    #[arg(long, value_enum, value_name = "FORMAT", help_heading = crate::cli::OUTPUT)]
    pub format: Option<PlanFormat>,
}

/// Runs the command.
pub fn run(g: &Global, a: &ShowArgs) -> anyhow::Result<ExitCode> {
    let (format, g) = PlanFormat::resolve(a.format, g)?;
    let g = &g;
    let color = crate::cli::output::use_color(g);
    let out = match &a.planfile {
        Some(path) => {
            let plan = Plan::load(path)?;
            if g.json {
                format!("{}\n", render::json(&plan))
            } else if format == PlanFormat::Markdown {
                render::markdown(&plan)
            } else {
                render::human(&plan, color)
            }
        }
        None => {
            if format == PlanFormat::Markdown {
                anyhow::bail!(
                    "--format markdown shows a saved plan, not the state: give the plan file, `m3ter show --format markdown PLANFILE`"
                );
            }
            let path = connect::state_path(g, &a.loc)?;
            if path.as_file().is_some_and(|f| !f.exists()) {
                anyhow::bail!(
                    "state file {} does not exist: nothing has been applied with it yet; name another with --state FILE or --local, or give a saved plan: `m3ter show PLANFILE`",
                    path.display()
                );
            }
            let state = read_state(&path)?;
            if g.json {
                format!("{}\n", state_json(&state))
            } else {
                state_text(&state, &path)
            }
        }
    };
    // Through `emit`, so `m3ter show | head` does not panic.
    crate::cli::output::emit(out.strip_suffix('\n').unwrap_or(&out));
    Ok(ExitCode::SUCCESS)
}

/// Reads a state file with the checks of every other command (corrupt,
/// missing or unsupported `formatVersion`), without taking the lock.
pub fn read_state(path: &Location) -> anyhow::Result<State> {
    Ok(StateStore::open_existing(path, false)?.into_state())
}

/// One line per managed entity: address, id, version, whether adopted.
pub fn state_text(state: &State, path: &Location) -> String {
    let mut out = format!(
        "# {}: org {}, serial {}, {} managed entit{}\n",
        path.display(),
        state.org_id,
        state.serial,
        state.resources.len(),
        if state.resources.len() == 1 {
            "y"
        } else {
            "ies"
        }
    );
    let rows: Vec<(String, &crate::state::ResourceState)> = state
        .resources
        .iter()
        .map(|(a, r)| (a.to_string(), r))
        .collect();
    let width = rows.iter().map(|(a, _)| a.len()).max().unwrap_or(0);
    let id_width = rows.iter().map(|(_, r)| r.id.len()).max().unwrap_or(0);
    for (address, r) in rows {
        let line = format!(
            "{address:width$}  id {:id_width$}  version {}{}",
            r.id,
            r.version,
            if r.adopted { "  (adopted)" } else { "" }
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The state summary as JSON (no last-applied fields: `state show ADDR`
/// prints those).
pub fn state_json(state: &State) -> Value {
    let resources: Vec<Value> = state
        .resources
        .iter()
        .map(|(a, r)| {
            json!({
                "address": a.to_string(),
                "id": r.id,
                "version": r.version,
                "adopted": r.adopted,
                "dependsOn": r.depends_on,
            })
        })
        .collect();
    json!({
        "formatVersion": state.format_version,
        "orgId": state.org_id,
        "lineage": state.lineage,
        "serial": state.serial,
        "resources": resources,
    })
}
