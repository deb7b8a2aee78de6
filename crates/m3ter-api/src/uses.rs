//! What an entity uses *inside* the entities it refers to, beyond their
//! existence: an aggregation uses field codes of its meter, a compound
//! aggregation uses the codes of the aggregations its calculation names.
//!
//! The planner orders changes with it: an update that takes away a value a
//! dependent's current version uses must wait for that dependent's update or
//! delete (the API refuses to drop a meter field an aggregation targets).
//! Both sides are plain request bodies, so the same functions work on live
//! entities, on desired entities and inside the emulator.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::Kind;

/// How the user finds the entity whose values it uses.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// The entity a reference field of the user points at (`meterId`).
    Reference(&'static str),
    /// The entity of this kind with this code (a name in a calculation).
    Code(Kind, String),
}

/// Values of one target that an entity relies on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    pub target: Target,
    /// Values in the vocabulary of [`offered`] for the target's kind.
    pub values: BTreeSet<String>,
}

/// The values an entity offers to the entities that use it:
/// - a meter: the codes of its `dataFields` and `derivedFields`;
/// - an aggregation or compound aggregation: its `code`.
///
/// Other kinds offer nothing beyond their existence.
pub fn offered(kind: Kind, body: &Map<String, Value>) -> BTreeSet<String> {
    match kind {
        Kind::Meter => ["dataFields", "derivedFields"]
            .iter()
            .filter_map(|k| body.get(*k).and_then(Value::as_array))
            .flatten()
            .filter_map(|f| f.get("code").and_then(Value::as_str))
            .map(str::to_string)
            .collect(),
        Kind::Aggregation | Kind::CompoundAggregation => body
            .get("code")
            .and_then(Value::as_str)
            .map(str::to_string)
            .into_iter()
            .collect(),
        _ => BTreeSet::new(),
    }
}

/// What an entity of `kind` with this body uses of its targets:
/// - an aggregation: its meter's `targetField` and `segmentedFields` codes;
/// - a compound aggregation: the code of each `aggregation.<code>` its
///   `calculation` names (bare names may be custom fields, so they are not
///   counted).
pub fn uses(kind: Kind, body: &Map<String, Value>) -> Vec<Use> {
    match kind {
        Kind::Aggregation => {
            let values: BTreeSet<String> = body
                .get("targetField")
                .and_then(Value::as_str)
                .into_iter()
                .chain(
                    body.get("segmentedFields")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str),
                )
                .map(str::to_string)
                .collect();
            if values.is_empty() {
                return Vec::new();
            }
            vec![Use {
                target: Target::Reference("meterId"),
                values,
            }]
        }
        Kind::CompoundAggregation => {
            let calc = body
                .get("calculation")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let codes: BTreeSet<&str> = aggregation_names(calc).collect();
            codes
                .into_iter()
                .map(|code| Use {
                    target: Target::Code(Kind::Aggregation, code.to_string()),
                    values: BTreeSet::from([code.to_string()]),
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// The `<code>` of every `aggregation.<code>` in a calculation, outside
/// string literals.
fn aggregation_names(calc: &str) -> impl Iterator<Item = &str> {
    let mut out = Vec::new();
    let mut rest = calc;
    let mut quote: Option<char> = None;
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$' || c == '.';
    while let Some(c) = rest.chars().next() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            rest = &rest[c.len_utf8()..];
            continue;
        }
        if c == '"' || c == '\'' {
            quote = Some(c);
            rest = &rest[1..];
            continue;
        }
        if is_word(c) {
            let end = rest.find(|ch: char| !is_word(ch)).unwrap_or(rest.len());
            let word = &rest[..end];
            if let Some(code) = word.strip_prefix("aggregation.")
                && !code.is_empty()
                && !code.contains('.')
            {
                out.push(code);
            }
            rest = &rest[end..];
            continue;
        }
        rest = &rest[c.len_utf8()..];
    }
    out.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_meter_offers_its_field_codes() {
        let m = body(json!({
            "code": "m",
            "dataFields": [{"code": "a"}, {"code": "b"}],
            "derivedFields": [{"code": "d", "calculation": "a*b"}]
        }));
        assert_eq!(offered(Kind::Meter, &m), set(&["a", "b", "d"]));
        assert_eq!(offered(Kind::Product, &m), set(&[]));
    }

    #[test]
    fn an_aggregation_uses_its_target_and_segmented_fields() {
        let a = body(json!({"targetField": "t", "segmentedFields": ["s1", "s2"]}));
        assert_eq!(
            uses(Kind::Aggregation, &a),
            vec![Use {
                target: Target::Reference("meterId"),
                values: set(&["s1", "s2", "t"]),
            }]
        );
        assert_eq!(uses(Kind::Aggregation, &body(json!({}))), vec![]);
    }

    #[test]
    fn a_compound_aggregation_uses_the_aggregations_it_names() {
        let c = body(json!({
            "calculation": "aggregation.x * 2 + aggregation.y / aggregation.x + 'aggregation.z' + w"
        }));
        let targets: Vec<Target> = uses(Kind::CompoundAggregation, &c)
            .into_iter()
            .map(|u| u.target)
            .collect();
        assert_eq!(
            targets,
            [
                Target::Code(Kind::Aggregation, "x".into()),
                Target::Code(Kind::Aggregation, "y".into()),
            ]
        );
        let agg = body(json!({"code": "x"}));
        assert_eq!(offered(Kind::Aggregation, &agg), set(&["x"]));
    }
}
