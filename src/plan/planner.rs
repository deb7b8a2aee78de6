//! [`plan`]: matches desired entities to state and live entities, compares
//! them and records the changes, the drift and the order of operations.
//!
//! Everything is looked up through hash indexes built once (live by id, live
//! by key), so planning is linear in the number of entities.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::{Map, Value};

use super::compare::{field_equal, forces_replacement, read_only};
use super::{Action, Change, Drift, FieldDiff, Forget, Plan, PlanError, PlanOptions, Reason};
use crate::address::Address;
use crate::desired::{DesiredEntity, DesiredState};
use crate::live::LiveSnapshot;
use crate::state::State;
use m3ter_api::{Kind, identity};

/// Plans the changes that converge `live` to `desired`, given what `state`
/// says this tool manages. Pure: no IO, deterministic output.
///
/// Errors: several live entities match one desired key
/// ([`PlanError::AmbiguousImport`]), a delete or replace of an entity with
/// `preventDestroy`, a reference to an entity not in the desired state, a
/// dependency cycle.
pub fn plan(
    desired: &DesiredState,
    state: &State,
    live: &LiveSnapshot,
    opts: &PlanOptions,
) -> Result<Plan, PlanError> {
    let mut plan = plan_without_desired(desired, state, live, opts)?;
    plan.desired = desired.clone();
    Ok(plan)
}

/// [`plan`] for a caller that has no further use for the desired state: it
/// moves into the plan instead of being copied (at 10,000 entities the
/// copy is a noticeable part of `m3ter plan`'s run time).
pub fn plan_owned(
    desired: DesiredState,
    state: &State,
    live: &LiveSnapshot,
    opts: &PlanOptions,
) -> Result<Plan, PlanError> {
    let mut plan = plan_without_desired(&desired, state, live, opts)?;
    plan.desired = desired;
    Ok(plan)
}

/// The plan with an empty `desired` field, which the callers above fill.
fn plan_without_desired(
    desired: &DesiredState,
    state: &State,
    live: &LiveSnapshot,
    opts: &PlanOptions,
) -> Result<Plan, PlanError> {
    // `moved:` re-keys the state first, so the moved entity is compared
    // under its new address (an update, not a delete and a create).
    let moves = super::moved::effective(desired, state)?;
    let rekeyed;
    let state = if moves.is_empty() {
        state
    } else {
        let mut s = state.clone();
        for m in &moves {
            super::moved::rekey(&mut s, &m.from, &m.to);
        }
        rekeyed = s;
        &rekeyed
    };
    let owned: HashSet<(Kind, &str)> = state
        .resources
        .iter()
        .map(|(a, r)| (a.kind, r.id.as_str()))
        .collect();
    let idx = LiveIndex::build(live, &owned);
    let in_scope = |a: &Address| opts.targets.as_ref().is_none_or(|t| t.contains(a));

    let mut plan = Plan {
        format_version: super::FORMAT_VERSION,
        org_id: state.org_id.clone(),
        lineage: state.lineage.clone(),
        serial: state.serial,
        refresh_only: opts.refresh_only,
        destroy: opts.destroy,
        targets: opts.targets.clone(),
        desired: DesiredState::default(),
        changes: Vec::new(),
        steps: Vec::new(),
        drift: detect_drift(desired, state, &idx, &in_scope),
        forget: Vec::new(),
        moved: moves,
        warnings: Vec::new(),
    };
    if opts.refresh_only {
        return Ok(plan);
    }

    let mut changes = Vec::new();
    if !opts.destroy {
        let mut planned: HashMap<&Address, PlannedId> = HashMap::new();
        let built;
        let order = match &opts.order {
            Some(order) => order,
            None => {
                built = super::order::desired_order(desired)?;
                &built
            }
        };
        for addr in order {
            let Some((addr, entity)) = desired.entities.get_key_value(addr) else {
                continue;
            };
            let how = How {
                replace: opts.replace.contains(addr),
                moved: plan.moved.iter().any(|m| &m.to == addr),
            };
            match evaluate(entity, desired, state, &idx, &planned, how) {
                Ok(ev) => {
                    planned.insert(addr, ev.planned_id);
                    if let Some(change) = ev.change.filter(|_| in_scope(addr)) {
                        if change.action == Action::Replace && entity.lifecycle.prevent_destroy {
                            return Err(PlanError::PreventDestroy {
                                address: addr.clone(),
                                action: "replace",
                            });
                        }
                        changes.push(change);
                    }
                }
                Err(err) if in_scope(addr) => return Err(err),
                // Out of the targets: not planned, and its id is not relied on.
                Err(_) => {
                    planned.insert(addr, PlannedId::Unknown);
                }
            }
        }
    }
    changes.extend(plan_deletes(desired, state, &idx, opts, &in_scope)?);

    plan.changes = changes;
    plan.forget = forgets(&plan, desired, state);
    let managed = state.resources.len();
    if let Some(touched) = plan.mass_change(managed) {
        plan.warnings
            .push(super::PlanWarning::MassChange { touched, managed });
    }
    plan.steps = super::order::steps(&plan.changes, desired, state)?;
    Ok(plan)
}

/// The id an entity will have once its change is applied.
#[derive(Debug, Clone, PartialEq)]
enum PlannedId {
    Known(String),
    /// Created by this plan: "(known after apply)".
    Unknown,
    /// Re-created by this plan (a replace): known after apply too, and the
    /// old id (live entities that still point at it must go first, since
    /// the API refuses to delete an entity something references).
    Replaced(String),
}

/// What the caller asks of one entity's evaluation.
#[derive(Debug, Clone, Copy)]
struct How {
    /// `--replace`: a replace even when nothing forces it.
    replace: bool,
    /// Re-keyed by `moved:`: its key fields may change in place.
    moved: bool,
}

struct Evaluation {
    change: Option<Change>,
    planned_id: PlannedId,
}

/// Live entities indexed by id and by key (the key of their would-be
/// address), the latter without entities that state already owns.
struct LiveIndex<'a> {
    by_id: HashMap<(Kind, &'a str), &'a Value>,
    /// The one live entity of each singleton kind the org has written.
    singletons: HashMap<Kind, &'a Value>,
    by_key: HashMap<Kind, HashMap<String, Vec<&'a Value>>>,
}

fn str_field<'a>(v: &'a Value, field: &str) -> Option<&'a str> {
    v.get(field).and_then(Value::as_str)
}

impl<'a> LiveIndex<'a> {
    fn build(live: &'a LiveSnapshot, owned: &HashSet<(Kind, &str)>) -> Self {
        let mut by_id = HashMap::new();
        for kind in Kind::ALL {
            for v in live.of(kind) {
                if let Some(id) = str_field(v, "id") {
                    by_id.insert((kind, id), v);
                }
            }
        }
        let singletons = Kind::ALL
            .into_iter()
            .filter(|k| k.is_singleton())
            .filter_map(|k| Some((k, live.of(k).first()?)))
            .collect();
        let mut idx = LiveIndex {
            by_id,
            singletons,
            by_key: HashMap::new(),
        };
        for kind in Kind::ALL {
            for v in live.of(kind) {
                let Some(id) = str_field(v, "id") else {
                    continue;
                };
                if owned.contains(&(kind, id)) {
                    continue;
                }
                if let Some(key) = idx.key_of(kind, v) {
                    idx.by_key
                        .entry(kind)
                        .or_default()
                        .entry(key)
                        .or_default()
                        .push(v);
                }
            }
        }
        idx
    }

    /// The live entity of `kind` with this id; for a singleton kind, its
    /// one entity (see [`LiveSnapshot::by_id`]).
    fn get(&self, kind: Kind, id: &str) -> Option<&'a Value> {
        if kind.is_singleton() {
            return self.singletons.get(&kind).copied();
        }
        self.by_id.get(&(kind, id)).copied()
    }

    /// The address key a live entity would have (design §3.3), the codes
    /// of the entities its ids point at standing in for its references.
    fn key_of(&self, kind: Kind, v: &'a Value) -> Option<String> {
        identity::key_of(kind, &LiveKeySource { idx: self, v })
    }
}

/// A live entity as [`identity::key_of`] reads it: ids resolved to codes
/// through the index.
struct LiveKeySource<'i, 'a> {
    idx: &'i LiveIndex<'a>,
    v: &'a Value,
}

impl identity::KeySource for LiveKeySource<'_, '_> {
    fn value(&self, field: &str) -> Option<&Value> {
        self.v.get(field)
    }

    fn code(&self, field: &str, target: Kind) -> Option<&str> {
        str_field(self.idx.get(target, str_field(self.v, field)?)?, "code")
    }
}

/// The request fields of a live entity (what a delete shows as `before`).
fn request_fields(kind: Kind, live: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    let mut names: Vec<&str> = kind.fields().iter().map(|f| f.name).collect();
    names.sort_unstable();
    for name in names {
        if let Some(v) = live.get(name).filter(|v| !v.is_null()) {
            out.insert(name.to_string(), v.clone());
        }
    }
    out
}

/// A deleted entity's request fields, each reference to an entity the
/// state manages written as that entity's address (an unmanaged target
/// keeps its id).
fn deleted_fields(
    kind: Kind,
    live: &Value,
    address_by_id: &HashMap<(Kind, &str), &Address>,
) -> Map<String, Value> {
    let mut out = request_fields(kind, live);
    let targets = kind
        .references()
        .into_iter()
        .map(|r| (r.field, Some(r.target)));
    let any = kind
        .any_refs()
        .into_iter()
        .map(|(f, _)| (f, kind.any_ref_target(f, live)));
    for (field, target) in targets.chain(any) {
        if let Some(Value::String(id)) = out.get(field)
            && let Some(a) = target.and_then(|t| address_by_id.get(&(t, id.as_str())))
        {
            out.insert(field.to_string(), Value::String(a.to_string()));
        }
    }
    out
}

fn version_of(live: &Value) -> Option<i64> {
    live.get("version").and_then(Value::as_i64)
}

/// Desired managed fields (references as addresses), sorted by name.
fn managed_fields(entity: &DesiredEntity, with_ignored: bool) -> Map<String, Value> {
    let kind = entity.address.kind;
    let ignored = |f: &str| !with_ignored && entity.lifecycle.ignore_changes.iter().any(|i| i == f);
    let mut pairs: Vec<(&String, Value)> = entity
        .fields
        .iter()
        .filter(|(f, v)| !v.is_null() && !read_only(kind, f) && !ignored(f))
        .map(|(f, v)| (f, v.clone()))
        .chain(
            entity
                .refs
                .iter()
                .filter(|(f, _)| !ignored(f))
                .map(|(f, a)| (f, Value::String(a.to_string()))),
        )
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    pairs.into_iter().map(|(k, v)| (k.clone(), v)).collect()
}

fn evaluate(
    entity: &DesiredEntity,
    desired: &DesiredState,
    state: &State,
    idx: &LiveIndex<'_>,
    planned: &HashMap<&Address, PlannedId>,
    how: How,
) -> Result<Evaluation, PlanError> {
    let addr = &entity.address;
    let kind = addr.kind;
    // A moved entity's new key is the point of the move: only fields the
    // API cannot update force a replace.
    let forces = |field: &str| {
        if how.moved {
            kind.immutable_fields().contains(&field)
        } else {
            forces_replacement(kind, field)
        }
    };
    let in_state = state.resources.get(addr);
    let by_state = in_state.and_then(|rs| idx.get(kind, &rs.id));
    let (live, import) = match by_state {
        Some(l) => (Some(l), false),
        None => match idx
            .by_key
            .get(&kind)
            .and_then(|m| m.get(addr.key.as_str()))
            .map(Vec::as_slice)
        {
            None | Some([]) => (None, false),
            Some([one]) => (Some(*one), true),
            Some(many) => {
                let mut ids: Vec<String> = many
                    .iter()
                    .filter_map(|v| str_field(v, "id").map(str::to_string))
                    .collect();
                ids.sort();
                return Err(PlanError::AmbiguousImport {
                    address: addr.clone(),
                    ids,
                });
            }
        },
    };

    let Some(live) = live else {
        if kind.is_singleton() {
            return Ok(unwritten_singleton(entity, in_state.is_some()));
        }
        return Ok(Evaluation {
            change: Some(Change {
                action: Action::Create,
                address: addr.clone(),
                id: None,
                version: None,
                before: None,
                after: Some(managed_fields(entity, true)),
                diff: Vec::new(),
                resets: Vec::new(),
                adopted: false,
                reason: in_state.map(|_| Reason::DeletedOutside),
            }),
            planned_id: PlannedId::Unknown,
        });
    };
    // Its secrets as last applied: the API never returns them.
    let live = &*crate::sensitive::as_last_applied(kind, live, in_state.map(|rs| &rs.applied));
    let live_id = str_field(live, "id").unwrap_or_default().to_string();

    let ignored = |f: &str| entity.lifecycle.ignore_changes.iter().any(|i| i == f);
    let mut diff = Vec::new();
    for (field, want) in &entity.fields {
        if want.is_null() || read_only(kind, field) || ignored(field) {
            continue;
        }
        let have = live.get(field).filter(|v| !v.is_null());
        if !field_equal(kind, field, want, have) {
            diff.push(FieldDiff {
                field: field.clone(),
                before: have.cloned(),
                after: Some(want.clone()),
                known_after_apply: false,
                forces_replacement: forces(field),
            });
        }
    }
    for (field, target) in &entity.refs {
        if ignored(field) {
            continue;
        }
        let target_id = match planned.get(target) {
            Some(p) => p.clone(),
            None if desired.entities.contains_key(target) => PlannedId::Unknown,
            None => {
                return Err(PlanError::UnknownReference {
                    from: addr.clone(),
                    to: target.clone(),
                });
            }
        };
        let have = str_field(live, field);
        let same = matches!(&target_id, PlannedId::Known(id) if Some(id.as_str()) == have);
        // Pointing at an entity this plan replaces: the old one cannot be
        // deleted while this live entity references it, and the new one
        // does not exist before that delete, so this entity is replaced too.
        let blocks_delete =
            matches!(&target_id, PlannedId::Replaced(old) if Some(old.as_str()) == have);
        if !same {
            diff.push(FieldDiff {
                field: field.clone(),
                before: live.get(field).filter(|v| !v.is_null()).cloned(),
                after: Some(Value::String(target.to_string())),
                known_after_apply: !matches!(target_id, PlannedId::Known(_)),
                forces_replacement: forces(field) || blocks_delete,
            });
        }
    }
    diff.sort_by(|a, b| a.field.cmp(&b.field));

    // Fields managed before and no longer desired: reset to the server
    // default by leaving them out of the PUT (only if live still has them).
    // Not for a singleton: its PUT starts from the live entity, so a field
    // YAML stops writing keeps its live value and is no longer managed.
    let mut resets = Vec::new();
    if let (Some(rs), false, false) = (in_state, import, kind.is_singleton()) {
        for field in rs.applied.keys() {
            let still = entity.fields.get(field).is_some_and(|v| !v.is_null())
                || entity.refs.contains_key(field);
            let present = live
                .get(field)
                .is_some_and(|v| !super::compare::is_empty(v));
            if !still && present && !ignored(field) && !read_only(kind, field) {
                resets.push(field.clone());
            }
        }
        resets.sort();
    }

    let forcing = how.replace || diff.iter().any(|d| d.forces_replacement);
    let action = if forcing {
        Some(Action::Replace)
    } else if import {
        Some(Action::Import)
    } else if !diff.is_empty() || !resets.is_empty() {
        Some(Action::Update)
    } else {
        None
    };
    let planned_id = match action {
        Some(Action::Replace) => PlannedId::Replaced(live_id.clone()),
        _ => PlannedId::Known(live_id.clone()),
    };
    let change = action.map(|action| {
        let after = managed_fields(entity, false);
        let before: Map<String, Value> = after
            .keys()
            .chain(resets.iter())
            .filter_map(|k| {
                live.get(k)
                    .filter(|v| !v.is_null())
                    .map(|v| (k.clone(), v.clone()))
            })
            .collect();
        Change {
            action,
            address: addr.clone(),
            id: Some(live_id.clone()),
            version: version_of(live),
            before: Some(before),
            after: Some(after),
            diff,
            resets: if action == Action::Replace {
                Vec::new()
            } else {
                resets
            },
            adopted: import,
            reason: (how.replace && action == Action::Replace).then_some(Reason::ReplaceRequested),
        }
    });
    Ok(Evaluation { change, planned_id })
}

/// A desired singleton the org has never written (no live entity: the API
/// answers 404): its written fields are all differences, and the PUT that
/// writes them sends no `version`. Adopted (an import) when state does not
/// know it yet; it is never created, as every org has one.
fn unwritten_singleton(entity: &DesiredEntity, in_state: bool) -> Evaluation {
    let after = managed_fields(entity, false);
    let diff: Vec<FieldDiff> = after
        .iter()
        .map(|(field, want)| FieldDiff {
            field: field.clone(),
            before: None,
            after: Some(want.clone()),
            known_after_apply: false,
            forces_replacement: false,
        })
        .collect();
    let change = (!diff.is_empty()).then(|| Change {
        action: if in_state {
            Action::Update
        } else {
            Action::Import
        },
        address: entity.address.clone(),
        id: None,
        version: None,
        before: Some(Map::new()),
        after: Some(after),
        diff,
        resets: Vec::new(),
        adopted: !in_state,
        reason: None,
    });
    Evaluation {
        change,
        planned_id: PlannedId::Unknown,
    }
}

fn plan_deletes(
    desired: &DesiredState,
    state: &State,
    idx: &LiveIndex<'_>,
    opts: &PlanOptions,
    in_scope: &impl Fn(&Address) -> bool,
) -> Result<Vec<Change>, PlanError> {
    let kept = named_by_singletons(state, opts.destroy);
    let mut doomed = BTreeSet::new();
    for (addr, rs) in &state.resources {
        if kept.contains(addr) {
            continue;
        }
        let wanted = desired.entities.get(addr);
        // A singleton cannot be deleted: it is forgotten instead
        // (`forgets`).
        if !in_scope(addr) || (!opts.destroy && wanted.is_some()) || addr.kind.is_singleton() {
            continue;
        }
        if wanted.is_some_and(|e| e.lifecycle.prevent_destroy) {
            return Err(PlanError::PreventDestroy {
                address: addr.clone(),
                action: "destroy",
            });
        }
        // Already gone: nothing to delete (the drift section says so).
        if idx.get(addr.kind, &rs.id).is_some() {
            doomed.insert(addr);
        }
    }
    let reason = if opts.destroy {
        Reason::DestroyRequested
    } else {
        Reason::RemovedFromDesired
    };
    // Deleted entities show their references as addresses, like creates do.
    let address_by_id: HashMap<(Kind, &str), &Address> = state
        .resources
        .iter()
        .map(|(a, rs)| ((a.kind, rs.id.as_str()), a))
        .collect();
    let mut out = Vec::new();
    for addr in super::order::delete_order(&doomed, state) {
        let rs = &state.resources[addr];
        let Some(live) = idx.get(addr.kind, &rs.id) else {
            continue;
        };
        out.push(Change {
            action: Action::Delete,
            address: addr.clone(),
            id: Some(rs.id.clone()),
            version: version_of(live),
            before: Some(deleted_fields(addr.kind, live, &address_by_id)),
            after: None,
            diff: Vec::new(),
            resets: Vec::new(),
            adopted: rs.adopted,
            reason: Some(reason),
        });
    }
    Ok(out)
}

/// On destroy, what the singletons in state reference (the org config's
/// currency), and what that references in turn: singletons stay in the
/// org, and the server refuses to delete what they still name, so these
/// are forgotten instead of deleted.
fn named_by_singletons(state: &State, destroy: bool) -> BTreeSet<Address> {
    let mut kept = BTreeSet::new();
    if !destroy {
        return kept;
    }
    let mut todo: Vec<&Address> = state
        .resources
        .iter()
        .filter(|(a, _)| a.kind.is_singleton())
        .flat_map(|(_, rs)| rs.depends_on.iter())
        .collect();
    while let Some(addr) = todo.pop() {
        if addr.kind.is_singleton() || !kept.insert(addr.clone()) {
            continue;
        }
        if let Some(rs) = state.resources.get(addr) {
            todo.extend(rs.depends_on.iter());
        }
    }
    kept.retain(|a| state.resources.contains_key(a));
    kept
}

/// The drift entries of entities deleted outside this tool that the plan
/// does not create again (they are no longer desired, or this is a destroy
/// plan): state forgets them, as there is nothing left to delete.
fn forgets(plan: &Plan, desired: &DesiredState, state: &State) -> Vec<Forget> {
    let reason = if plan.destroy {
        Reason::DestroyRequested
    } else {
        Reason::RemovedFromDesired
    };
    let mut out: Vec<Forget> = plan
        .drift
        .iter()
        .filter(|d| d.after.is_none() && plan.change(&d.address).is_none())
        .filter(|d| plan.destroy || !desired.entities.contains_key(&d.address))
        .map(|d| Forget {
            address: d.address.clone(),
            id: d.id.clone(),
            reason,
        })
        .collect();
    // What those singletons reference stays with them on destroy.
    for addr in named_by_singletons(state, plan.destroy) {
        let in_scope = plan.targets.as_ref().is_none_or(|t| t.contains(&addr));
        if in_scope && !out.iter().any(|f| f.address == addr) {
            out.push(Forget {
                id: state.resources[&addr].id.clone(),
                address: addr,
                reason: Reason::NamedBySingleton,
            });
        }
    }
    // Singletons no longer desired (or all of them, for destroy) are left
    // in place in the org: no request, state stops managing them.
    for (addr, rs) in &state.resources {
        let in_scope = plan.targets.as_ref().is_none_or(|t| t.contains(addr));
        let leaving = plan.destroy || !desired.entities.contains_key(addr);
        if addr.kind.is_singleton()
            && in_scope
            && leaving
            && !out.iter().any(|f| &f.address == addr)
        {
            out.push(Forget {
                address: addr.clone(),
                id: rs.id.clone(),
                reason,
            });
        }
    }
    out
}

/// For each state resource: its live entity is gone, or differs from the
/// last-applied record (same comparison rules as the plan).
fn detect_drift(
    desired: &DesiredState,
    state: &State,
    idx: &LiveIndex<'_>,
    in_scope: &impl Fn(&Address) -> bool,
) -> Vec<Drift> {
    let mut out = Vec::new();
    for (addr, rs) in &state.resources {
        if !in_scope(addr) {
            continue;
        }
        let Some(live) = idx.get(addr.kind, &rs.id) else {
            out.push(Drift {
                address: addr.clone(),
                id: rs.id.clone(),
                before: rs.applied.clone(),
                after: None,
                version: None,
            });
            continue;
        };
        let ignored = |f: &str| {
            desired
                .entities
                .get(addr)
                .is_some_and(|e| e.lifecycle.ignore_changes.iter().any(|i| i == f))
        };
        let mut before = Map::new();
        let mut after = Map::new();
        for (field, was) in &rs.applied {
            if read_only(addr.kind, field) || ignored(field) {
                continue;
            }
            let now = live.get(field).filter(|v| !v.is_null());
            if !field_equal(addr.kind, field, was, now) {
                before.insert(field.clone(), was.clone());
                after.insert(field.clone(), now.cloned().unwrap_or(Value::Null));
            }
        }
        if !before.is_empty() {
            out.push(Drift {
                address: addr.clone(),
                id: rs.id.clone(),
                before,
                after: Some(after),
                version: version_of(live),
            });
        }
    }
    out
}
