//! Apply: runs a [`Plan`]'s steps against the org in dependency order,
//! concurrently where the plan's `wait_for` edges allow, and saves state
//! after every remote change.
//!
//! # Expected flow
//! The plan lists its remote operations as [`Step`]s in an executable order,
//! each naming the steps it waits for. The engine keeps a ready set, runs up
//! to `parallelism` steps at once, and as each finishes records the result in
//! state, saves it, and only then reports it and releases the steps waiting
//! for it. Saving is a group commit: the write (fsync included) runs on a
//! blocking thread while other steps keep starting and finishing, and the
//! results that finish during one write share the next.
//!
//! # Guarantees
//! - A remote change is in the state file before anything that depends on it
//!   starts and before it is reported.
//! - A create whose reply was lost is adopted, never duplicated: before a
//!   create is retried the entity is looked up by its key.
//! - A retried PUT that answers 409, or a retried DELETE that answers 404,
//!   is resolved by reading the entity; a first-attempt 409 is reported as
//!   "changed since plan", never overwritten with a fresh version.
//! - Ctrl-C (SIGINT) or SIGTERM stops scheduling; in-flight calls finish
//!   and are saved, and the report says `interrupted`.
//!
//! # Assumptions
//! The plan was made against the live snapshot given here (for saved plans
//! [`stale::check`] verifies this), and this process holds the state lock.
//!
//! # Caveats
//! A step that fails leaves the steps waiting for it unrun; independent
//! steps still run, and the next apply picks up what is left.
//!
//! # Errors
//! Failures are collected per address in [`Report::failures`]; only a state
//! write failure aborts the run at once.
//!
//! [`Step`]: crate::plan::Step

mod engine;
mod lookup;
mod ops;
pub mod stale;

use std::time::Duration;

use serde::Serialize;

use crate::address::Address;

pub use engine::execute;

/// How apply runs.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Steps run at once.
    pub parallelism: usize,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions { parallelism: 8 }
    }
}

/// What a finished step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Done {
    Created,
    /// A create whose reply was lost, found by its key and adopted.
    CreatedAdopted,
    Updated,
    Imported,
    Deleted,
}

impl Done {
    /// Human wording for the progress line.
    pub fn verb(self) -> &'static str {
        match self {
            Done::Created => "Creation complete",
            Done::CreatedAdopted => "Creation complete (adopted after a lost reply)",
            Done::Updated => "Modifications complete",
            Done::Imported => "Import complete",
            Done::Deleted => "Destruction complete",
        }
    }
}

/// One finished (or failed) step, reported as it happens.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub address: Address,
    /// `create`, `update`, `delete`, `import`, `replace` (the plan's action).
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub done: Option<Done>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What the engine reports while it runs; the caller renders it (library
/// code prints nothing).
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    /// A step finished or failed (a finished one is saved in state).
    Step(&'a Event),
    /// SIGINT or SIGTERM (by name): no new step starts; the `in_flight`
    /// ones finish and are saved.
    Interrupted {
        signal: &'static str,
        in_flight: usize,
    },
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

/// The outcome of a whole apply.
#[derive(Debug, Default)]
pub struct Report {
    pub imported: usize,
    pub added: usize,
    pub changed: usize,
    pub destroyed: usize,
    /// Steps that failed, each with its address and reason.
    pub failures: Vec<OpError>,
    /// Steps not run because something they wait for failed, or because of
    /// SIGINT/SIGTERM.
    pub skipped: usize,
    pub interrupted: bool,
}

impl Report {
    /// Whether everything the plan asked for was done.
    pub fn complete(&self) -> bool {
        self.failures.is_empty() && self.skipped == 0 && !self.interrupted
    }

    /// `Apply complete! N imported, N added, N changed, N destroyed.`
    pub fn summary_line(&self) -> String {
        let head = if self.complete() {
            "Apply complete!"
        } else {
            "Apply incomplete:"
        };
        format!(
            "{head} {} imported, {} added, {} changed, {} destroyed.",
            self.imported, self.added, self.changed, self.destroyed
        )
    }
}

/// One step that failed: the entity and why (the `source`; the message
/// itself only names the entity, so error chains say the reason once).
#[derive(Debug, thiserror::Error)]
#[error("the change of {address} failed")]
pub struct OpError {
    pub address: Address,
    pub source: OpFailure,
}

/// Why one step failed. The messages are one line and carry no secrets.
#[derive(Debug, thiserror::Error)]
pub enum OpFailure {
    /// The org answered with an error (after the retries it allows).
    #[error(transparent)]
    Api(#[from] crate::client::ApiError),
    /// A PUT answered 409: someone changed the entity after the plan.
    #[error("changed since plan (the server answered: {0}); run `m3ter plan` again")]
    ChangedSincePlan(crate::client::ApiError),
    /// A DELETE answered 400 (the entity is still in use).
    #[error("the server refused the delete: {0}")]
    DeleteRefused(crate::client::ApiError),
    /// Looking a create up by its key, before retrying it, failed.
    #[error(transparent)]
    Lookup(crate::client::ApiError),
    /// The request body cannot be built (a reference has no id).
    #[error(transparent)]
    Body(#[from] crate::plan::BodyError),
    /// Neither the plan nor the state knows the entity's live id.
    #[error("{0} has no id to act on")]
    NoId(Address),
    /// A create of an entity the plan's desired state does not hold.
    #[error("{0} is not in the plan's desired state")]
    NotDesired(Address),
    /// The entity to update is not in the live snapshot any more.
    #[error("{address} (id {id}) is no longer in the org")]
    Gone { address: Address, id: String },
    /// A step whose phase its change does not have (a hand-edited plan).
    #[error("{address}: a {action} change has no {phase:?} step")]
    NoSuchStep {
        address: Address,
        action: &'static str,
        phase: crate::plan::Phase,
    },
}

/// Why apply stopped before finishing its steps.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The state could not be saved: stop at once, nothing more may change.
    #[error("could not save state after a remote change: {0}")]
    State(#[from] crate::state::StateError),
    /// The thread writing the state file died (a bug): what was written is
    /// unknown, so nothing more may change.
    #[error("the state writer failed: {0}; this is likely a bug")]
    Writer(String),
    /// The plan is inconsistent (a bug, or a hand-edited plan file).
    #[error("the plan is inconsistent: {0}; this is likely a bug")]
    BadPlan(String),
}
