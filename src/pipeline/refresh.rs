//! `m3ter refresh`: the state accepts the org as it is (a refresh-only
//! apply): live versions and managed values, and what was deleted outside
//! this tool is forgotten.

use super::PipelineError;
use crate::client::Client;
use crate::live::{RefreshReport, accept_live, refresh as read_org};
use crate::state::StateStore;

/// What a refresh did, with the size of the org it read.
#[derive(Debug, Clone)]
pub struct Refreshed {
    pub report: RefreshReport,
    /// Live entities read.
    pub live_entities: usize,
}

/// Reads the whole org, accepts it into the (locked) state and saves the
/// state when anything moved.
pub async fn refresh(client: &Client, store: &mut StateStore) -> Result<Refreshed, PipelineError> {
    let live = read_org(client)
        .await
        .map_err(|e| PipelineError::ReadOrg(Box::new(e)))?;
    let report = accept_live(store.state_mut(), &live);
    if !report.updated.is_empty() || !report.removed.is_empty() {
        store.commit()?;
    }
    Ok(Refreshed {
        report,
        live_entities: live.len(),
    })
}
