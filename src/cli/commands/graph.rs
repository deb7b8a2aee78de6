//! `m3ter graph`: the dependency graph of the desired state in Graphviz DOT
//! on stdout (`m3ter graph | dot -Tsvg > graph.svg`), or with `--json` as
//! `{"nodes": [{"address"}], "edges": [{"from", "to", "field"}]}`.

use std::io::Write;
use std::process::ExitCode;

use serde_json::{Value, json};

use crate::cli::{Global, render};
use crate::desired::DesiredState;

/// Runs the command.
pub fn run(g: &Global) -> anyhow::Result<ExitCode> {
    match render::load(g) {
        Ok((desired, graph)) => {
            let text = if g.json {
                format!("{}\n", graph_json(&desired))
            } else {
                graph.to_dot()
            };
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                // `m3ter graph | head` is not an error.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(anyhow::Error::new(e).context("cannot write the graph to stdout"))
                }
                _ => Ok(ExitCode::SUCCESS),
            }
        }
        Err(diags) => {
            render::diagnostics(g, &diags);
            Ok(ExitCode::from(1))
        }
    }
}

/// The graph as JSON, with the DOT output's edges: from the dependency to
/// the entity that refers to it (the order apply creates them in), labelled
/// with the referring field (API name, `calculation`, or a code field such
/// as `currency`). Sorted.
fn graph_json(desired: &DesiredState) -> Value {
    let nodes: Vec<Value> = desired
        .entities
        .keys()
        .map(|a| json!({ "address": a.to_string() }))
        .collect();
    let mut edges: Vec<(String, String, &str)> = desired
        .entities
        .values()
        .flat_map(|e| {
            let to = e.address.to_string();
            e.refs
                .iter()
                .map(|(field, dep)| (dep, field.as_str()))
                .chain(e.extra_deps.iter().map(|dep| (dep, e.extra_dep_label(dep))))
                .map(move |(dep, field)| (dep.to_string(), to.clone(), field))
        })
        .collect();
    edges.sort();
    let edges: Vec<Value> = edges
        .into_iter()
        .map(|(from, to, field)| json!({ "from": from, "to": to, "field": field }))
        .collect();
    json!({ "nodes": nodes, "edges": edges })
}
