//! `m3ter refresh`: accept live values into state.

use std::process::ExitCode;

use crate::cli::{Global, connect};
use crate::client::Client;
use crate::live::{accept_live, refresh};
use crate::state::StateStore;

/// Arguments of `refresh`.
#[derive(Debug, clap::Args)]
pub struct RefreshArgs {
    #[command(flatten)]
    pub conn: crate::cli::Connection,
}

/// Reads the whole org (one list per kind), takes the live version and
/// managed field values of every resource in state, drops resources deleted
/// outside this tool, and saves.
pub fn run(g: &Global, a: &RefreshArgs) -> anyhow::Result<ExitCode> {
    let settings = connect::resolve(g, &a.conn)?;
    let mut store = StateStore::open(
        &settings.state_path,
        &settings.org_id,
        &settings.base_url,
        true,
    )?;
    let client = Client::new(settings.client)?;
    let live = connect::runtime()?.block_on(refresh(&client))?;
    let report = accept_live(store.state_mut(), &live);
    let changed = !report.updated.is_empty() || !report.removed.is_empty();
    if changed {
        store.commit()?;
    }
    if g.json {
        let doc = serde_json::json!({
            "updated": report.updated,
            "unchanged": report.unchanged,
            "removed": report.removed,
            "liveEntities": live.len(),
            "serial": store.state().serial,
        });
        println!("{doc}");
        return Ok(ExitCode::SUCCESS);
    }
    for addr in &report.updated {
        println!("  ~ {addr}: live values accepted");
    }
    for addr in &report.removed {
        println!("  - {addr}: deleted outside m3ter-reconcile, removed from state");
    }
    println!(
        "Refresh complete: {} in state, {} updated, {} removed, {} unchanged ({} live entities read).",
        report.updated.len() + report.unchanged.len(),
        report.updated.len(),
        report.removed.len(),
        report.unchanged.len(),
        live.len()
    );
    Ok(ExitCode::SUCCESS)
}
