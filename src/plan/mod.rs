//! The planner: a pure function (desired, state, live) → [`Plan`] value.
//!
//! The plan is a value (Terraform's model, `shared/code-we-admire.md` §1):
//! `m3ter plan` renders it, `plan -o FILE` saves it, and `apply FILE` runs it
//! exactly. Apply makes no decision the plan did not record: the order of the
//! remote operations is in [`Plan::steps`], the live id and `version` of every
//! entity a change touches are in the [`Change`], and the request bodies are
//! built by [`put_body`] / [`create_body`] from what the change records.
//!
//! No IO, no async here except [`Plan::save`] / [`Plan::load`] (a file); the
//! planner itself is synchronous and deterministic.

mod body;
pub mod compare;
mod file;
pub mod moved;
mod order;
mod planner;
mod removals;
pub mod render;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::address::Address;
use crate::desired::DesiredState;

pub use body::{BodyError, create_body, put_body, resolve_refs};
pub use file::PlanFileError;
pub use moved::Moved;
pub use planner::{plan, plan_owned};

/// Format version of saved plans written and read by this build.
pub const FORMAT_VERSION: u32 = 1;

/// Share of the managed entities above which updates plus deletes are a
/// "mass change" (`plan` warns, `apply` refuses without `--force`).
pub const MASS_CHANGE_RATIO: f64 = 0.30;
/// The mass-change rule only applies from this many managed entities on.
pub const MASS_CHANGE_MIN_MANAGED: usize = 10;

/// What the caller asks the planner to do.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Only these addresses (already closed over their dependencies).
    pub targets: Option<BTreeSet<Address>>,
    /// Report drift only; plan no change.
    pub refresh_only: bool,
    /// Plan the deletion of every managed entity (`m3ter destroy`).
    pub destroy: bool,
    /// `--replace`: entities replaced (`-/+`) even when nothing forces it.
    pub replace: BTreeSet<Address>,
    /// The desired state's topological order, when the caller already
    /// built its graph (the pipeline does): the planner then builds no
    /// second graph (at 40,000 entities, both were alive at the peak).
    pub order: Option<Vec<Address>>,
}

/// Why the planner cannot produce a plan.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlanError {
    /// Several live entities have the key of one desired entity.
    #[error(
        "{address}: {n} live entities match its key (ids {ids}); adopt the right one with `m3ter import {address} ID`",
        n = ids.len(),
        ids = ids.join(", ")
    )]
    AmbiguousImport { address: Address, ids: Vec<String> },
    /// The plan would delete or replace an entity with `preventDestroy`.
    #[error(
        "{address} has `lifecycle.preventDestroy: true` but this plan would {action} it; remove the flag first if that is intended"
    )]
    PreventDestroy {
        address: Address,
        action: &'static str,
    },
    /// A reference names an entity that is not in the desired state.
    #[error("{from} references {to}, which is not in the desired state")]
    UnknownReference { from: Address, to: Address },
    /// A `moved:` entry whose `to` is managed already.
    #[error(
        "cannot move {from} to {to}: {to} is in state already (id {id}); forget one of them with `m3ter state rm`, or remove the `moved` entry"
    )]
    MovedOntoManaged {
        from: Address,
        to: Address,
        id: String,
    },
    /// The desired state (or the operations) form a cycle: the whole loop,
    /// first and last address equal, each waiting for the next.
    #[error("dependency cycle: {} (each waits for the next)", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(" -> "))]
    Cycle(Vec<Address>),
    /// One update adds values a dependent's new version uses and removes
    /// values its current version uses: the API refuses either update first.
    #[error(
        "{address}: this update adds {} that {dependent} will use and removes {} that {dependent} uses now, so neither can be sent first; make the change in two applies: first add {} to {address} and apply, then remove {} and apply again",
        ticked(adds),
        ticked(removes),
        ticked(adds),
        ticked(removes)
    )]
    AddsAndRemovesUsed {
        address: Address,
        dependent: Address,
        adds: Vec<String>,
        removes: Vec<String>,
    },
}

/// `a`, `b` and `c` as `` `a`, `b` and `c` `` for messages.
fn ticked(values: &[String]) -> String {
    let t: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
    match t.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// What a change does to the org. A small closed set (Terraform's `Action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// `+`: POST a new entity.
    Create,
    /// `~`: PUT the managed fields (plus resets) over the live entity.
    Update,
    /// `-/+`: an immutable field changes: DELETE, then POST.
    Replace,
    /// `-`: DELETE a managed entity no longer desired.
    Delete,
    /// Adopt a live entity whose key matches; a PUT too when `diff` or
    /// `resets` is not empty.
    Import,
}

impl Action {
    /// The word used in `--json` output.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::Import => "import",
        }
    }
}

/// Why a change was planned. For display only: apply must never branch on it
/// (Terraform's `ActionReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Reason {
    /// In state, but the live entity is gone: it is created again.
    DeletedOutside,
    /// In state, no longer in the desired state.
    RemovedFromDesired,
    /// `m3ter destroy`.
    DestroyRequested,
    /// `--replace ADDR`.
    ReplaceRequested,
    /// `m3ter destroy` of an entity a singleton references (the org
    /// config's currency): singletons stay, so it stays too, forgotten.
    NamedBySingleton,
}

/// One field that differs (a top-level request field, under its API name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldDiff {
    pub field: String,
    /// Live value; `None` when absent.
    pub before: Option<Value>,
    /// Desired value (a reference as the target's address); `None` for a
    /// reset (the field is left out of the PUT so the server default applies).
    pub after: Option<Value>,
    /// A reference whose target id is only known once apply created it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub known_after_apply: bool,
    /// This field cannot be updated: the change is a replace.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forces_replacement: bool,
}

/// One planned change of one entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub action: Action,
    pub address: Address,
    /// Live id (absent for a create).
    pub id: Option<String>,
    /// Live `version` seen by the plan (absent for a create); apply refuses
    /// the change when the entity has moved on since.
    pub version: Option<i64>,
    /// Live values: of the compared fields for update/replace/import, of
    /// every request field for a delete; absent for a create.
    pub before: Option<Map<String, Value>>,
    /// The desired managed fields, references as addresses (absent for a
    /// delete). For an update this is the `managed` map of [`put_body`];
    /// `lifecycle.ignoreChanges` fields are left out except on create.
    pub after: Option<Map<String, Value>>,
    /// Field-level differences (update, replace, import).
    #[serde(default)]
    pub diff: Vec<FieldDiff>,
    /// Fields managed before and no longer desired: left out of the PUT.
    #[serde(default)]
    pub resets: Vec<String>,
    /// Import: the entity is adopted. Delete: it had been adopted.
    #[serde(default)]
    pub adopted: bool,
    /// Display-only explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

impl Change {
    /// An import that also writes (counted as import and change).
    pub fn import_with_changes(&self) -> bool {
        self.action == Action::Import && (!self.diff.is_empty() || !self.resets.is_empty())
    }
}

/// Which half of a change a [`Step`] performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    /// The DELETE of a delete or of a replace.
    Delete,
    /// The POST of a create or replace, the PUT of an update, the adoption
    /// (and PUT, if it has changes) of an import.
    Write,
}

/// One remote operation, in an executable order: the steps are listed so
/// that running them one by one is valid; `wait_for` lets apply run
/// independent steps concurrently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// Index into [`Plan::changes`].
    pub change: usize,
    pub phase: Phase,
    /// Indices into [`Plan::steps`] that must finish first (all lower than
    /// this step's own index).
    pub wait_for: Vec<usize>,
}

/// An entity that changed outside m3ter-reconcile: live differs from the
/// state's last-applied record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    pub address: Address,
    pub id: String,
    /// The last-applied values of the fields that differ.
    pub before: Map<String, Value>,
    /// The live values of those fields (`null` = absent); `None` when the
    /// live entity was deleted.
    pub after: Option<Map<String, Value>>,
    /// Live `version` (absent when deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

/// A state-only action: an entity in state whose live entity was deleted
/// outside this tool and that the plan does not create again, or a
/// singleton no longer desired (or any singleton, in a destroy plan), which
/// cannot be deleted. Apply drops it from state; nothing is sent to the org.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Forget {
    pub address: Address,
    /// The id state had for it.
    pub id: String,
    /// `removedFromDesired`, or `destroyRequested` in a destroy plan.
    pub reason: Reason,
}

impl Forget {
    /// Why the entity is forgotten, as every output words it.
    pub fn why(&self) -> &'static str {
        match (self.address.kind.is_singleton(), self.reason) {
            (true, Reason::DestroyRequested) => "left in place: singletons cannot be deleted",
            (true, _) => {
                "no longer in the desired state; left in place: singletons cannot be deleted"
            }
            (false, Reason::NamedBySingleton) => {
                "left in place: a singleton, which stays in the org, references it"
            }
            (false, Reason::DestroyRequested) => "already deleted outside m3ter-reconcile",
            (false, _) => "deleted outside m3ter-reconcile and no longer desired",
        }
    }

    /// Whether the live entity stays in the org (a singleton): the plan
    /// says so among its actions, as no drift entry explains it.
    pub fn left_in_place(&self) -> bool {
        self.address.kind.is_singleton() || self.reason == Reason::NamedBySingleton
    }
}

/// Counts for the summary line. A replace counts as add and destroy; an
/// import with changes as import and change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub import: usize,
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

/// The plan: everything apply needs, and nothing it has to decide.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub format_version: u32,
    pub org_id: String,
    /// Lineage and serial of the state the plan was made from; apply refuses
    /// a plan whose state has moved on.
    pub lineage: String,
    pub serial: u64,
    #[serde(default)]
    pub refresh_only: bool,
    #[serde(default)]
    pub destroy: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<BTreeSet<Address>>,
    /// The resolved desired state (so `apply FILE` needs no YAML).
    pub desired: DesiredState,
    /// Creates/updates/imports/replaces in dependency order, then deletes in
    /// reverse dependency order.
    pub changes: Vec<Change>,
    /// The remote operations of the changes, in an executable order.
    pub steps: Vec<Step>,
    pub drift: Vec<Drift>,
    /// Entities apply drops from state without a request (they are gone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forget: Vec<Forget>,
    /// Entities apply re-keys in state before any remote step (`moved:`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moved: Vec<Moved>,
    #[serde(default)]
    pub warnings: Vec<PlanWarning>,
}

/// Something legal but likely unintended about a plan, shown with it. The
/// planner records what it found; the wording is here, in one place. A
/// saved plan keeps the text (read back as [`PlanWarning::Text`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum PlanWarning {
    /// Updates, replaces and deletes above the mass-change share.
    MassChange { touched: usize, managed: usize },
    /// Deletes while the variables differ from the last apply: likely a new
    /// environment (a new `suffix`) planned against another one's state.
    EnvironmentSwitch {
        deletes: usize,
        /// `name=value` as last applied, for each variable that changed.
        was: Vec<String>,
        /// Their values now.
        now: Vec<String>,
        /// A workspace name to suggest (one of the new values, or `NAME`).
        workspace: String,
    },
    /// A warning read back from a saved plan.
    Text(String),
}

impl std::fmt::Display for PlanWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanWarning::MassChange { touched, managed } => write!(
                f,
                "this plan updates, replaces or deletes {touched} of {managed} managed entities (more than {:.0}%); `apply` will refuse it without --force",
                MASS_CHANGE_RATIO * 100.0
            ),
            PlanWarning::EnvironmentSwitch {
                deletes,
                was,
                now,
                workspace,
            } => write!(
                f,
                "this plan deletes {deletes} entit{} last applied with {} (now {}); to keep both environments, give each its own workspace: --workspace {workspace}",
                if *deletes == 1 { "y" } else { "ies" },
                was.join(", "),
                now.join(", "),
            ),
            PlanWarning::Text(text) => f.write_str(text),
        }
    }
}

impl From<PlanWarning> for String {
    fn from(w: PlanWarning) -> String {
        w.to_string()
    }
}

impl From<String> for PlanWarning {
    fn from(text: String) -> PlanWarning {
        PlanWarning::Text(text)
    }
}

impl Plan {
    /// Counts per summary column.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::Replace => {
                    s.add += 1;
                    s.destroy += 1;
                }
                Action::Delete => s.destroy += 1,
                Action::Import => {
                    s.import += 1;
                    if c.import_with_changes() {
                        s.change += 1;
                    }
                }
            }
        }
        s
    }

    /// Whether applying would do anything: any change (imports count), or
    /// a move to record in state, or for a refresh-only plan, any drift to
    /// accept into state.
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
            || !self.moved.is_empty()
            || (self.refresh_only && !self.drift.is_empty())
    }

    /// The mass-change rule (design §4): with at least
    /// [`MASS_CHANGE_MIN_MANAGED`] managed entities, updates, replaces and
    /// deletes above [`MASS_CHANGE_RATIO`] of them. Returns that count when
    /// the rule trips; never for a destroy plan, whose point is to delete.
    pub fn mass_change(&self, managed: usize) -> Option<usize> {
        let risky = self
            .changes
            .iter()
            .filter(|c| matches!(c.action, Action::Update | Action::Replace | Action::Delete))
            .count();
        let trips = !self.destroy
            && managed >= MASS_CHANGE_MIN_MANAGED
            && risky as f64 > managed as f64 * MASS_CHANGE_RATIO;
        trips.then_some(risky)
    }

    /// The change of an address, if any.
    pub fn change(&self, address: &Address) -> Option<&Change> {
        self.changes.iter().find(|c| &c.address == address)
    }
}
