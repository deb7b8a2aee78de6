//! The live org as read by a refresh: every entity of every kind.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::api::Kind;

/// All live entities, per kind, as the API returned them (JSON objects).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveSnapshot {
    pub entities: BTreeMap<Kind, Vec<Value>>,
}

impl LiveSnapshot {
    /// The live entities of one kind.
    pub fn of(&self, kind: Kind) -> &[Value] {
        self.entities.get(&kind).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The live entity of `kind` with this `id`.
    pub fn by_id(&self, kind: Kind, id: &str) -> Option<&Value> {
        self.of(kind)
            .iter()
            .find(|e| e.get("id").and_then(Value::as_str) == Some(id))
    }
}
