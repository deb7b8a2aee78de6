//! The state file: what this tool created or adopted, with the ids, versions,
//! dependencies and last-applied managed fields (`shared/design.md` §4).

use std::collections::BTreeMap;

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
        }
    }
}
