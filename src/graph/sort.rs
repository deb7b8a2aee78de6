//! The one topological sort and the one cycle search of the tool, over any
//! petgraph graph: the desired-state graph, the old graph of deletes and the
//! planner's graph of steps all use them, so every order is stable the same
//! way and every loop is reported the same way.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use petgraph::Direction;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

/// Every node after all its predecessors (edges run from what comes first
/// to what comes after); among nodes ready at the same time, the smallest
/// `key` first. On a cycle, `Err` holds one loop as [`find_loop`] gives it.
pub(crate) fn stable_toposort<N, E, K: Ord>(
    g: &DiGraph<N, E>,
    key: impl Fn(NodeIndex) -> K,
) -> Result<Vec<NodeIndex>, Vec<NodeIndex>> {
    let mut waiting: Vec<usize> = g
        .node_indices()
        .map(|i| distinct(g, i, Direction::Incoming).len())
        .collect();
    let mut ready: BTreeSet<(K, NodeIndex)> = g
        .node_indices()
        .filter(|i| waiting[i.index()] == 0)
        .map(|i| (key(i), i))
        .collect();
    let mut out = Vec::with_capacity(g.node_count());
    while let Some((_, i)) = ready.pop_first() {
        out.push(i);
        for next in distinct(g, i, Direction::Outgoing) {
            let w = &mut waiting[next.index()];
            *w -= 1;
            if *w == 0 {
                ready.insert((key(next), next));
            }
        }
    }
    if out.len() == g.node_count() {
        return Ok(out);
    }
    Err(find_loops(g, &key).into_iter().next().unwrap_or_default())
}

/// Every loop of `g`, one per strongly connected component (a self-edge is
/// a loop of one), each as the shortest walk from its smallest-key member
/// back to itself against the edges (each node waits for, or refers to, the
/// next), first and last node equal. Sorted by the keys of their members.
pub(crate) fn find_loops<N, E, K: Ord>(
    g: &DiGraph<N, E>,
    key: &impl Fn(NodeIndex) -> K,
) -> Vec<Vec<NodeIndex>> {
    let mut out = Vec::new();
    for scc in tarjan_scc(g) {
        let self_loop = scc.len() == 1 && g.contains_edge(scc[0], scc[0]);
        if scc.len() < 2 && !self_loop {
            continue;
        }
        let Some(&start) = scc.iter().min_by_key(|&&i| key(i)) else {
            continue;
        };
        let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
        out.push(loop_through(g, start, &members, key));
    }
    out.sort_by(|a, b| {
        let ka: Vec<K> = a.iter().map(|&i| key(i)).collect();
        let kb: Vec<K> = b.iter().map(|&i| key(i)).collect();
        ka.cmp(&kb)
    });
    out
}

/// The shortest loop from `start` back to itself inside `members`, walking
/// edges backwards; neighbours are tried in key order so the loop reported
/// is always the same one.
fn loop_through<N, E, K: Ord>(
    g: &DiGraph<N, E>,
    start: NodeIndex,
    members: &BTreeSet<NodeIndex>,
    key: &impl Fn(NodeIndex) -> K,
) -> Vec<NodeIndex> {
    let mut prev: BTreeMap<NodeIndex, NodeIndex> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(n) = queue.pop_front() {
        let mut next: Vec<NodeIndex> = distinct(g, n, Direction::Incoming)
            .into_iter()
            .filter(|m| members.contains(m))
            .collect();
        next.sort_by_key(|&m| key(m));
        for m in next {
            if m == start {
                let mut path = vec![n];
                let mut cur = n;
                while cur != start {
                    match prev.get(&cur) {
                        Some(&p) => cur = p,
                        None => break,
                    }
                    path.push(cur);
                }
                path.reverse();
                path.push(start);
                return path;
            }
            if let std::collections::btree_map::Entry::Vacant(e) = prev.entry(m) {
                e.insert(n);
                queue.push_back(m);
            }
        }
    }
    vec![start, start]
}

/// Neighbours in one direction, each once (parallel edges count once).
fn distinct<N, E>(g: &DiGraph<N, E>, n: NodeIndex, dir: Direction) -> Vec<NodeIndex> {
    let mut v: Vec<NodeIndex> = g.neighbors_directed(n, dir).collect();
    v.sort_unstable();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(n: usize, edges: &[(usize, usize)]) -> DiGraph<usize, ()> {
        let mut g = DiGraph::new();
        for i in 0..n {
            g.add_node(i);
        }
        for &(a, b) in edges {
            g.add_edge(NodeIndex::new(a), NodeIndex::new(b), ());
        }
        g
    }

    fn ix(v: &[NodeIndex]) -> Vec<usize> {
        v.iter().map(|i| i.index()).collect()
    }

    #[test]
    fn ties_go_by_key() {
        let g = graph(4, &[(3, 0), (2, 1), (2, 1)]);
        let order = stable_toposort(&g, |i| i.index()).unwrap();
        assert_eq!(ix(&order), [2, 1, 3, 0]);
        let reversed = stable_toposort(&g, |i| std::cmp::Reverse(i.index())).unwrap();
        assert_eq!(ix(&reversed), [3, 2, 1, 0]);
    }

    #[test]
    fn a_cycle_is_the_whole_loop_from_its_smallest_member() {
        // 0 waits for 2, 2 for 1, 1 for 0 (edges run from first to after).
        let g = graph(4, &[(2, 0), (1, 2), (0, 1), (3, 0)]);
        let err = stable_toposort(&g, |i| i.index()).unwrap_err();
        assert_eq!(ix(&err), [0, 2, 1, 0]);
    }
}
