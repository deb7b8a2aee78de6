//! `m3ter refresh`: accept live values into state.

use std::process::ExitCode;

use crate::cli::session::Session;
use crate::cli::{Global, connect};
use crate::pipeline;
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
    let (store, refreshed) = connect::runtime()?.block_on(async {
        let session = Session::open(g, &a.conn).await?;
        let s = &session.settings;
        let result = match StateStore::open(&s.state_path, &s.org_id, &s.base_url, true) {
            Ok(mut store) => pipeline::refresh(&session.client, &mut store)
                .await
                .map(|r| (store, r))
                .map_err(anyhow::Error::from),
            Err(e) => Err(e.into()),
        };
        session.close().await?;
        result
    })?;
    let report = refreshed.report;
    if g.json {
        let doc = serde_json::json!({
            "updated": report.updated,
            "unchanged": report.unchanged,
            "removed": report.removed,
            "liveEntities": refreshed.live_entities,
            "serial": store.state().serial,
        });
        crate::cli::output::emit(&format!("{doc}"));
        return Ok(ExitCode::SUCCESS);
    }
    for addr in &report.updated {
        crate::cli::output::emit(&format!("  ~ {addr}: live values accepted"));
    }
    for addr in &report.removed {
        crate::cli::output::emit(&format!(
            "  - {addr}: deleted outside m3ter-reconcile, removed from state"
        ));
    }
    crate::cli::output::emit(&format!(
        "Refresh complete: {} in state, {} updated, {} removed, {} unchanged ({} live entities read).",
        report.updated.len() + report.unchanged.len(),
        report.updated.len(),
        report.removed.len(),
        report.unchanged.len(),
        refreshed.live_entities
    ));
    Ok(ExitCode::SUCCESS)
}
