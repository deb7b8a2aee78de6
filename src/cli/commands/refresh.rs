//! `m3ter refresh`: accept live values into state.

use std::process::ExitCode;

use crate::cli::session::Session;
use crate::cli::{Global, connect};
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
    let (mut store, live) = connect::runtime()?.block_on(async {
        let session = Session::open(g, &a.conn).await?;
        let s = &session.settings;
        let result = match StateStore::open(&s.state_path, &s.org_id, &s.base_url, true) {
            Ok(store) => refresh(&session.client)
                .await
                .map(|live| (store, live))
                .map_err(anyhow::Error::from),
            Err(e) => Err(e.into()),
        };
        session.close().await?;
        result
    })?;
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
        live.len()
    ));
    Ok(ExitCode::SUCCESS)
}
