//! Converts one entity's positioned YAML into API request fields, driven by
//! the kind's request schema (`m3ter_api::schema`), then checks them with
//! `m3ter_api::validate` and maps every violation back to a position.

use std::path::Path;

use serde_json::{Map, Value};

use super::Lifecycle;
use super::diagnostic::{Diagnostic, Diagnostics, did_you_mean};
use super::node::{At, Node, Pos};
use m3ter_api::schema::{AnyRef, COMMON_READ_ONLY, DefaultBy, Field, Kind, Reference, Type};
use m3ter_api::validate::{RefMode, Rule, parse_date_time, validate_body};

/// A reference written in YAML (`product: aws_lambda`), not yet resolved.
#[derive(Debug, Clone)]
pub(crate) struct RefUse {
    pub reference: Reference,
    pub code: String,
    /// Position of the code.
    pub pos: Pos,
}

/// One entity after conversion, before identity and reference resolution.
#[derive(Debug, Clone)]
pub(crate) struct Converted {
    pub kind: Kind,
    /// Where the entity starts.
    pub pos: Pos,
    pub fields: Map<String, Value>,
    pub refs: Vec<RefUse>,
    pub lifecycle: Lifecycle,
    /// JSON path (`dataFields[0].code`) → position of its value.
    pub paths: Paths,
}

/// The JSON paths of one entity's values with their positions, stored
/// compactly: every entity keeps them until the rules have run, and a map
/// of strings per entity was a large part of a big desired state's peak
/// memory. Looked up only to place an error, so a scan is enough.
#[derive(Debug, Clone, Default)]
pub(crate) struct Paths {
    /// Every path, one after another.
    text: Box<str>,
    /// Per path: where it ends in `text`, and its position.
    ends: Box<[(u32, u32, u32)]>,
}

/// [`Paths`] while an entity is converted.
#[derive(Default)]
struct PathsBuilder {
    text: String,
    ends: Vec<(u32, u32, u32)>,
    /// Start of the last path in `text`.
    last: usize,
}

impl PathsBuilder {
    fn insert(&mut self, path: &str, pos: Pos) {
        let squeeze = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        // `value` and `plain` record the same path twice in a row.
        if self
            .ends
            .last()
            .is_some_and(|_| &self.text[self.last..] == path)
        {
            if let Some(last) = self.ends.last_mut() {
                (last.1, last.2) = (squeeze(pos.line), squeeze(pos.column));
            }
            return;
        }
        self.last = self.text.len();
        self.text.push_str(path);
        self.ends.push((
            squeeze(self.text.len()),
            squeeze(pos.line),
            squeeze(pos.column),
        ));
    }

    fn build(self) -> Paths {
        Paths {
            text: self.text.into_boxed_str(),
            ends: self.ends.into_boxed_slice(),
        }
    }
}

impl Paths {
    /// The position recorded last for exactly `path` (as a map would keep).
    fn get(&self, path: &str) -> Option<Pos> {
        let mut start = 0;
        let mut found = None;
        for &(end, line, column) in &self.ends {
            let end = end as usize;
            if self.text.get(start..end) == Some(path) {
                found = Some(Pos {
                    line: line as usize,
                    column: column as usize,
                });
            }
            start = end;
        }
        found
    }
}

impl Converted {
    /// Position of the value at `path`, or of its closest written parent,
    /// or of the entity.
    pub fn pos_of(&self, path: &str) -> Pos {
        let mut p = path;
        loop {
            if let Some(pos) = self.paths.get(p) {
                return pos;
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
                None => return self.pos,
            }
        }
    }

    /// The reference written for an API field (`productId`), if any.
    pub fn ref_for(&self, field: &str) -> Option<&RefUse> {
        self.refs.iter().find(|r| r.reference.field == field)
    }
}

/// Converts and validates one entity. Problems go to `diags`; the result is
/// `None` only when the entity is not a mapping at all.
pub(crate) fn convert_entity(
    kind: Kind,
    file: &Path,
    node: &At<Node>,
    diags: &mut Diagnostics,
) -> Option<Converted> {
    let Node::Map(entries) = &node.value else {
        diags.push(Diagnostic::at(
            file,
            node.pos,
            format!(
                "each entry of `{}` must be a mapping of fields, found {}",
                kind.section(),
                node.value.describe()
            ),
        ));
        return None;
    };
    let mut out = Converted {
        kind,
        pos: node.pos,
        fields: Map::new(),
        refs: Vec::new(),
        lifecycle: Lifecycle::default(),
        paths: Paths::default(),
    };
    let references = kind.references();
    let mut cx = Cx {
        file,
        kind,
        diags,
        paths: PathsBuilder::default(),
    };
    let any_refs = kind.any_refs();
    for (key, value) in entries {
        let name = key.value.as_str();
        if name == "lifecycle" {
            out.lifecycle = lifecycle(&mut cx, &references, value);
        } else if let Some((field, any)) = any_refs.iter().find(|(_, a)| a.yaml_key == name) {
            if let Some((r, kind_name)) = any_ref(&mut cx, field, any, value) {
                out.fields
                    .insert(any.kind_field.to_string(), Value::String(kind_name.into()));
                out.refs.push(r);
            }
        } else if let Some((_, any)) = any_refs
            .iter()
            .find(|(f, a)| *f == name || a.kind_field == name)
        {
            cx.diags.push(
                Diagnostic::at(
                    file,
                    key.pos,
                    format!(
                        "`{name}` is not written in desired state: it follows from the address under `{}`",
                        any.yaml_key
                    ),
                )
                .with_hint(format!("use `{}: <kind>.<code>`", any.yaml_key)),
            );
        } else if let Some(r) = references.iter().find(|r| r.yaml_key == name) {
            match &value.value {
                Node::Null => {}
                Node::String(code) => out.refs.push(RefUse {
                    reference: *r,
                    code: code.clone(),
                    pos: value.pos,
                }),
                // An unquoted numeric code (`code: 123`) is still a code.
                Node::Number(n) => out.refs.push(RefUse {
                    reference: *r,
                    code: n.to_string(),
                    pos: value.pos,
                }),
                other => cx.diags.push(Diagnostic::at(
                    file,
                    value.pos,
                    format!(
                        "`{name}` must be the code of a {} (a string), found {}",
                        r.target,
                        other.describe()
                    ),
                )),
            }
        } else if let Some(r) = references.iter().find(|r| r.field == name) {
            cx.diags.push(
                Diagnostic::at(
                    file,
                    key.pos,
                    format!(
                        "`{name}` is not written in desired state: refer to the {} by its code",
                        r.target
                    ),
                )
                .with_hint(format!("use `{}: <code>`", r.yaml_key)),
            );
        } else if let Some(field) = kind.field(name) {
            if let Some(v) = cx.value(&field.ty, value, name) {
                out.fields.insert(name.to_string(), v);
            }
        } else if name == "version"
            || COMMON_READ_ONLY.contains(&name)
            || kind.response_only().contains(&name)
        {
            cx.diags.push(Diagnostic::at(
                file,
                key.pos,
                format!("`{name}` is set by m3ter and cannot be written in desired state ({kind})"),
            ));
        } else {
            let known = kind
                .fields()
                .iter()
                .filter(|f| !matches!(f.ty, Type::Ref(_) | Type::AnyRef(_)))
                .filter(|f| !any_refs.iter().any(|(_, a)| a.kind_field == f.name))
                .map(|f| f.name)
                .chain(references.iter().map(|r| r.yaml_key))
                .chain(any_refs.iter().map(|(_, a)| a.yaml_key))
                .chain(["lifecycle"]);
            let known: Vec<&str> = known.collect();
            // A near miss is named; otherwise every field is, so the fix
            // is on the screen either way.
            let hint = did_you_mean(name, known.iter().copied())
                .unwrap_or_else(|| format!("the fields of {kind} are: {}", known.join(", ")));
            cx.diags.push(
                Diagnostic::at(file, key.pos, format!("unknown field `{name}` in {kind}"))
                    .with_hint(hint),
            );
        }
    }
    out.paths = cx.paths.build();
    // Fields the API requires but the kind table lets the desired state
    // omit (a meter's `derivedFields`: `[]` is meant).
    for d in kind.defaults().iter().filter(|d| d.by == DefaultBy::Tool) {
        out.fields
            .entry(d.field)
            .or_insert_with(|| d.value.to_json());
    }
    validate(&out, file, diags);
    Some(out)
}

/// A [`Type::AnyRef`] written as an address (`entity: account.acme`): the
/// reference to resolve, and the kind field's value for the address's kind
/// (`Account`); `None` after reporting a value that is not such an address.
fn any_ref(
    cx: &mut Cx<'_>,
    field: &'static str,
    any: &'static AnyRef,
    value: &At<Node>,
) -> Option<(RefUse, &'static str)> {
    let kinds: Vec<String> = any.kinds.iter().map(|(k, _)| k.to_string()).collect();
    let address = match &value.value {
        Node::String(s) => s.parse::<crate::address::Address>().ok(),
        _ => None,
    };
    let Some(address) = address else {
        cx.diags.push(
            Diagnostic::at(
                cx.file,
                value.pos,
                format!(
                    "`{}` must be the address of an entity (`account.acme`), found {}",
                    any.yaml_key,
                    value.value.describe()
                ),
            )
            .with_hint(format!("the kinds it may name are: {}", kinds.join(", "))),
        );
        return None;
    };
    let Some(kind_name) = any.name_of(address.kind) else {
        cx.diags.push(
            Diagnostic::at(
                cx.file,
                value.pos,
                format!(
                    "`{}` names {address}, a {}, which {} cannot map",
                    any.yaml_key,
                    address.kind,
                    cx.kind.section()
                ),
            )
            .with_hint(format!("the kinds it may name are: {}", kinds.join(", "))),
        );
        return None;
    };
    let reference = Reference {
        field,
        yaml_key: any.yaml_key,
        target: address.kind,
    };
    Some((
        RefUse {
            reference,
            code: address.key,
            pos: value.pos,
        },
        kind_name,
    ))
}

/// The kind's references as desired state writes them, for messages: its
/// [`Kind::references`] and its [`Type::AnyRef`] fields (under their YAML
/// key; the target named is only the first kind they may point at).
pub(crate) fn written_references(kind: Kind) -> Vec<Reference> {
    let mut out = kind.references();
    out.extend(kind.any_refs().into_iter().map(|(field, any)| Reference {
        field,
        yaml_key: any.yaml_key,
        target: any.kinds[0].0,
    }));
    out
}

/// Checks the converted fields with the API's rules and reports each
/// violation at the position of the value it is about.
fn validate(c: &Converted, file: &Path, diags: &mut Diagnostics) {
    // References take part in required and exactly-one-of checks under
    // their API names; RefMode::Skip leaves their values (codes) alone.
    let mut body = c.fields.clone();
    for r in &c.refs {
        body.insert(r.reference.field.into(), Value::String(r.code.clone()));
    }
    let references = written_references(c.kind);
    for v in validate_body(c.kind, &body, RefMode::Skip) {
        if v.rule == Rule::Unknown {
            // Reported while converting, with a suggestion.
            continue;
        }
        if v.rule == Rule::Required
            && c.kind
                .any_refs()
                .iter()
                .any(|(_, a)| a.kind_field == v.path)
        {
            // Filled in from the reference's address: its absence is the
            // reference's, reported under the reference's YAML key.
            continue;
        }
        if v.rule == Rule::Required && c.kind.is_singleton() {
            // A singleton is written over the live one (its PUT carries the
            // live values of the fields YAML leaves out), so YAML may write
            // any subset of its fields.
            continue;
        }
        let pos = match v.rule {
            Rule::ExactlyOneOf => references
                .iter()
                .find(|r| v.path == r.field)
                .and_then(|r| c.ref_for(r.field))
                .map_or(c.pos, |r| r.pos),
            _ => c
                .ref_for(&v.path)
                .map_or_else(|| c.pos_of(&v.path), |r| r.pos),
        };
        diags.push(Diagnostic::at(
            file,
            pos,
            format!("{}: {}", c.kind, yaml_names(&v.message, &references)),
        ));
    }
    let code_required = c.kind.field("code").is_some_and(|f| !f.required);
    if c.kind.has_identity_code() && code_required && !body.contains_key("code") {
        diags.push(Diagnostic::at(
            file,
            c.pos,
            format!(
                "`code` is required in {}: it is the entity's identity",
                c.kind
            ),
        ));
    }
}

/// Rewrites API reference names in a message to the names written in YAML
/// (`` `planId` `` → `` `plan` ``).
pub(crate) fn yaml_names(message: &str, references: &[Reference]) -> String {
    let mut m = message.to_string();
    for r in references {
        m = m.replace(&format!("`{}`", r.field), &format!("`{}`", r.yaml_key));
    }
    m
}

/// Conversion context of one entity.
struct Cx<'a> {
    file: &'a Path,
    kind: Kind,
    diags: &'a mut Diagnostics,
    paths: PathsBuilder,
}

impl Cx<'_> {
    /// Converts `node` for a field of type `ty` at JSON `path`. `None`
    /// means "absent" (a null).
    fn value(&mut self, ty: &Type, node: &At<Node>, path: &str) -> Option<Value> {
        self.paths.insert(path, node.pos);
        match (ty, &node.value) {
            (_, Node::Null) => None,
            (Type::Object(fields), Node::Map(entries)) => {
                Some(Value::Object(self.object(fields, entries, path)))
            }
            (Type::Array { item, .. }, Node::Seq(items)) => Some(Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, it)| {
                        self.value(item, it, &format!("{path}[{i}]"))
                            .unwrap_or(Value::Null)
                    })
                    .collect(),
            )),
            (Type::DateTime, Node::String(s)) => Some(Value::String(
                normalize_date_time(s).unwrap_or_else(|| s.clone()),
            )),
            // Anything else is converted as written; validation then says
            // what is wrong with it, at this position.
            _ => Some(self.plain(node, path)),
        }
    }

    fn object(
        &mut self,
        fields: &[Field],
        entries: &[(At<String>, At<Node>)],
        path: &str,
    ) -> Map<String, Value> {
        let mut map = Map::new();
        for (key, value) in entries {
            let sub = format!("{path}.{}", key.value);
            match fields.iter().find(|f| f.name == key.value) {
                Some(f) => {
                    if let Some(v) = self.value(&f.ty, value, &sub) {
                        map.insert(key.value.clone(), v);
                    }
                }
                None => self.diags.push(
                    Diagnostic::at(
                        self.file,
                        key.pos,
                        format!("unknown field `{}` in {} `{path}`", key.value, self.kind),
                    )
                    .with_hint_opt(did_you_mean(&key.value, fields.iter().map(|f| f.name))),
                ),
            }
        }
        map
    }

    /// Converts an untyped value (custom fields, segments, a value of the
    /// wrong type) as written, nulls in mappings dropped.
    fn plain(&mut self, node: &At<Node>, path: &str) -> Value {
        self.paths.insert(path, node.pos);
        match &node.value {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Number(n) => Value::Number(n.clone()),
            Node::String(s) => Value::String(s.clone()),
            Node::Seq(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, it)| self.plain(it, &format!("{path}[{i}]")))
                    .collect(),
            ),
            Node::Map(entries) => Value::Object(
                entries
                    .iter()
                    .filter(|(_, v)| v.value != Node::Null)
                    .map(|(k, v)| {
                        let sub = format!("{path}.{}", k.value);
                        (k.value.clone(), self.plain(v, &sub))
                    })
                    .collect(),
            ),
        }
    }
}

/// Reads `lifecycle: {preventDestroy, ignoreChanges}`. Names in
/// `ignoreChanges` may be API field names or reference keys (`product`);
/// they are stored as API field names.
fn lifecycle(cx: &mut Cx<'_>, references: &[Reference], node: &At<Node>) -> Lifecycle {
    let mut out = Lifecycle::default();
    let entries = match &node.value {
        Node::Map(e) => e,
        Node::Null => return out,
        other => {
            cx.diags.push(Diagnostic::at(
                cx.file,
                node.pos,
                format!(
                    "`lifecycle` must be a mapping like `{{preventDestroy: true, ignoreChanges: [name]}}`, found {}",
                    other.describe()
                ),
            ));
            return out;
        }
    };
    for (key, value) in entries {
        match (key.value.as_str(), &value.value) {
            (_, Node::Null) => {}
            ("preventDestroy", Node::Bool(b)) => out.prevent_destroy = *b,
            ("preventDestroy", other) => cx.diags.push(Diagnostic::at(
                cx.file,
                value.pos,
                format!(
                    "`lifecycle.preventDestroy` must be true or false, found {}",
                    other.describe()
                ),
            )),
            ("ignoreChanges", Node::Seq(items)) => {
                for item in items {
                    match &item.value {
                        Node::String(name) => {
                            if let Some(field) = ignorable(cx.kind, references, name) {
                                out.ignore_changes.push(field.to_string());
                            } else {
                                let known = cx
                                    .kind
                                    .fields()
                                    .iter()
                                    .map(|f| f.name)
                                    .chain(references.iter().map(|r| r.yaml_key));
                                cx.diags.push(
                                    Diagnostic::at(
                                        cx.file,
                                        item.pos,
                                        format!(
                                            "`lifecycle.ignoreChanges` names `{name}`, which is not a field of {}",
                                            cx.kind
                                        ),
                                    )
                                    .with_hint_opt(did_you_mean(name, known)),
                                );
                            }
                        }
                        other => cx.diags.push(Diagnostic::at(
                            cx.file,
                            item.pos,
                            format!(
                                "`lifecycle.ignoreChanges` must list field names, found {}",
                                other.describe()
                            ),
                        )),
                    }
                }
            }
            ("ignoreChanges", other) => cx.diags.push(Diagnostic::at(
                cx.file,
                value.pos,
                format!(
                    "`lifecycle.ignoreChanges` must be a list of field names, found {}",
                    other.describe()
                ),
            )),
            (name, _) => cx.diags.push(
                Diagnostic::at(
                    cx.file,
                    key.pos,
                    format!("unknown field `{name}` in `lifecycle`"),
                )
                .with_hint_opt(did_you_mean(name, ["preventDestroy", "ignoreChanges"])),
            ),
        }
    }
    out
}

/// The API field `name` stands for in `ignoreChanges`, if any.
fn ignorable(kind: Kind, references: &[Reference], name: &str) -> Option<&'static str> {
    references
        .iter()
        .find(|r| r.yaml_key == name)
        .map(|r| r.field)
        .or_else(|| kind.field(name).map(|f| f.name))
}

/// A date (`2024-12-01`) or date-time for a date-time field, as sent:
/// UTC, `YYYY-MM-DDTHH:MM:SSZ`, fractional seconds only when non-zero.
/// `None` when `s` is neither.
pub fn normalize_date_time(s: &str) -> Option<String> {
    use chrono::Timelike;
    if s.len() == 10
        && let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
    {
        return Some(format!("{}T00:00:00Z", d.format("%Y-%m-%d")));
    }
    let t = parse_date_time(s)?;
    Some(if t.nanosecond() == 0 {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.fZ").to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::node::parse_documents;
    use serde_json::json;

    #[test]
    fn dates_and_date_times_are_normalised() {
        assert_eq!(
            normalize_date_time("2024-12-01").as_deref(),
            Some("2024-12-01T00:00:00Z")
        );
        assert_eq!(
            normalize_date_time("2024-11-01T00:00:00.000Z").as_deref(),
            Some("2024-11-01T00:00:00Z")
        );
        assert_eq!(
            normalize_date_time("2024-11-30T23:30:00.250-02:00").as_deref(),
            Some("2024-12-01T01:30:00.250Z")
        );
        assert_eq!(normalize_date_time("2024-13-01"), None);
        assert_eq!(normalize_date_time("soon"), None);
    }

    fn convert(kind: Kind, yaml: &str) -> (Option<Converted>, Vec<String>) {
        let doc = parse_documents(yaml).unwrap().remove(0);
        let mut diags = Diagnostics::default();
        let c = convert_entity(kind, Path::new("f.yaml"), &doc, &mut diags);
        diags.sort();
        (c, diags.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn a_pricing_converts_with_refs_numbers_and_dates() {
        let (c, errs) = convert(
            Kind::Pricing,
            "plan: p\naggregation: a\nstartDate: 2024-11-01\npricingBands:\n  - {lowerLimit: 6e9, fixedPrice: 0.0, unitPrice: 0.22}\n",
        );
        assert!(errs.is_empty(), "{errs:?}");
        let c = c.unwrap();
        assert_eq!(
            Value::Object(c.fields),
            json!({"startDate": "2024-11-01T00:00:00Z",
                   "pricingBands": [{"lowerLimit": 6_000_000_000_i64, "fixedPrice": 0, "unitPrice": 0.22}]})
        );
        let refs: Vec<_> = c
            .refs
            .iter()
            .map(|r| (r.reference.field, r.code.as_str(), r.pos.line))
            .collect();
        assert_eq!(refs, [("planId", "p", 1), ("aggregationId", "a", 2)]);
    }

    #[test]
    fn positions_of_paths_and_their_closest_written_parent() {
        let (c, errs) = convert(
            Kind::Meter,
            "code: m\nname: M\ndataFields:\n  - category: MEASURE\n    code: x\n    name: X\n",
        );
        assert!(errs.is_empty(), "{errs:?}");
        let c = c.unwrap();
        let at = |path: &str| {
            let p = c.pos_of(path);
            (p.line, p.column)
        };
        assert_eq!(at("code"), (1, 7));
        assert_eq!(at("dataFields"), (4, 3));
        assert_eq!(at("dataFields[0].code"), (5, 11));
        // Not written: the closest written parent, else the entity.
        assert_eq!(at("dataFields[0].unit"), (4, 5));
        assert_eq!(at("dataFields[3].code"), (4, 3));
        assert_eq!(at("derivedFields"), (1, 1));
        // A prefix of a written path is not that path.
        assert_eq!(at("dataFields[0].cod"), (4, 5));
    }

    #[test]
    fn a_path_written_twice_keeps_its_last_position() {
        let mut b = PathsBuilder::default();
        b.insert("a", Pos { line: 1, column: 1 });
        b.insert("a.b", Pos { line: 2, column: 3 });
        b.insert("a.b", Pos { line: 2, column: 5 });
        b.insert("ab", Pos { line: 4, column: 1 });
        let paths = b.build();
        assert_eq!(paths.ends.len(), 3, "a repeat in a row is one entry");
        assert_eq!(paths.get("a.b"), Some(Pos { line: 2, column: 5 }));
        assert_eq!(paths.get("ab"), Some(Pos { line: 4, column: 1 }));
        assert_eq!(paths.get("b"), None);
    }

    #[test]
    fn meters_get_empty_derived_fields() {
        let (c, errs) = convert(
            Kind::Meter,
            "code: m\nname: M\ndataFields: [{category: MEASURE, code: x, name: X}]\n",
        );
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(c.unwrap().fields["derivedFields"], json!([]));
    }

    #[test]
    fn violations_point_at_the_value() {
        let (_, errs) = convert(
            Kind::Meter,
            "code: m\nname: M\ndataFields:\n  - category: NOPE\n    code: x\n    name: X\n    unti: GB\n",
        );
        assert_eq!(
            errs,
            [
                "f.yaml:4:15: meter: `dataFields[0].category` must be one of WHO, WHERE, WHAT, OTHER, METADATA, MEASURE, INCOME, COST (got \"NOPE\")",
                "f.yaml:7:5: unknown field `unti` in meter `dataFields[0]`; did you mean `unit`?",
            ]
        );
    }

    #[test]
    fn reference_names_are_the_yaml_ones() {
        let (_, errs) = convert(
            Kind::Pricing,
            "plan: p\nplanTemplate: t\nstartDate: 2024-11-01\npricingBands: [{lowerLimit: 0, fixedPrice: 0, unitPrice: 1}]\n",
        );
        assert_eq!(
            errs,
            [
                "f.yaml:1:1: pricing: exactly one of `aggregation` and `compoundAggregation` is required",
                "f.yaml:1:7: pricing: exactly one of `plan` and `planTemplate` must be given, not both",
            ]
        );
        let (_, errs) = convert(
            Kind::Meter,
            "productId: x\ncode: m\nname: M\ndataFields: []\n",
        );
        assert_eq!(
            errs,
            [
                "f.yaml:1:1: `productId` is not written in desired state: refer to the product by its code; use `product: <code>`",
                "f.yaml:4:13: meter: `dataFields` must hold 1 to 15 items (got 0)",
            ]
        );
    }

    #[test]
    fn identity_code_and_lifecycle() {
        let (c, errs) = convert(
            Kind::Aggregation,
            "name: A\nmeter: m\ntargetField: x\naggregation: SUM\nrounding: NONE\nquantityPerUnit: 1\nunit: u\nlifecycle: {preventDestroy: true, ignoreChanges: [meter, name, nmae]}\n",
        );
        assert_eq!(
            errs,
            [
                "f.yaml:1:1: `code` is required in aggregation: it is the entity's identity",
                "f.yaml:8:64: `lifecycle.ignoreChanges` names `nmae`, which is not a field of aggregation; did you mean `name`?",
            ]
        );
        let l = c.unwrap().lifecycle;
        assert!(l.prevent_destroy);
        assert_eq!(l.ignore_changes, ["meterId", "name"]);
    }
}
