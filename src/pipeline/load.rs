//! Stage one: the desired state and its graph.

use std::collections::BTreeSet;
use std::path::Path;

use super::PipelineError;
use crate::address::Address;
use crate::desired::{DesiredState, Diagnostics, VarInputs};
use crate::graph::Graph;

/// A loaded desired state with its dependency graph.
pub type Loaded = (DesiredState, Graph);

/// Loads the desired state of `dir` with these variables and builds its
/// graph; every problem found is in the diagnostics.
pub fn load(dir: &Path, vars: &VarInputs) -> Result<Loaded, Diagnostics> {
    let state = crate::desired::load(dir, vars)?;
    let graph = Graph::build(&state)?;
    Ok((state, graph))
}

/// Parses `--target` addresses and closes them over their dependencies;
/// `None` when none is given (everything is in scope).
pub fn targets(
    given: &[String],
    graph: &Graph,
) -> Result<Option<BTreeSet<Address>>, PipelineError> {
    if given.is_empty() {
        return Ok(None);
    }
    let mut addrs = Vec::new();
    for t in given {
        let a: Address =
            t.parse()
                .map_err(|e: crate::address::AddressError| PipelineError::BadTarget {
                    given: t.clone(),
                    message: e.to_string(),
                })?;
        if !graph.contains(&a) {
            return Err(PipelineError::UnknownTarget(a));
        }
        addrs.push(a);
    }
    Ok(Some(graph.closure(addrs.iter())))
}

/// Parses `--replace` addresses; each must be in the desired state (a
/// replace deletes the live entity and creates it again from the YAML).
pub fn replacements(given: &[String], graph: &Graph) -> Result<BTreeSet<Address>, PipelineError> {
    let mut out = BTreeSet::new();
    for r in given {
        let a: Address =
            r.parse().map_err(
                |e: crate::address::AddressError| PipelineError::BadReplace {
                    given: r.clone(),
                    message: e.to_string(),
                },
            )?;
        if !graph.contains(&a) {
            return Err(PipelineError::BadReplace {
                given: r.clone(),
                message: "no such entity in the desired state (only a desired entity can be created again)".into(),
            });
        }
        out.insert(a);
    }
    Ok(out)
}
