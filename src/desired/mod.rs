//! The desired state: what the YAML under `desired-state/` asks for, with
//! variables resolved and references checked (`shared/design.md` §3).
//!
//! [`DesiredState`] is a plain value (serde only, no IO) so that a saved plan
//! can carry it and `apply PLANFILE` needs no YAML.

pub mod convert;
pub mod diagnostic;
pub mod export;
pub mod load;
pub mod moved;
pub mod node;
pub mod refs;
mod rules;
pub mod schema;
pub mod vars;

pub use diagnostic::{Diagnostic, Diagnostics};
pub use load::load;
pub use moved::MovedEntry;
pub use refs::Refs;
pub use vars::VarInputs;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::address::Address;

/// Where a value was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// `lifecycle:` options of an entity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lifecycle {
    #[serde(default)]
    pub prevent_destroy: bool,
    /// API field names whose differences are never planned.
    #[serde(default)]
    pub ignore_changes: Vec<String>,
}

/// One entity of the desired state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DesiredEntity {
    pub address: Address,
    /// Request fields under their API names, variables resolved, date-time
    /// fields normalised to `YYYY-MM-DDTHH:MM:SSZ`. Reference fields are not
    /// here: they are in `refs`.
    pub fields: Map<String, Value>,
    /// Reference field (API name, e.g. `productId`) → address of the target.
    pub refs: Refs,
    /// Dependencies not held in a reference field: the aggregations a
    /// compound aggregation's `calculation` names, the declared entities a
    /// code field names (a plan template's `currency`), and the org-level
    /// `customFields` of an entity that sets custom fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_deps: Vec<Address>,
    #[serde(default)]
    pub lifecycle: Lifecycle,
    /// Where the entity was written; absent for entities read from a plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
}

impl DesiredEntity {
    /// The field that makes `dep` (one of [`DesiredEntity::extra_deps`]) a
    /// dependency, for graph labels: a code field naming it, else the
    /// compound aggregation's `calculation`.
    pub fn extra_dep_label(&self, dep: &Address) -> &'static str {
        if let Some(m) = self.address.kind.members()
            && let Some(Value::Array(items)) = self.fields.get(m.field)
            && items
                .iter()
                .any(|i| i.as_str() == Some(dep.to_string().as_str()))
        {
            return m.field;
        }
        self.address
            .kind
            .code_refs()
            .into_iter()
            .find(|(field, target)| {
                *target == dep.kind
                    && self.fields.get(*field).and_then(serde_json::Value::as_str)
                        == Some(dep.key.as_str())
            })
            .map_or(
                if dep.kind == m3ter_api::Kind::CustomFields {
                    "customFields"
                } else {
                    "calculation"
                },
                |(field, _)| field,
            )
    }

    /// Every address this entity depends on (reference targets first).
    pub fn dependencies(&self) -> impl Iterator<Item = &Address> {
        self.refs.values().chain(self.extra_deps.iter())
    }
}

/// The whole desired state, keyed by address.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DesiredState {
    pub entities: BTreeMap<Address, DesiredEntity>,
    /// The resolved value of every declared variable (apply records them in
    /// state to recognise a plan for another environment).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, Value>,
    /// `moved:` entries, checked (see [`moved`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moved: Vec<MovedEntry>,
    /// Rule findings that are legal but suspicious (a negative unit price),
    /// sorted by place: commands print them and go on. Not saved in a plan
    /// file: they are about the YAML, which `apply PLANFILE` does not read.
    #[serde(skip)]
    pub warnings: Vec<Diagnostic>,
}
