//! The state file: what this tool created or adopted, with the ids, versions,
//! dependencies and last-applied managed fields (`shared/design.md` §4).

mod lock;
mod store;

pub use lock::{LockInfo, StateLock, Unlocked, force_unlock, hostname, lock_path};
pub use store::{PendingWrite, StateStore, backup_path};

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

/// Why a state file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot {what} {}: {source}", path.display())]
    Io {
        path: PathBuf,
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("state file {} is corrupt: {message}; restore it from {} or fix it by hand", path.display(), backup_path(path).display())]
    Corrupt { path: PathBuf, message: String },
    #[error("state file {} belongs to org {file_org}, not {org}; pass --state for this org's file", path.display())]
    OtherOrg {
        path: PathBuf,
        file_org: String,
        org: String,
    },
    #[error("state file {} has formatVersion {found}, but this m3ter understands only {FORMAT_VERSION}; upgrade m3ter", path.display())]
    NewerFormat { path: PathBuf, found: u64 },
    /// A version below the first one (0): no m3ter wrote this file.
    #[error("state file {} has formatVersion {found}, which is not a state format version (this m3ter understands only {FORMAT_VERSION}); restore it from {} or fix it by hand", path.display(), backup_path(path).display())]
    UnsupportedFormat { path: PathBuf, found: u64 },
    /// Two addresses claim one live entity: applying would make one of
    /// them overwrite or delete the other's entity.
    #[error("state file {} records id {id} for both {first} and {second}, but one entity has one address; forget the wrong one with `m3ter state rm {second}` (or `m3ter state rm {first}`), then run `m3ter plan`", path.display())]
    DuplicateId {
        path: PathBuf,
        id: String,
        first: Address,
        second: Address,
    },
    #[error("state file {} does not exist", path.display())]
    Missing { path: PathBuf },
    #[error("state is locked by {holder}; if that process is gone, run `m3ter force-unlock` (lock file {})", path.display())]
    Locked { path: PathBuf, holder: String },
    #[error("the state lock {} is held by {holder}, a running process on this host; stop it instead of force-unlocking", path.display())]
    HeldByLiveProcess { path: PathBuf, holder: String },
    #[error("state file {} was opened without the lock and cannot be written", path.display())]
    NotLocked { path: PathBuf },
}

/// Whether `s` is safe as part of a file name and as a URL path segment:
/// ASCII letters, digits, `_` and `-`, at least one. Org ids, workspace
/// names and the state files named after them all keep to it.
pub(crate) fn is_safe_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
