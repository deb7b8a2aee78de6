//! The live org as read by a refresh: every entity of every kind, with an
//! index for lookups by id.

mod refresh;

pub use refresh::{RefreshReport, accept_live, refresh};

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use m3ter_api::Kind;

/// All live entities, per kind, as the API returned them (JSON objects).
#[derive(Debug, Clone, Default)]
pub struct LiveSnapshot {
    pub entities: BTreeMap<Kind, Vec<Value>>,
    /// `(kind, id)` → position in `entities[kind]`; rebuilt by
    /// [`LiveSnapshot::set`]. A stale entry (someone edited `entities`
    /// directly) is detected and falls back to a scan.
    index: HashMap<Kind, HashMap<String, usize>>,
}

impl PartialEq for LiveSnapshot {
    fn eq(&self, other: &Self) -> bool {
        // The index is derived data.
        self.entities == other.entities
    }
}

impl LiveSnapshot {
    /// A snapshot of these entities, indexed.
    pub fn from_entities(entities: BTreeMap<Kind, Vec<Value>>) -> Self {
        let mut s = LiveSnapshot::default();
        for (kind, list) in entities {
            s.set(kind, list);
        }
        s
    }

    /// Replaces the entities of one kind and indexes them.
    pub fn set(&mut self, kind: Kind, list: Vec<Value>) {
        let idx = list
            .iter()
            .enumerate()
            .filter_map(|(i, e)| Some((id_of(e)?.to_string(), i)))
            .collect();
        self.index.insert(kind, idx);
        self.entities.insert(kind, list);
    }

    /// Rebuilds the index after direct edits of `entities` (lookups stay
    /// correct without it, but scan).
    pub fn reindex(&mut self) {
        let entities = std::mem::take(&mut self.entities);
        self.index.clear();
        for (kind, list) in entities {
            self.set(kind, list);
        }
    }

    /// The live entities of one kind.
    pub fn of(&self, kind: Kind) -> &[Value] {
        self.entities.get(&kind).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The live entity of `kind` with this `id`. For a singleton kind, its
    /// one entity whatever the id: there is one per org, and the id state
    /// recorded is incidental (an org restored from a backup keeps its
    /// config under another id).
    pub fn by_id(&self, kind: Kind, id: &str) -> Option<&Value> {
        let list = self.of(kind);
        if kind.is_singleton() {
            return list.first();
        }
        if let Some(&i) = self.index.get(&kind).and_then(|m| m.get(id))
            && let Some(e) = list.get(i)
            && id_of(e) == Some(id)
        {
            return Some(e);
        }
        list.iter().find(|e| id_of(e) == Some(id))
    }

    /// Number of entities over all kinds.
    pub fn len(&self) -> usize {
        self.entities.values().map(Vec::len).sum()
    }

    /// Whether the org has no entities at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Audit fields every entity response carries and nothing in this tool
/// reads (never compared, shown or exported): not kept.
const AUDIT_FIELDS: [&str; 4] = ["dtCreated", "dtLastModified", "createdBy", "lastModifiedBy"];

/// A live entity as a snapshot keeps it, at about half the memory of the
/// response: without its [`AUDIT_FIELDS`], and every object rebuilt at its
/// exact size (see [`exact`]). Order is kept.
pub(crate) fn compact(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(exact_map(
            map.into_iter()
                .filter(|(k, _)| !AUDIT_FIELDS.contains(&k.as_str())),
        )),
        other => exact(other),
    }
}

/// `v` with every object and array rebuilt at its exact size: a parsed or
/// grown one keeps the spare room of its growth (about a third).
pub(crate) fn exact(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(exact_map(map)),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(exact)
                .collect::<Vec<_>>()
                .into_boxed_slice()
                .into_vec(),
        ),
        other => other,
    }
}

/// The fields of an object, each [`exact`], in a map of exactly their
/// number.
pub(crate) fn exact_map(fields: impl IntoIterator<Item = (String, Value)>) -> Map<String, Value> {
    let fields: Vec<(String, Value)> = fields.into_iter().map(|(k, v)| (k, exact(v))).collect();
    let mut out = Map::with_capacity(fields.len());
    out.extend(fields);
    out
}

fn id_of(e: &Value) -> Option<&str> {
    e.get("id").and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compact_drops_audit_fields_only_at_the_top_and_keeps_order() {
        let v = json!({"id": "a", "version": 2, "dtCreated": "x", "name": "N",
            "createdBy": "u", "address": {"createdBy": "kept", "city": "C"},
            "bands": [{"lowerLimit": 0}], "lastModifiedBy": "u", "dtLastModified": "y"});
        let c = compact(v);
        assert_eq!(
            serde_json::to_string(&c).expect("json"),
            r#"{"id":"a","version":2,"name":"N","address":{"createdBy":"kept","city":"C"},"bands":[{"lowerLimit":0}]}"#
        );
    }

    #[test]
    fn by_id_uses_the_index_and_survives_direct_edits() {
        let mut s = LiveSnapshot::default();
        s.set(Kind::Meter, vec![json!({"id": "a"}), json!({"id": "b"})]);
        assert_eq!(s.by_id(Kind::Meter, "b"), Some(&json!({"id": "b"})));
        assert_eq!(s.by_id(Kind::Product, "b"), None);
        // Edited behind the index's back: still correct.
        s.entities.insert(Kind::Meter, vec![json!({"id": "b"})]);
        assert_eq!(s.by_id(Kind::Meter, "b"), Some(&json!({"id": "b"})));
        assert_eq!(s.by_id(Kind::Meter, "a"), None);
        assert_eq!(s.len(), 1);
    }
}
