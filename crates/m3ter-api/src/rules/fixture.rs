//! A small in-memory catalog for the rules' unit tests, keyed the offline
//! way (references are codes).

use serde_json::Value;

use super::{Body, Catalog, Subject, check};
use crate::Kind;

/// Entities by kind and reference value.
#[derive(Default)]
pub(crate) struct Fixture {
    entities: Vec<(Kind, String, Body)>,
}

/// The object `v` (tests write bodies as `json!` literals).
pub(crate) fn body(v: Value) -> Body {
    match v {
        Value::Object(o) => o,
        other => panic!("a test body must be an object, not {other}"),
    }
}

impl Fixture {
    /// Adds an entity named `reference`.
    pub(crate) fn with(mut self, kind: Kind, reference: &str, v: Value) -> Self {
        self.entities.push((kind, reference.to_owned(), body(v)));
        self
    }

    /// The findings for a new entity, one per line: `severity rule @ path: message`.
    pub(crate) fn render(&self, kind: Kind, body: &Body) -> String {
        self.render_own(kind, None, body)
    }

    /// The findings for an entity named `own`.
    pub(crate) fn render_own(&self, kind: Kind, own: Option<&str>, body: &Body) -> String {
        let subject = Subject { kind, body, own };
        check(&subject, self)
            .iter()
            .map(|f| format!("{:?} {} @ {}: {}\n", f.severity, f.rule, f.path, f.message))
            .collect()
    }
}

impl Catalog for Fixture {
    fn get(&self, kind: Kind, reference: &str) -> Option<&Body> {
        self.entities
            .iter()
            .find(|(k, r, _)| *k == kind && r == reference)
            .map(|(_, _, b)| b)
    }

    fn each(&self, kind: Kind) -> Vec<(&str, &Body)> {
        self.entities
            .iter()
            .filter(|(k, _, _)| *k == kind)
            .map(|(_, r, b)| (r.as_str(), b))
            .collect()
    }
}
