//! The state file: what this tool created or adopted, with the ids, versions,
//! dependencies and last-applied managed fields (`shared/design.md` §4).

mod journal;
mod location;
mod lock;
mod remote;
mod store;

pub use location::{BadLocation, Location};
pub use lock::{LockInfo, StateLock, Unlocked, force_unlock, hostname, lock_path};
pub use store::{PendingWrite, StateStore, backup_path, force_unlock_at};

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::address::Address;

/// Format version written and understood by this build.
pub const FORMAT_VERSION: u32 = 1;

/// Contents of a state file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub format_version: u32,
    /// Identity of this state's history (a UUID), fixed at creation.
    pub lineage: String,
    /// Goes up by one on every write.
    pub serial: u64,
    pub org_id: String,
    pub base_url: String,
    pub resources: BTreeMap<Address, ResourceState>,
    /// The variable values of the last apply (desired-state variables, not
    /// secrets), so a plan made with other values can point out that it
    /// deletes another environment (see `--workspace`). Absent in older files.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, Value>,
}

/// One managed entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceState {
    pub id: String,
    pub version: i64,
    /// Addresses this entity referenced when last applied (orders deletes).
    #[serde(default)]
    pub depends_on: Vec<Address>,
    /// Adopted by import rather than created by this tool.
    #[serde(default)]
    pub adopted: bool,
    /// The managed fields as last applied, under API names with reference
    /// fields holding live UUIDs.
    #[serde(default)]
    pub applied: Map<String, Value>,
}

impl State {
    /// An empty state for an org, with a fresh lineage.
    pub fn new(org_id: &str, base_url: &str) -> Self {
        State {
            format_version: FORMAT_VERSION,
            lineage: uuid::Uuid::new_v4().to_string(),
            serial: 0,
            org_id: org_id.to_string(),
            base_url: base_url.to_string(),
            resources: BTreeMap::new(),
            variables: BTreeMap::new(),
        }
    }
}

/// Why a state file (or object) cannot be used. `path` is where it is: a
/// file path or an `s3://` URL.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot {what} {}: {source}", path.display())]
    Io {
        path: PathBuf,
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("state file {path} is corrupt: {message}; restore it from {} or fix it by hand", path.backup())]
    Corrupt { path: Location, message: String },
    #[error(
        "state file {path} belongs to org {file_org}, not {org}; pass --state for this org's file"
    )]
    OtherOrg {
        path: Location,
        file_org: String,
        org: String,
    },
    #[error(
        "state file {path} has formatVersion {found}, but this m3ter understands only {FORMAT_VERSION}; upgrade m3ter"
    )]
    NewerFormat { path: Location, found: u64 },
    /// A version below the first one (0): no m3ter wrote this file.
    #[error("state file {path} has formatVersion {found}, which is not a state format version (this m3ter understands only {FORMAT_VERSION}); restore it from {} or fix it by hand", path.backup())]
    UnsupportedFormat { path: Location, found: u64 },
    /// Two addresses claim one live entity: applying would make one of
    /// them overwrite or delete the other's entity.
    #[error(
        "state file {path} records id {id} for both {first} and {second}, but one entity has one address; forget the wrong one with `m3ter state rm {second}` (or `m3ter state rm {first}`), then run `m3ter plan`"
    )]
    DuplicateId {
        path: Location,
        id: String,
        first: Address,
        second: Address,
    },
    #[error("state file {path} does not exist")]
    Missing { path: Location },
    /// `path` is the lock, with the `--lock-timeout` that ran out.
    #[error("state is locked by {holder}{}; if that process is gone, run `m3ter force-unlock{}` (lock {path})", waited_text(path.lock_timeout), id.as_deref().map(|i| format!(" {i}")).unwrap_or_default())]
    Locked {
        path: Location,
        holder: String,
        id: Option<String>,
    },
    #[error(
        "the state lock {path} is held by {holder}, a running process on this host; stop it instead of force-unlocking"
    )]
    HeldByLiveProcess { path: Location, holder: String },
    #[error(
        "the state lock {path} is held by {holder}, not by lock id {given}; it was taken again since: check that run, then force-unlock its id if it is gone"
    )]
    WrongLockId {
        path: Location,
        given: String,
        holder: String,
    },
    #[error("state file {path} was opened without the lock and cannot be written")]
    NotLocked { path: Location },
    #[error("cannot {what} {url} (endpoint {endpoint}): {message}")]
    Remote {
        url: String,
        endpoint: String,
        what: String,
        message: String,
    },
    #[error(
        "cannot use state {url}: bucket `{bucket}` does not exist at endpoint {endpoint}; create it, or fix the bucket name in --state (or M3TER_STATE) and AWS_ENDPOINT_URL"
    )]
    NoBucket {
        url: String,
        bucket: String,
        endpoint: String,
    },
    /// A conditional write failed: someone wrote the state since this run
    /// read it (its lock was broken).
    #[error(
        "state {path} was changed by another run since this run read it (was its lock force-unlocked?), so it was not overwritten; {}",
        rescued_text(rescued)
    )]
    Conflict {
        path: Location,
        /// The local file holding the state that could not be written.
        rescued: Result<PathBuf, String>,
    },
    #[error("refusing to push {file} to {path}: {why}")]
    PushRefused {
        file: PathBuf,
        path: Location,
        why: String,
    },
    #[error(transparent)]
    BadLocation(#[from] BadLocation),
}

fn waited_text(waited: std::time::Duration) -> String {
    if waited.is_zero() {
        String::new()
    } else {
        format!(
            " (still, after waiting {} for it)",
            humantime::format_duration(waited)
        )
    }
}

fn rescued_text(rescued: &Result<PathBuf, String>) -> String {
    match rescued {
        Ok(file) => format!(
            "nothing is lost: this run's state, with everything it created, is saved in {f}. Compare it with the current state (`m3ter state pull > current.json`); when it is the one to keep, run `m3ter state push {f}` (with --force if the other run has written a newer serial)",
            f = file.display()
        ),
        Err(e) => format!(
            "and this run's state could not be saved locally either ({e}): run `m3ter refresh` and `m3ter import` what this run created"
        ),
    }
}

/// Whether `s` is safe as part of a file name and as a URL path segment:
/// ASCII letters, digits, `_` and `-`, at least one. Org ids, workspace
/// names and the state files named after them all keep to it.
pub(crate) fn is_safe_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
