//! Ordering (`shared/design.md` §4 "Order"): the dependency order of the
//! desired state, the reverse order of deletes (old graph, from the state's
//! recorded dependencies), and the executable [`Step`] list.
//!
//! Steps rather than changes are ordered because a replace is two remote
//! operations that other operations interleave with: when a plan and the
//! pricings on it are both replaced, the pricings' DELETEs come before the
//! plan's DELETE, but their POSTs come after the plan's POST.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};

use super::{Action, Change, Phase, PlanError, Step};
use crate::address::Address;
use crate::desired::{DesiredEntity, DesiredState};
use crate::state::State;
use m3ter_api::Kind;

/// Desired addresses with every dependency before its dependents; ties in
/// address order (Kahn's algorithm over a sorted ready set).
pub fn desired_order(desired: &DesiredState) -> Result<Vec<&Address>, PlanError> {
    let mut waiting: HashMap<&Address, usize> = HashMap::new();
    let mut dependents: HashMap<&Address, Vec<&Address>> = HashMap::new();
    for (addr, e) in &desired.entities {
        let deps: BTreeSet<&Address> = e
            .dependencies()
            .filter(|d| desired.entities.contains_key(*d))
            .collect();
        waiting.insert(addr, deps.len());
        for d in deps {
            dependents.entry(d).or_default().push(addr);
        }
    }
    kahn(waiting, &dependents)
}

/// Kahn's algorithm: `waiting[n]` = number of predecessors of `n`.
fn kahn<'a>(
    mut waiting: HashMap<&'a Address, usize>,
    successors: &HashMap<&'a Address, Vec<&'a Address>>,
) -> Result<Vec<&'a Address>, PlanError> {
    let mut ready: BTreeSet<&Address> = waiting
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(a, _)| *a)
        .collect();
    let mut out = Vec::with_capacity(waiting.len());
    while let Some(a) = ready.pop_first() {
        out.push(a);
        for s in successors.get(a).into_iter().flatten() {
            if let Some(n) = waiting.get_mut(s) {
                *n -= 1;
                if *n == 0 {
                    ready.insert(s);
                }
            }
        }
    }
    if out.len() < waiting.len() {
        let done: HashSet<&Address> = out.iter().copied().collect();
        let mut stuck: Vec<Address> = waiting
            .keys()
            .filter(|a| !done.contains(*a))
            .map(|a| (*a).clone())
            .collect();
        stuck.sort();
        return Err(PlanError::Cycle(stuck));
    }
    Ok(out)
}

/// The addresses to delete, dependents before what they depended on (the
/// state's `dependsOn`), ties in address order. A cycle in old state cannot
/// be ordered: its members come last, in address order.
pub fn delete_order<'a>(doomed: &BTreeSet<&'a Address>, state: &'a State) -> Vec<&'a Address> {
    let mut waiting: HashMap<&Address, usize> = doomed.iter().map(|a| (*a, 0)).collect();
    let mut successors: HashMap<&Address, Vec<&Address>> = HashMap::new();
    for a in doomed {
        let Some(rs) = state.resources.get(*a) else {
            continue;
        };
        let deps: BTreeSet<&Address> = rs
            .depends_on
            .iter()
            .filter(|d| doomed.contains(d) && *d != *a)
            .collect();
        for d in deps {
            // `a` depends on `d`: `a` is deleted first.
            if let Some(n) = waiting.get_mut(d) {
                *n += 1;
            }
            successors.entry(*a).or_default().push(d);
        }
    }
    match kahn(waiting, &successors) {
        Ok(order) => order,
        Err(_) => doomed.iter().copied().collect(),
    }
}

/// What a create must not collide with: a code, or the conflict scope of
/// its kind (a pricing's owner and aggregation, an account's account
/// plans; `Identity::scope` in the kind table).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Slot {
    Code(Kind, String),
    Scope(Kind, Vec<Address>),
}

fn slot_of(kind: Kind, code: Option<&str>, deps: &[&Address]) -> Vec<Slot> {
    let mut out = Vec::new();
    if let Some(code) = code {
        out.push(Slot::Code(kind, code.to_string()));
    }
    let scope = kind.spec().identity.scope;
    // Each group's target: the first dependency of a kind the group's
    // reference fields point at.
    let targets: Option<Vec<Address>> = scope
        .iter()
        .map(|group| {
            let kinds: Vec<Kind> = group.iter().filter_map(|f| kind.ref_target(f)).collect();
            deps.iter()
                .find(|a| kinds.contains(&a.kind))
                .map(|a| (*a).clone())
        })
        .collect();
    if let (false, Some(targets)) = (scope.is_empty(), targets) {
        out.push(Slot::Scope(kind, targets));
    }
    out
}

fn desired_slots(e: &DesiredEntity) -> Vec<Slot> {
    let kind = e.address.kind;
    let deps: Vec<&Address> = kind
        .spec()
        .identity
        .scope
        .iter()
        .flat_map(|group| group.iter())
        .filter_map(|f| e.refs.get(*f))
        .collect();
    slot_of(kind, e.fields.get("code").and_then(|v| v.as_str()), &deps)
}

/// The steps of `changes` in an executable order, each with the steps it
/// waits for:
/// - a write waits for the writes of its dependencies (new graph) and, if it
///   creates, for the deletes that free its code, key or account-plan slot;
/// - a delete waits for the deletes of its old dependents and for the
///   updates that drop an old dependent's reference to it.
pub fn steps(
    changes: &[Change],
    desired: &DesiredState,
    state: &State,
) -> Result<Vec<Step>, PlanError> {
    // Nodes in listing order: the tie-break of the final order.
    let mut nodes: Vec<(usize, Phase)> = Vec::new();
    let mut write_of: HashMap<&Address, usize> = HashMap::new();
    let mut delete_of: HashMap<&Address, usize> = HashMap::new();
    for (i, c) in changes.iter().enumerate() {
        if matches!(c.action, Action::Delete | Action::Replace) {
            delete_of.insert(&c.address, nodes.len());
            nodes.push((i, Phase::Delete));
        }
        if c.action != Action::Delete {
            write_of.insert(&c.address, nodes.len());
            nodes.push((i, Phase::Write));
        }
    }

    let mut freed: HashMap<Slot, Vec<usize>> = HashMap::new();
    for (addr, &node) in &delete_of {
        let change = &changes[nodes[node].0];
        let code = change
            .before
            .as_ref()
            .and_then(|b| b.get("code"))
            .and_then(|v| v.as_str());
        let deps: Vec<&Address> = state
            .resources
            .get(*addr)
            .map(|rs| rs.depends_on.iter().collect())
            .unwrap_or_default();
        for slot in slot_of(addr.kind, code, &deps) {
            freed.entry(slot).or_default().push(node);
        }
    }
    let mut old_dependents: HashMap<&Address, Vec<&Address>> = HashMap::new();
    for (addr, rs) in &state.resources {
        for d in &rs.depends_on {
            old_dependents.entry(d).or_default().push(addr);
        }
    }

    let mut preds: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); nodes.len()];
    for (node, &(i, phase)) in nodes.iter().enumerate() {
        let c = &changes[i];
        let entity = desired.entities.get(&c.address);
        match phase {
            Phase::Write => {
                let Some(e) = entity else { continue };
                for dep in e.dependencies() {
                    if let Some(&w) = write_of.get(dep) {
                        preds[node].insert(w);
                    }
                }
                if matches!(c.action, Action::Create | Action::Replace) {
                    if let Some(&d) = delete_of.get(&c.address) {
                        preds[node].insert(d);
                    }
                    for slot in desired_slots(e) {
                        preds[node].extend(freed.get(&slot).into_iter().flatten());
                    }
                }
            }
            Phase::Delete => {
                for dependent in old_dependents.get(&c.address).into_iter().flatten() {
                    if dependent == &&c.address {
                        continue;
                    }
                    if let Some(&d) = delete_of.get(dependent) {
                        preds[node].insert(d);
                    } else if let Some(&w) = write_of.get(dependent) {
                        // Its update drops the reference, unless the new
                        // entity still depends on this address (it then
                        // waits for our re-create: no edge, or a cycle).
                        let still = desired
                            .entities
                            .get(*dependent)
                            .is_some_and(|e| e.dependencies().any(|a| a == &c.address));
                        if !still {
                            preds[node].insert(w);
                        }
                    }
                }
            }
        }
        preds[node].remove(&node);
    }

    // Kahn over nodes, ties by listing order.
    let mut waiting: Vec<usize> = preds.iter().map(BTreeSet::len).collect();
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (n, ps) in preds.iter().enumerate() {
        for &p in ps {
            succ[p].push(n);
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..nodes.len())
        .filter(|&n| waiting[n] == 0)
        .map(Reverse)
        .collect();
    let mut position = vec![usize::MAX; nodes.len()];
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(Reverse(n)) = ready.pop() {
        position[n] = order.len();
        order.push(n);
        for &s in &succ[n] {
            waiting[s] -= 1;
            if waiting[s] == 0 {
                ready.push(Reverse(s));
            }
        }
    }
    if order.len() < nodes.len() {
        let mut stuck: Vec<Address> = (0..nodes.len())
            .filter(|&n| position[n] == usize::MAX)
            .map(|n| changes[nodes[n].0].address.clone())
            .collect();
        stuck.sort();
        stuck.dedup();
        return Err(PlanError::Cycle(stuck));
    }
    Ok(order
        .into_iter()
        .map(|n| {
            let (change, phase) = nodes[n];
            let mut wait_for: Vec<usize> = preds[n].iter().map(|&p| position[p]).collect();
            wait_for.sort_unstable();
            Step {
                change,
                phase,
                wait_for,
            }
        })
        .collect())
}
