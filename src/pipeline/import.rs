//! `m3ter import ADDR ID` as a plan: one import change, adopted by the
//! apply engine like any other, so state is written in one place.

use serde_json::Value;

use super::PipelineError;
use crate::address::Address;
use crate::apply::{self, ApplyOptions};
use crate::client::Client;
use crate::desired::DesiredState;
use crate::live::LiveSnapshot;
use crate::plan::{Action, Change, FORMAT_VERSION, Phase, Plan, Step};
use crate::state::StateStore;

/// What an import adopted.
#[derive(Debug, Clone)]
pub struct Imported {
    pub id: String,
    pub version: i64,
    /// The live entity's code, when it differs from the address key (the
    /// next plan changes it).
    pub other_code: Option<String>,
}

/// Reads the entity of `address`'s kind with this id and records it in state
/// as adopted, with its live version and no managed fields yet (the next
/// apply records what desired state manages). `desired`, when it holds the
/// address, gives its dependencies (so a later delete is ordered right).
pub async fn import(
    address: &Address,
    id: &str,
    client: &Client,
    store: &mut StateStore,
    desired: Option<DesiredState>,
) -> Result<Imported, PipelineError> {
    let state = store.state();
    if let Some(r) = state.resources.get(address) {
        return Err(PipelineError::AlreadyInState {
            address: address.clone(),
            id: r.id.clone(),
        });
    }
    if let Some((other, _)) = state
        .resources
        .iter()
        .find(|(o, r)| o.kind == address.kind && r.id == id)
    {
        return Err(PipelineError::IdInState {
            kind: address.kind,
            id: id.to_string(),
            other: other.clone(),
        });
    }
    // A singleton is read on its collection path (it has no id path); the
    // id given must be its id.
    let read = if address.kind.is_singleton() {
        match client.get_singleton(address.kind).await {
            Ok(Some(v)) if v.get("id").and_then(Value::as_str) == Some(id) => Ok(v),
            Ok(_) => Err(crate::client::ApiError::Status {
                status: 404,
                message: format!("the org's {} has another id", address.kind),
                method: "GET".into(),
                path: address.kind.collection().into(),
                retry_after: None,
            }),
            Err(e) => Err(e),
        }
    } else {
        // A typed kind's address starts with its type (`account/…`).
        let segment = address
            .kind
            .typed()
            .and_then(|_| address.key.split('/').next());
        client.get_in(address.kind, segment, id).await
    };
    let live = read.map_err(|e| {
        if e.is_not_found() {
            PipelineError::NoSuchEntity {
                address: address.clone(),
                id: id.to_string(),
                org: state.org_id.clone(),
            }
        } else {
            PipelineError::Read {
                address: address.clone(),
                source: Box::new(e),
            }
        }
    })?;
    let live_id = live
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or(id)
        .to_string();
    let version = live.get("version").and_then(Value::as_i64).unwrap_or(0);
    let other_code = live
        .get("code")
        .and_then(Value::as_str)
        .filter(|c| address.kind.has_identity_code() && *c != address.key)
        .map(str::to_string);
    let mut desired = desired.unwrap_or_default();
    desired.entities.retain(|a, _| a == address);
    crate::sensitive::seal(&mut desired, &state.lineage);
    let unreturned = desired
        .entities
        .get(address)
        .and_then(crate::sensitive::unreturned);
    let plan = Plan {
        format_version: FORMAT_VERSION,
        org_id: state.org_id.clone(),
        lineage: state.lineage.clone(),
        serial: state.serial,
        refresh_only: false,
        destroy: false,
        targets: None,
        desired,
        changes: vec![Change {
            action: Action::Import,
            address: address.clone(),
            id: Some(live_id.clone()),
            version: Some(version),
            before: None,
            // Only what the API never returns: the first plan takes it as
            // last applied (an adoption sends nothing).
            after: unreturned,
            diff: Vec::new(),
            resets: Vec::new(),
            adopted: true,
            reason: None,
        }],
        steps: vec![Step {
            change: 0,
            phase: Phase::Write,
            wait_for: Vec::new(),
        }],
        drift: Vec::new(),
        forget: Vec::new(),
        moved: Vec::new(),
        warnings: Vec::new(),
    };
    let report = apply::execute(
        &plan,
        &LiveSnapshot::default(),
        client,
        store,
        &ApplyOptions { parallelism: 1 },
        |_| {},
    )
    .await?;
    if let Some(failure) = report.failures.into_iter().next() {
        // An adoption sends nothing; it can only fail on a hand-made plan.
        let why = format!("{}: {}", failure.address, failure.source);
        return Err(apply::ApplyError::BadPlan(why).into());
    }
    Ok(Imported {
        id: live_id,
        version,
        other_code,
    })
}
