//! The dependency graph of the desired state (petgraph).
