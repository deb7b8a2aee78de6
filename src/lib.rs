//! m3ter-reconcile: a Terraform-style reconciler for m3ter billing
//! configuration, and a local m3ter API emulator.
//!
//! The flow of a run, one module per step:
//! [`desired`] (YAML → entities) → [`graph`] (dependencies) → [`live`]
//! (refresh through [`client`]) → [`plan`] (a pure diff, a value) →
//! [`apply`] (ordered, concurrent writes, [`state`] saved after each).
//! The API facts all of them share are the `m3ter-api` crate; the local
//! m3ter is the `m3ter-emulator` crate; [`cli`] is the command line.

pub mod address;
pub mod apply;
pub mod cli;
pub mod client;
pub mod compare;
pub mod desired;
pub mod graph;
pub mod impact;
pub mod live;
pub mod pipeline;
pub mod plan;
pub mod sensitive;
mod signals;
pub mod state;
pub mod usage;
