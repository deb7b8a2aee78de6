//! Stages four and five: apply the plan, then state records the result.

use super::{Event, PipelineError};
use crate::apply::{self, ApplyOptions, Report};
use crate::client::Client;
use crate::live::LiveSnapshot;
use crate::plan::Plan;
use crate::state::StateStore;

/// How apply goes about a plan.
#[derive(Debug, Clone, Copy)]
pub struct Converge {
    /// Apply even when the plan trips the mass-change rule.
    pub force: bool,
    /// Remote operations run at once.
    pub parallelism: usize,
}

/// Applies `plan` (made against `live`, with `store` locked): first its
/// state-only actions (forgetting entities deleted outside this tool), then,
/// if it has changes, the mass-change rule and its remote steps. Every
/// result is in the state file before it is reported through `on_event`.
pub async fn apply(
    plan: &Plan,
    live: &LiveSnapshot,
    client: &Client,
    store: &mut StateStore,
    how: Converge,
    mut on_event: impl FnMut(Event<'_>),
) -> Result<Report, PipelineError> {
    forget(plan, store, &mut on_event)?;
    moves(plan, store, &mut on_event)?;
    if plan.changes.is_empty() {
        return Ok(Report::default());
    }
    let managed = store.state().resources.len();
    if let Some(touched) = plan.mass_change(managed).filter(|_| !how.force) {
        return Err(PipelineError::MassChange { touched, managed });
    }
    // Saved with the first change: what the next plan compares against.
    store.state_mut().variables = plan.desired.variables.clone();
    let opts = ApplyOptions {
        parallelism: how.parallelism.max(1),
    };
    let report = apply::execute(plan, live, client, store, &opts, |p| {
        on_event(Event::Apply(p));
    })
    .await?;
    // The saves went to the state journal: fold them into the file now, so
    // a failure to do so is reported (`Drop` would only log it).
    store.compact()?;
    Ok(report)
}

/// Re-keys the state for the plan's [`Moved`](crate::plan::Moved) entries
/// and saves it, before any remote step: the changes of moved entities are
/// recorded under their new addresses.
fn moves(
    plan: &Plan,
    store: &mut StateStore,
    on_event: &mut impl FnMut(Event<'_>),
) -> Result<(), PipelineError> {
    if plan.moved.is_empty() {
        return Ok(());
    }
    for m in &plan.moved {
        crate::plan::moved::rekey(store.state_mut(), &m.from, &m.to);
    }
    store.commit()?;
    for m in &plan.moved {
        on_event(Event::Moved {
            from: &m.from,
            to: &m.to,
        });
    }
    Ok(())
}

/// Drops the plan's [`Forget`](crate::plan::Forget) entries from state
/// and saves it, then reports each.
fn forget(
    plan: &Plan,
    store: &mut StateStore,
    on_event: &mut impl FnMut(Event<'_>),
) -> Result<(), PipelineError> {
    if plan.forget.is_empty() {
        return Ok(());
    }
    for f in &plan.forget {
        store.state_mut().resources.remove(&f.address);
    }
    store.commit()?;
    for f in &plan.forget {
        on_event(Event::Forgotten { forget: f });
    }
    Ok(())
}
