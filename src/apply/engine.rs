//! The scheduler: runs steps when what they wait for is done, at most
//! `parallelism` at once, and records each result in state before releasing
//! the steps that wait for it.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use tokio::task::{JoinHandle, JoinSet};

use crate::address::Address;
use crate::client::Client;
use crate::live::LiveSnapshot;
use crate::plan::{Action, Change, Phase, Plan, create_body, put_body, resolve_refs};
use crate::state::{ResourceState, State, StateError, StateStore};
use m3ter_api::Kind;
use m3ter_api::kinds::MEMBER_IDS;

use super::ops::{MemberCall, Op, OpResult};
use super::{ApplyError, ApplyOptions, Done, Event, OpError, OpFailure, Progress, Report};

type Finished = (usize, Result<OpResult, OpFailure>, Duration);

/// Results recorded in state, waiting for (or covered by) one state write.
#[derive(Default)]
struct Saved {
    steps: Vec<usize>,
    events: Vec<Event>,
}

/// What woke the scheduler.
enum Wake {
    Joined(Option<Result<Finished, tokio::task::JoinError>>),
    Written(Result<Result<u64, StateError>, tokio::task::JoinError>),
    /// SIGINT or SIGTERM, by name.
    Interrupt(&'static str),
}

/// Runs every step of `plan` against the org. `live` is the snapshot the plan
/// was checked against (update bodies start from its entities). `on_event`
/// sees each finished step after its result is saved, and an interrupt.
pub async fn execute(
    plan: &Plan,
    live: &LiveSnapshot,
    client: &Client,
    store: &mut StateStore,
    opts: &ApplyOptions,
    mut on_event: impl FnMut(Progress<'_>),
) -> Result<Report, ApplyError> {
    let n = plan.steps.len();
    let mut waiting: Vec<usize> = Vec::with_capacity(n);
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, step) in plan.steps.iter().enumerate() {
        if step.change >= plan.changes.len() {
            return Err(ApplyError::BadPlan(format!("step {i} names no change")));
        }
        for &w in &step.wait_for {
            if w >= i {
                return Err(ApplyError::BadPlan(format!(
                    "step {i} waits for a later step {w}"
                )));
            }
            dependents[w].push(i);
        }
        waiting.push(step.wait_for.len());
    }
    let mut ready: BTreeSet<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
    let mut finished = 0usize;
    let mut report = Report::default();
    let mut running: JoinSet<Finished> = JoinSet::new();
    // Group commit: results recorded in state but not yet written wait in
    // `unsaved`; at most one write is in flight (`saving`, with the results
    // it covers). Steps keep being started and collected while it runs, so
    // a slow fsync does not leave the parallelism slots idle.
    let mut unsaved = Saved::default();
    let mut saving: Option<(JoinHandle<Result<u64, StateError>>, Saved)> = None;
    // A state write that failed (e.g. S3 state changed behind our back): no
    // step starts any more, the calls in flight finish and are recorded, and
    // one more write is tried so that what they created reaches the state
    // (or, for a refused S3 write, the rescue file that error names).
    let mut write_failed: Option<StateError> = None;
    // Installed before the first call, so a stop request (Ctrl-C, or the
    // SIGTERM a CI runner sends on cancel) never kills the process with
    // calls in flight whose results would then be missing from state.
    let installed = crate::signals::stop_signal();
    let stop = async move {
        match installed {
            Ok(signal) => signal.await,
            Err(e) => {
                tracing::warn!("cannot watch SIGINT/SIGTERM: {e}");
                std::future::pending().await
            }
        }
    };
    tokio::pin!(stop);

    loop {
        while !report.interrupted
            && write_failed.is_none()
            && running.len() < opts.parallelism.max(1)
        {
            let Some(i) = ready.pop_first() else { break };
            match prepare(plan, i, live, store.state()) {
                Ok(op) => {
                    let client = client.clone();
                    running.spawn(async move {
                        let started = Instant::now();
                        let result = op.run(&client).await;
                        (i, result, started.elapsed())
                    });
                }
                Err(why) => {
                    finished += 1;
                    fail(plan, i, why, Duration::ZERO, &mut report, &mut on_event);
                }
            }
        }
        if saving.is_none() && !unsaved.steps.is_empty() {
            let write = store.begin_commit()?;
            let handle = tokio::task::spawn_blocking(move || write.write());
            saving = Some((handle, std::mem::take(&mut unsaved)));
            continue;
        }
        if running.is_empty() && saving.is_none() {
            if let Some(e) = write_failed {
                return Err(e.into());
            }
            break;
        }
        let wake = tokio::select! {
            joined = running.join_next(), if !running.is_empty() => Wake::Joined(joined),
            written = async {
                match saving.as_mut() {
                    Some((handle, _)) => handle.await,
                    None => std::future::pending().await,
                }
            }, if saving.is_some() => Wake::Written(written),
            signal = &mut stop, if !report.interrupted => Wake::Interrupt(signal),
        };
        match wake {
            Wake::Interrupt(signal) => {
                report.interrupted = true;
                on_event(Progress::Interrupted {
                    signal,
                    in_flight: running.len(),
                });
            }
            Wake::Written(written) => {
                let Some((_, saved)) = saving.take() else {
                    continue;
                };
                if let Err(e) = written.map_err(|e| ApplyError::Writer(e.to_string()))? {
                    // The newest failure names the most complete rescue.
                    write_failed = Some(e);
                    continue;
                }
                // Saved: now it may be reported and its dependents may start.
                for event in &saved.events {
                    on_event(Progress::Step(event));
                }
                for i in saved.steps {
                    for &d in &dependents[i] {
                        waiting[d] -= 1;
                        if waiting[d] == 0 {
                            ready.insert(d);
                        }
                    }
                }
            }
            Wake::Joined(first) => {
                // Results that finished together share one state write.
                for joined in first
                    .into_iter()
                    .chain(std::iter::from_fn(|| running.try_join_next()))
                {
                    let (i, result, took) = joined.map_err(|e| {
                        ApplyError::BadPlan(format!("an operation task failed: {e}"))
                    })?;
                    finished += 1;
                    match result {
                        Ok(res) => {
                            let address = &plan.changes[plan.steps[i].change].address;
                            let event =
                                record(plan, i, res, took, store.change(address), &mut report);
                            unsaved.events.push(event);
                            unsaved.steps.push(i);
                        }
                        Err(why) => fail(plan, i, why, took, &mut report, &mut on_event),
                    }
                }
            }
        }
    }
    report.skipped = n - finished;
    Ok(report)
}

fn fail(
    plan: &Plan,
    step: usize,
    why: OpFailure,
    took: Duration,
    report: &mut Report,
    on_event: &mut impl FnMut(Progress<'_>),
) {
    let change = &plan.changes[plan.steps[step].change];
    on_event(Progress::Step(&Event {
        address: change.address.clone(),
        action: change.action.as_str(),
        done: None,
        id: change.id.clone(),
        duration: took,
        error: Some(why.to_string()),
    }));
    report.failures.push(OpError {
        address: change.address.clone(),
        source: why,
    });
}

fn ids_in(state: &State) -> impl Fn(&Address) -> Option<String> + '_ {
    |a| state.resources.get(a).map(|r| r.id.clone())
}

/// The member calls that make the live member set (`live`'s
/// [`MEMBER_IDS`]; none for a create) the one `body` asks for: adds of
/// the desired members it lacks (ids from state: members are created
/// first), removes of the live ones no longer desired. None when `body`
/// has no member field (the set is not managed).
fn member_calls(
    kind: Kind,
    body: &Map<String, Value>,
    live: Option<&Value>,
    state: &State,
) -> Result<Vec<MemberCall>, OpFailure> {
    let Some(Value::Array(want)) = kind.members().and_then(|m| body.get(m.field)) else {
        return Ok(Vec::new());
    };
    let empty = Map::new();
    let have = live
        .and_then(|l| l.get(MEMBER_IDS))
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let want: Vec<&str> = want.iter().filter_map(Value::as_str).collect();
    let mut calls = Vec::new();
    for item in &want {
        if have.contains_key(*item) {
            continue;
        }
        let address: Address = item
            .parse()
            .map_err(|_| OpFailure::NoId(Address::new(kind, *item)))?;
        let id = state
            .resources
            .get(&address)
            .map(|r| r.id.clone())
            .ok_or_else(|| OpFailure::NoId(address.clone()))?;
        let target_type = if address.kind == kind {
            "GROUP"
        } else {
            "ITEM"
        };
        calls.push(MemberCall {
            add: true,
            target: serde_json::json!({"targetType": target_type, "targetId": id}),
        });
    }
    for (item, target) in have {
        if !want.contains(&item.as_str()) {
            calls.push(MemberCall {
                add: false,
                target: target.clone(),
            });
        }
    }
    Ok(calls)
}

/// Builds the owned remote operation of a step from the plan and the state
/// as it is now (ids of entities created earlier in this run included).
fn prepare(plan: &Plan, step: usize, live: &LiveSnapshot, state: &State) -> Result<Op, OpFailure> {
    let s = &plan.steps[step];
    let change = &plan.changes[s.change];
    let kind = change.address.kind;
    let id = || {
        change
            .id
            .clone()
            .or_else(|| state.resources.get(&change.address).map(|r| r.id.clone()))
            .ok_or_else(|| OpFailure::NoId(change.address.clone()))
    };
    match (change.action, s.phase) {
        (Action::Delete | Action::Replace, Phase::Delete) => {
            let id = id()?;
            // A typed kind is deleted in its type's collection: the one the
            // org holds it in (the plan's view of it, if it has gone since).
            let segment = kind.typed().and_then(|t| {
                live.by_id(kind, &id)
                    .and_then(|e| e.get(t.field))
                    .or_else(|| change.before.as_ref().and_then(|b| b.get(t.field)))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
            Ok(Op::Delete { kind, segment, id })
        }
        (Action::Create | Action::Replace, Phase::Write) => {
            let entity = plan
                .desired
                .entities
                .get(&change.address)
                .ok_or_else(|| OpFailure::NotDesired(change.address.clone()))?;
            let body = create_body(entity, ids_in(state))?;
            let members = member_calls(kind, &body, None, state)?;
            Ok(Op::Create {
                kind,
                body,
                members,
            })
        }
        (Action::Update | Action::Import, Phase::Write) => {
            if change.action == Action::Import && !change.import_with_changes() {
                return Ok(Op::Adopt);
            }
            let managed = change.after.clone().unwrap_or_default();
            if kind.is_singleton() {
                // PUT on the collection: the live entity (none, if the org
                // never wrote it: then no `version` either) overlaid with the
                // written fields, as the PUT replaces it whole.
                let empty = Value::Object(Map::new());
                let entity = live.of(kind).first().unwrap_or(&empty);
                let body = put_body(kind, entity, &managed, &[], ids_in(state))?;
                return Ok(Op::PutSingleton { kind, body });
            }
            let id = id()?;
            let Some(entity) = live.by_id(kind, &id) else {
                return Err(OpFailure::Gone {
                    address: change.address.clone(),
                    id,
                });
            };
            let body = put_body(kind, entity, &managed, &change.resets, ids_in(state))?;
            let members = member_calls(kind, &body, Some(entity), state)?;
            Ok(Op::Update {
                kind,
                id,
                body,
                members,
            })
        }
        (action, phase) => Err(OpFailure::NoSuchStep {
            address: change.address.clone(),
            action: action.as_str(),
            phase,
        }),
    }
}

/// Records a step's result in state and counts it; returns its event.
fn record(
    plan: &Plan,
    step: usize,
    result: OpResult,
    took: Duration,
    state: &mut State,
    report: &mut Report,
) -> Event {
    let s = &plan.steps[step];
    let change = &plan.changes[s.change];
    let address = change.address.clone();
    let (done, id) = match result {
        OpResult::Deleted => {
            state.resources.remove(&address);
            // A replace counts once as added (its write) and once destroyed.
            report.destroyed += 1;
            (Done::Deleted, change.id.clone())
        }
        OpResult::Created(entity, adopted) => {
            let id = string_field(&entity, "id");
            save_resource(plan, change, &entity, false, state);
            report.added += 1;
            (
                if adopted {
                    Done::CreatedAdopted
                } else {
                    Done::Created
                },
                id,
            )
        }
        OpResult::Updated(entity) => {
            let was_adopted = change.action == Action::Import
                || state.resources.get(&address).is_some_and(|r| r.adopted);
            save_resource(plan, change, &entity, was_adopted, state);
            if change.action == Action::Import {
                report.imported += 1;
            }
            report.changed += 1;
            let done = if change.action == Action::Import {
                Done::Imported
            } else {
                Done::Updated
            };
            (done, string_field(&entity, "id"))
        }
        OpResult::Adopted => {
            let id = change.id.clone().unwrap_or_default();
            let entity = serde_json::json!({ "id": id, "version": change.version.unwrap_or(0) });
            save_resource(plan, change, &entity, true, state);
            report.imported += 1;
            (Done::Imported, Some(id))
        }
    };
    Event {
        address,
        action: change.action.as_str(),
        done: Some(done),
        id,
        duration: took,
        error: None,
    }
}

fn string_field(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

/// Writes (or overwrites) the state entry of a written entity.
fn save_resource(plan: &Plan, change: &Change, entity: &Value, adopted: bool, state: &mut State) {
    let kind = change.address.kind;
    let managed: Map<String, Value> = change.after.clone().unwrap_or_default();
    let applied = resolve_refs(kind, &managed, ids_in(state)).unwrap_or(managed);
    let depends_on = plan
        .desired
        .entities
        .get(&change.address)
        .map(|e| e.dependencies().cloned().collect())
        .unwrap_or_default();
    let resource = ResourceState {
        id: string_field(entity, "id").unwrap_or_default(),
        version: entity.get("version").and_then(Value::as_i64).unwrap_or(0),
        depends_on,
        adopted,
        applied,
    };
    state.resources.insert(change.address.clone(), resource);
}
