//! Ordering (`shared/design.md` §4 "Order"): the dependency order of the
//! desired state, the reverse order of deletes (old graph, from the state's
//! recorded dependencies), and the executable [`Step`] list.
//!
//! Steps rather than changes are ordered because a replace is two remote
//! operations that other operations interleave with: when a plan and the
//! pricings on it are both replaced, the pricings' DELETEs come before the
//! plan's DELETE, but their POSTs come after the plan's POST.

use std::collections::{BTreeSet, HashMap};

use petgraph::graph::{DiGraph, NodeIndex};

use super::{Action, Change, Phase, PlanError, Step};
use crate::address::Address;
use crate::desired::{DesiredEntity, DesiredState};
use crate::graph::{Graph, GraphError, sort};
use crate::state::State;
use m3ter_api::Kind;

/// Desired addresses with every dependency before its dependents, ties in
/// address order: the desired-state graph's one topological order.
pub fn desired_order(desired: &DesiredState) -> Result<Vec<Address>, PlanError> {
    match Graph::build(desired) {
        Ok(graph) => Ok(graph.topo_order()),
        Err(GraphError::Cycles(cycles)) => Err(PlanError::Cycle(
            cycles
                .into_iter()
                .next()
                .map(|c| c.path)
                .unwrap_or_default(),
        )),
        Err(GraphError::Dangling {
            dependent,
            dependency,
        }) => Err(PlanError::UnknownReference {
            from: dependent,
            to: dependency,
        }),
    }
}

/// The addresses to delete, dependents before what they depended on (the
/// state's `dependsOn`), ties in address order. A cycle in old state cannot
/// be ordered: then all of them go in address order.
pub fn delete_order<'a>(doomed: &BTreeSet<&'a Address>, state: &'a State) -> Vec<&'a Address> {
    let mut g: DiGraph<&Address, ()> = DiGraph::new();
    let index: HashMap<&Address, NodeIndex> = doomed.iter().map(|a| (*a, g.add_node(*a))).collect();
    for a in doomed {
        let Some(rs) = state.resources.get(*a) else {
            continue;
        };
        for d in rs.depends_on.iter().filter(|d| *d != *a) {
            // `a` depends on `d`: `a` is deleted first.
            if let Some(&to) = index.get(d) {
                g.add_edge(index[a], to, ());
            }
        }
    }
    match sort::stable_toposort(&g, |i| g[i]) {
        Ok(order) => order.into_iter().map(|i| g[i]).collect(),
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
        .filter_map(|f| e.refs.get(f))
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

    super::removals::wait_for_users(changes, &write_of, &delete_of, &mut preds)?;

    // The graph's one sort over the steps, ties by listing order.
    let mut g: DiGraph<usize, ()> = DiGraph::new();
    for n in 0..nodes.len() {
        g.add_node(n);
    }
    for (n, ps) in preds.iter().enumerate() {
        for &p in ps {
            g.add_edge(NodeIndex::new(p), NodeIndex::new(n), ());
        }
    }
    let order: Vec<usize> = match sort::stable_toposort(&g, |i| i.index()) {
        Ok(order) => order.into_iter().map(|i| i.index()).collect(),
        Err(cycle) => {
            let mut path: Vec<Address> = cycle
                .iter()
                .map(|i| changes[nodes[i.index()].0].address.clone())
                .collect();
            // The delete and the write of one replace are one entity.
            path.dedup();
            return Err(PlanError::Cycle(path));
        }
    };
    let mut position = vec![usize::MAX; nodes.len()];
    for (at, &n) in order.iter().enumerate() {
        position[n] = at;
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
