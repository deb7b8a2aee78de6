//! The dependency graph of the desired state (design §3.4), on petgraph.
//!
//! One edge per reference, running from the dependency to the dependent
//! (`product.p -> meter.m`); never waves by kind. Creates and updates run in
//! [`Graph::topo_order`], deletes in its reverse. Every listing is sorted by
//! address so plans and output are deterministic.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::address::Address;
use crate::desired::{DesiredState, Diagnostic, Diagnostics, Source};

pub(crate) mod sort;

/// A dependency cycle: `path` starts and ends with the same address, each
/// entry referring to the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    pub path: Vec<Address>,
    /// Where the first entity of the loop was written, when known.
    pub source: Option<Source>,
}

impl fmt::Display for Cycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path: Vec<String> = self.path.iter().map(ToString::to_string).collect();
        write!(
            f,
            "dependency cycle: {} (each entity refers to the next)",
            path.join(" -> ")
        )
    }
}

/// Why a graph cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// The references loop; every loop found is listed.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Cycles(Vec<Cycle>),
    /// An entity depends on an address that is not in the graph.
    #[error("`{dependent}` depends on `{dependency}`, which is not in the desired state")]
    Dangling {
        dependent: Address,
        dependency: Address,
    },
}

impl From<GraphError> for Diagnostics {
    fn from(e: GraphError) -> Self {
        match e {
            GraphError::Cycles(cycles) => Diagnostics(
                cycles
                    .iter()
                    .map(|c| {
                        Diagnostic::at_source(c.source.as_ref(), c.to_string())
                            .with_hint("remove one of these references to break the loop")
                    })
                    .collect(),
            ),
            dangling @ GraphError::Dangling { .. } => {
                Diagnostic::general(dangling.to_string()).into()
            }
        }
    }
}

/// A node: the entity's address and where it was written.
#[derive(Debug, Clone)]
struct Node {
    address: Address,
    source: Option<Source>,
}

/// The dependency graph; edges are labelled with the API field (or
/// `calculation`) that makes the reference.
#[derive(Debug, Clone)]
pub struct Graph {
    graph: DiGraph<Node, String>,
    index: BTreeMap<Address, NodeIndex>,
}

impl Graph {
    /// The graph of a desired state; fails on a cycle (reported as the
    /// whole loop) or a reference to an address that is not in it.
    pub fn build(state: &DesiredState) -> Result<Graph, GraphError> {
        Graph::from_entities(state.entities.values().map(|e| {
            let deps = e
                .refs
                .iter()
                .map(|(field, a)| (a.clone(), field.clone()))
                .chain(
                    e.extra_deps
                        .iter()
                        .map(|a| (a.clone(), e.extra_dep_label(a).into())),
                )
                .collect();
            (e.address.clone(), e.source.clone(), deps)
        }))
    }

    /// A graph from (address, source, dependencies with edge labels);
    /// useful for the old graph recorded in a state file.
    pub fn from_entities(
        entities: impl IntoIterator<Item = (Address, Option<Source>, Vec<(Address, String)>)>,
    ) -> Result<Graph, GraphError> {
        let mut graph = DiGraph::new();
        let mut index = BTreeMap::new();
        let mut pending = Vec::new();
        for (address, source, deps) in entities {
            let i = graph.add_node(Node {
                address: address.clone(),
                source,
            });
            index.insert(address.clone(), i);
            pending.push((address, deps));
        }
        for (dependent, deps) in pending {
            let to = index[&dependent];
            for (dependency, label) in deps {
                let Some(&from) = index.get(&dependency) else {
                    return Err(GraphError::Dangling {
                        dependent,
                        dependency,
                    });
                };
                graph.add_edge(from, to, label);
            }
        }
        let g = Graph { graph, index };
        let cycles = g.cycles();
        if cycles.is_empty() {
            Ok(g)
        } else {
            Err(GraphError::Cycles(cycles))
        }
    }

    /// Every loop, one per strongly connected component (a self-reference
    /// is a loop of one), following references, sorted by first address.
    fn cycles(&self) -> Vec<Cycle> {
        sort::find_loops(&self.graph, &|i| &self.graph[i].address)
            .into_iter()
            .map(|path| Cycle {
                source: path.first().and_then(|&i| self.graph[i].source.clone()),
                path: path
                    .iter()
                    .map(|&i| self.graph[i].address.clone())
                    .collect(),
            })
            .collect()
    }

    /// Neighbours of `n` in a direction, sorted by address.
    fn sorted(&self, n: NodeIndex, dir: Direction) -> Vec<NodeIndex> {
        let mut v: Vec<NodeIndex> = self.graph.neighbors_directed(n, dir).collect();
        v.sort_by(|a, b| self.graph[*a].address.cmp(&self.graph[*b].address));
        v.dedup();
        v
    }

    /// Whether the address is in the graph.
    pub fn contains(&self, address: &Address) -> bool {
        self.index.contains_key(address)
    }

    /// Number of entities.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether the graph has no entities.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Dependencies before dependents; among entities that are ready at the
    /// same time, the smallest address first.
    pub fn topo_order(&self) -> Vec<Address> {
        // A built graph has no cycle (`build` refuses one).
        sort::stable_toposort(&self.graph, |i| &self.graph[i].address)
            .unwrap_or_default()
            .into_iter()
            .map(|i| self.graph[i].address.clone())
            .collect()
    }

    /// What `address` refers to directly, sorted.
    pub fn dependencies_of(&self, address: &Address) -> Vec<Address> {
        self.neighbours(address, Direction::Incoming)
    }

    /// What refers to `address` directly, sorted.
    pub fn dependents_of(&self, address: &Address) -> Vec<Address> {
        self.neighbours(address, Direction::Outgoing)
    }

    fn neighbours(&self, address: &Address, dir: Direction) -> Vec<Address> {
        self.index.get(address).map_or_else(Vec::new, |&i| {
            self.sorted(i, dir)
                .into_iter()
                .map(|n| self.graph[n].address.clone())
                .collect()
        })
    }

    /// The targets plus all their transitive dependencies (`--target`).
    /// Targets not in the graph are kept as given.
    pub fn closure<'a>(&self, targets: impl IntoIterator<Item = &'a Address>) -> BTreeSet<Address> {
        let mut out = BTreeSet::new();
        let mut stack: Vec<Address> = targets.into_iter().cloned().collect();
        while let Some(a) = stack.pop() {
            if out.insert(a.clone()) {
                stack.extend(self.dependencies_of(&a));
            }
        }
        out
    }

    /// Graphviz DOT: one node per entity, one edge per reference, from
    /// dependency to dependent, labelled with the referring field.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph m3ter {\n  rankdir = LR;\n  node [shape = box];\n");
        for a in self.index.keys() {
            let _ = writeln!(out, "  {};", quote(&a.to_string()));
        }
        let mut edges: Vec<(&Address, &Address, &str)> = self
            .graph
            .edge_indices()
            .filter_map(|e| {
                let (from, to) = self.graph.edge_endpoints(e)?;
                Some((
                    &self.graph[from].address,
                    &self.graph[to].address,
                    self.graph[e].as_str(),
                ))
            })
            .collect();
        edges.sort();
        for (from, to, label) in edges {
            let _ = writeln!(
                out,
                "  {} -> {} [label = {}];",
                quote(&from.to_string()),
                quote(&to.to_string()),
                quote(label)
            );
        }
        out.push_str("}\n");
        out
    }
}

/// A DOT double-quoted string.
fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use m3ter_api::Kind;

    fn a(s: &str) -> Address {
        s.parse().unwrap()
    }

    fn graph(edges: &[(&str, &[&str])]) -> Result<Graph, GraphError> {
        Graph::from_entities(edges.iter().map(|(node, deps)| {
            (
                a(node),
                None,
                deps.iter().map(|d| (a(d), "ref".to_string())).collect(),
            )
        }))
    }

    fn names(v: &[Address]) -> Vec<String> {
        v.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn dependencies_come_first_and_ties_go_by_address() {
        let g = graph(&[
            ("accountPlan.z/p@2024-12-01", &["account.z", "plan.p"]),
            ("plan.p", &["planTemplate.t"]),
            ("planTemplate.t", &["product.x"]),
            ("meter.m", &["product.x"]),
            ("account.z", &[]),
            ("product.x", &[]),
            ("account.b", &[]),
        ])
        .unwrap();
        assert_eq!(
            names(&g.topo_order()),
            [
                "product.x",
                "meter.m",
                "planTemplate.t",
                "plan.p",
                "account.b",
                "account.z",
                "accountPlan.z/p@2024-12-01",
            ]
        );
    }

    #[test]
    fn neighbours_and_closure() {
        let g = graph(&[
            ("product.x", &[]),
            ("meter.m", &["product.x"]),
            ("aggregation.a", &["meter.m"]),
            ("account.c", &[]),
        ])
        .unwrap();
        assert_eq!(names(&g.dependencies_of(&a("aggregation.a"))), ["meter.m"]);
        assert_eq!(names(&g.dependents_of(&a("product.x"))), ["meter.m"]);
        let c: Vec<_> = g.closure([&a("aggregation.a")]).into_iter().collect();
        assert_eq!(names(&c), ["product.x", "meter.m", "aggregation.a"]);
    }

    #[test]
    fn a_cycle_is_reported_as_the_whole_loop() {
        let err = graph(&[
            ("account.a", &["account.c"]),
            ("account.b", &["account.a"]),
            ("account.c", &["account.b"]),
            ("product.x", &[]),
        ])
        .unwrap_err();
        let GraphError::Cycles(cycles) = &err else {
            panic!("expected a cycle, got {err:?}")
        };
        assert_eq!(
            names(&cycles[0].path),
            ["account.a", "account.c", "account.b", "account.a"]
        );
        assert_eq!(
            err.to_string(),
            "dependency cycle: account.a -> account.c -> account.b -> account.a (each entity refers to the next)"
        );
    }

    #[test]
    fn a_self_reference_is_a_cycle() {
        let err = graph(&[("account.a", &["account.a"])]).unwrap_err();
        assert_eq!(
            err,
            GraphError::Cycles(vec![Cycle {
                path: vec![a("account.a"), a("account.a")],
                source: None
            }])
        );
    }

    #[test]
    fn dangling_dependencies_are_errors() {
        let err = graph(&[("meter.m", &["product.gone"])]).unwrap_err();
        assert_eq!(
            err,
            GraphError::Dangling {
                dependent: Address::new(Kind::Meter, "m"),
                dependency: Address::new(Kind::Product, "gone"),
            }
        );
    }

    #[test]
    fn dot_lists_nodes_and_labelled_edges() {
        let g = graph(&[("product.x", &[]), ("meter.m", &["product.x"])]).unwrap();
        assert_eq!(
            g.to_dot(),
            "digraph m3ter {\n  rankdir = LR;\n  node [shape = box];\n  \"product.x\";\n  \"meter.m\";\n  \"product.x\" -> \"meter.m\" [label = \"ref\"];\n}\n"
        );
    }
}
