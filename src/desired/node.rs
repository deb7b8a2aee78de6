//! A YAML document as a tree of values that each remember where they were
//! written.
//!
//! Most desired-state errors are found after parsing (an unknown reference,
//! a duplicate address, a cycle, a violated limit), and each must still name
//! `file:line:column`. So instead of deserializing straight into typed
//! structs, every document is read into this positioned tree (through
//! `serde_saphyr::Spanned`, which records the line and column of every node),
//! and the loader converts the tree table-driven from `m3ter_api::schema`.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// A line and column (1-based, in characters) inside one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    fn of<T>(s: &Spanned<T>) -> Pos {
        Pos {
            line: usize::try_from(s.referenced.line()).unwrap_or(usize::MAX),
            column: usize::try_from(s.referenced.column()).unwrap_or(usize::MAX),
        }
    }
}

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct At<T> {
    pub pos: Pos,
    pub value: T,
}

impl<T> At<T> {
    /// Pairs a value with a position.
    pub fn new(pos: Pos, value: T) -> Self {
        At { pos, value }
    }
}

/// One YAML value with YAML 1.2 core-schema typing: `6e9` is a number,
/// `yes` is a string, an unquoted `2024-12-01` is a string.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Seq(Vec<At<Node>>),
    /// Entries in the order written.
    Map(Vec<(At<String>, At<Node>)>),
}

impl Node {
    /// What the node is, for "expected a list, found a string" messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "a boolean",
            Node::Number(_) => "a number",
            Node::String(_) => "a string",
            Node::Seq(_) => "a list",
            Node::Map(_) => "a mapping",
        }
    }
}

/// A whole number written as a float (`6e9`, `1.0`) becomes an integer so
/// that integer fields accept it and JSON output stays plain; only values
/// an `f64` holds exactly (|x| < 2^53) are converted.
pub fn normalize_number(x: f64) -> Option<serde_json::Number> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if x.fract() == 0.0 && x.abs() < EXACT {
        // The range check above makes the cast exact.
        #[allow(clippy::cast_possible_truncation)]
        Some(serde_json::Number::from(x as i64))
    } else {
        serde_json::Number::from_f64(x)
    }
}

/// Deserializes through `Spanned` so every nested value keeps its position.
#[derive(Debug)]
struct Positioned(At<Node>);

impl<'de> Deserialize<'de> for Positioned {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Spanned::<Node>::deserialize(d)?;
        Ok(Positioned(At::new(Pos::of(&s), s.value)))
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Node, E> {
        i64::try_from(v)
            .map(|v| Node::Number(v.into()))
            .map_err(|_| E::custom(format!("the number {v} is too large")))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Node, E> {
        u64::try_from(v)
            .map(|v| Node::Number(v.into()))
            .map_err(|_| E::custom(format!("the number {v} is too large")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        normalize_number(v)
            .map(Node::Number)
            .ok_or_else(|| E::custom(format!("`{v}` is not a finite number")))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::String(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(Positioned(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let Positioned(value) = map.next_value()?;
            entries.push((At::new(Pos::of(&key), key.value), value));
        }
        Ok(Node::Map(entries))
    }
}

/// A YAML syntax (or structure) error with its position, when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub pos: Option<Pos>,
    pub message: String,
}

/// Parses every document of a YAML stream (empty documents are skipped).
pub fn parse_documents(text: &str) -> Result<Vec<At<Node>>, SyntaxError> {
    let options = serde_saphyr::options! {
        // YAML 1.2 core: `yes`/`no`/`on`/`off` are strings, not booleans.
        strict_booleans: true,
        // One-line messages; the caller prefixes file:line:column itself.
        with_snippet: false,
    };
    match serde_saphyr::from_multiple_with_options::<Positioned>(text, options) {
        Ok(docs) => Ok(docs.into_iter().map(|Positioned(d)| d).collect()),
        Err(err) => {
            let pos = err.location().filter(|l| l.line() > 0).map(|l| Pos {
                line: usize::try_from(l.line()).unwrap_or(usize::MAX),
                column: usize::try_from(l.column()).unwrap_or(usize::MAX),
            });
            Err(SyntaxError {
                pos,
                message: strip_location(&err.without_snippet().to_string()),
            })
        }
    }
}

/// serde-saphyr ends its messages with " at line L, column C"; the loader
/// puts the position in front instead, so drop the duplicate.
fn strip_location(msg: &str) -> String {
    let mut msg = msg.trim();
    if let Some(i) = msg.rfind(" at line ") {
        msg = msg[..i].trim_end_matches(':');
    }
    // The parser's advice to change its options is not for our users.
    if let Some(i) = msg.find(", set DuplicateKeyPolicy") {
        msg = &msg[..i];
    }
    msg.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> At<Node> {
        let mut docs = parse_documents(text).expect("valid YAML");
        assert_eq!(docs.len(), 1);
        docs.remove(0)
    }

    fn map(node: &Node) -> &[(At<String>, At<Node>)] {
        match node {
            Node::Map(m) => m,
            other => panic!("expected a map, got {other:?}"),
        }
    }

    #[test]
    fn scalars_follow_yaml_1_2_core() {
        let doc = one("a: 6e9\nb: yes\nc: 2024-12-01\nd: null\ne: true\nf: 0.5\ng: 1.0\nh: '7'\n");
        let values: Vec<_> = map(&doc.value)
            .iter()
            .map(|(k, v)| (k.value.as_str(), v.value.clone()))
            .collect();
        assert_eq!(
            values,
            [
                ("a", Node::Number(6_000_000_000_i64.into())),
                ("b", Node::String("yes".into())),
                ("c", Node::String("2024-12-01".into())),
                ("d", Node::Null),
                ("e", Node::Bool(true)),
                (
                    "f",
                    Node::Number(serde_json::Number::from_f64(0.5).unwrap())
                ),
                ("g", Node::Number(1.into())),
                ("h", Node::String("7".into())),
            ]
        );
    }

    #[test]
    fn every_nested_value_keeps_its_position() {
        let doc = one("products:\n  - code: p1\n    name: P\n");
        let (key, list) = &map(&doc.value)[0];
        assert_eq!(key.pos, Pos { line: 1, column: 1 });
        let Node::Seq(items) = &list.value else {
            panic!("expected a list")
        };
        let (code_key, code) = &map(&items[0].value)[0];
        assert_eq!(code_key.pos, Pos { line: 2, column: 5 });
        assert_eq!(
            code.pos,
            Pos {
                line: 2,
                column: 11
            }
        );
        let (name_key, _) = &map(&items[0].value)[1];
        assert_eq!(name_key.pos, Pos { line: 3, column: 5 });
    }

    #[test]
    fn several_documents_and_empty_ones() {
        let docs = parse_documents("a: 1\n---\n---\nb: 2\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].pos.line, 4);
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let err = parse_documents("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.pos.is_some(), "{err:?}");
        assert!(!err.message.is_empty());
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse_documents("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.pos, Some(Pos { line: 3, column: 1 }));
        assert_eq!(err.message, "duplicate mapping key: a");
    }

    #[test]
    fn whole_floats_become_integers() {
        assert_eq!(normalize_number(6e9), Some(6_000_000_000_i64.into()));
        assert_eq!(normalize_number(-0.0), Some(0.into()));
        assert_eq!(
            normalize_number(0.000_018_333_37),
            serde_json::Number::from_f64(0.000_018_333_37)
        );
        assert_eq!(normalize_number(f64::NAN), None);
    }
}
