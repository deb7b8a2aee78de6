//! The one-way trip every converging command takes:
//! load → graph → state → refresh → plan → apply → state.
//!
//! Each stage is a function here, and commands are thin glue over them:
//! they open the session and the state file, call the stages in order and
//! render what comes back. No stage prints; what happens along the way is
//! reported as an [`Event`] through a callback, and what goes wrong as a
//! [`PipelineError`].
//!
//! - [`load`]: the desired state of a directory and its dependency graph
//!   (every problem at once, with file:line:column);
//! - [`targets`]: `--target` addresses closed over their dependencies;
//! - [`plan`]: the planner, plus the warnings that need the state (a likely
//!   environment switch);
//! - [`apply`]: the state-only actions of the plan (forgetting what is gone),
//!   the mass-change rule, then the remote steps;
//! - [`import`]: `m3ter import ADDR ID` as a one-change plan through the same
//!   apply engine;
//! - [`refresh`]: `m3ter refresh`, the state accepting the org as it is;
//! - [`bill_impact`]: after `plan`, what the plan does to invoices
//!   ([`crate::impact`]).

mod apply;
mod import;
mod load;
mod plan;
mod refresh;

use crate::address::Address;
use crate::plan::{Forget, PlanError};

pub use apply::{Converge, apply};
pub use import::{Imported, import};
pub use load::{Loaded, load, replacements, targets};
pub use plan::{plan, plan_with};
pub use refresh::{Refreshed, refresh};

/// The bill impact of a plan ([`crate::impact::preview`]).
pub use crate::impact::preview as bill_impact;

/// What the pipeline reports while it runs, for the caller to render.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// An entity dropped from state: its live entity was deleted outside
    /// this tool and the plan does not create it again, or it is a
    /// singleton left in place ([`Forget::why`] says which).
    Forgotten { forget: &'a Forget },
    /// A `moved:` entry recorded in state: `from` is managed as `to` now.
    Moved { from: &'a Address, to: &'a Address },
    /// The apply engine's progress: a finished step, or an interrupt.
    Apply(crate::apply::Progress<'a>),
}

/// Why a stage stopped.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A `--target` that is not an address.
    #[error("--target {given}: {message}")]
    BadTarget { given: String, message: String },
    /// A `--target` address the desired state does not hold.
    #[error("--target {0}: no such entity in the desired state")]
    UnknownTarget(Address),
    /// A `--replace` that is not an address, or not of the desired state.
    #[error("--replace {given}: {message}")]
    BadReplace { given: String, message: String },
    /// The planner refused.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// Updates plus deletes above the mass-change share, without `--force`.
    #[error(
        "this plan updates, replaces or deletes {touched} of {managed} managed entities (more than {:.0}%); if that is intended, run again with --force",
        crate::plan::MASS_CHANGE_RATIO * 100.0
    )]
    MassChange { touched: usize, managed: usize },
    /// The org could not be read (`refresh`).
    #[error(transparent)]
    ReadOrg(Box<crate::client::ApiError>),
    /// The state file could not be read or written.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// The apply engine stopped (state write failure, inconsistent plan).
    #[error(transparent)]
    Apply(#[from] crate::apply::ApplyError),
    /// `import`: the address is in state already.
    #[error("{address} is already in state (id {id})")]
    AlreadyInState { address: Address, id: String },
    /// `import`: another address of state has that id.
    #[error("{kind} {id} is already in state as {other}")]
    IdInState {
        kind: m3ter_api::Kind,
        id: String,
        other: Address,
    },
    /// `import`: no live entity has that id.
    #[error("cannot import {address}: no {kind} with id {id} in org {org}", kind = address.kind)]
    NoSuchEntity {
        address: Address,
        id: String,
        org: String,
    },
    /// `import`: reading the entity failed.
    #[error("cannot import {address}")]
    Read {
        address: Address,
        source: Box<crate::client::ApiError>,
    },
}

impl PipelineError {
    /// The planner's error, when that is what this is (for the address of
    /// a JSON error).
    pub fn as_plan_error(&self) -> Option<&PlanError> {
        match self {
            PipelineError::Plan(e) => Some(e),
            _ => None,
        }
    }
}
