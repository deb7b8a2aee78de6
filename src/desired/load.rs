//! Loads a desired-state directory (design §3): every `*.yaml`/`*.yml`
//! directly in it, merged; variables resolved; each entity converted and
//! validated; addresses assigned; references resolved by code.
//!
//! All problems of a run are collected, not just the first. Parsing, then
//! variables, then entities: a later phase runs only when the earlier ones
//! were clean, so one typo does not cascade into a page of follow-on errors.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::convert::{Converted, convert_entity};
use super::diagnostic::{Diagnostic, Diagnostics, closest, did_you_mean};
use super::moved;
use super::node::{At, Node, Pos, parse_documents};
use super::rules::{Offline, Saved, check_all, with_refs, without_refs};
use super::vars::{Declarations, VarInputs};
use super::{DesiredEntity, DesiredState, Source};
use crate::address::Address;
use m3ter_api::{Kind, identity};

/// Top-level key holding variable declarations.
const VARIABLES: &str = "variables";

/// One entity as written, before conversion.
struct Written {
    kind: Kind,
    file: PathBuf,
    node: At<Node>,
}

/// One entity in the order written: still a node when it needs the
/// variables (resolved only once every file is read), else converted as
/// soon as its file is parsed, so that its node tree is dropped then (the
/// node trees of a large desired state were most of its peak memory).
enum Entry {
    Written(Written),
    Converted(PathBuf, Option<Converted>),
}

impl Written {
    /// Whether converting this entity needs the variables: a string with a
    /// `$` (an interpolation, or an escaped `$${`) or a secret, whose source
    /// may be a variable.
    fn needs_variables(&self) -> bool {
        !self.kind.sensitive_paths().is_empty() || has_dollar(&self.node.value)
    }
}

fn has_dollar(node: &Node) -> bool {
    match node {
        Node::String(s) => s.contains('$'),
        Node::Seq(items) => items.iter().any(|i| has_dollar(&i.value)),
        Node::Map(entries) => entries
            .iter()
            .any(|(k, v)| k.value.contains('$') || has_dollar(&v.value)),
        Node::Null | Node::Bool(_) | Node::Number(_) => false,
    }
}

/// Loads and checks the desired state in `dir` (see the module docs).
pub fn load(dir: &Path, vars: &VarInputs) -> Result<DesiredState, Diagnostics> {
    let mut diags = Diagnostics::default();
    let files = yaml_files(dir)?;

    // Phase 1: parse every file and sort its top-level keys.
    let mut declarations = Declarations::default();
    let mut written = Vec::new();
    let mut entries: Vec<Entry> = Vec::new();
    // Problems of the entities converted early: reported only when parsing
    // and variables are clean, as if they were converted in phase 3.
    let mut early = Diagnostics::default();
    let mut moves = moved::Written::default();
    for file in &files {
        let text = match read_text(file) {
            Ok(t) => t,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        let docs = match parse_documents(&text) {
            Ok(d) => d,
            Err(e) => {
                let d = match e.pos {
                    Some(pos) => Diagnostic::at(file, pos, format!("invalid YAML: {}", e.message)),
                    None => Diagnostic::in_file(file, format!("invalid YAML: {}", e.message)),
                };
                diags.push(d);
                continue;
            }
        };
        for doc in docs {
            sections(
                file,
                doc,
                &mut declarations,
                &mut written,
                &mut moves,
                &mut diags,
            );
        }
        entries.extend(written.drain(..).map(|w| {
            if w.needs_variables() {
                Entry::Written(w)
            } else {
                let c = convert_entity(w.kind, &w.file, &w.node, &mut early);
                Entry::Converted(w.file, c)
            }
        }));
    }
    if !diags.is_empty() {
        return diags.into_result(DesiredState::default());
    }

    // Phase 2: variables.
    let variables = declarations.resolve(vars, &mut diags);
    if !diags.is_empty() {
        return diags.into_result(DesiredState::default());
    }

    // Phase 3: entities.
    early.0.into_iter().for_each(|d| diags.push(d));
    let mut converted = Vec::with_capacity(entries.len());
    for entry in entries {
        match entry {
            Entry::Converted(file, c) => converted.extend(c.map(|c| (file, c))),
            Entry::Written(mut w) => {
                // Secrets first: their markers contain no `${`, and
                // substitution refuses sensitive variables anywhere else.
                crate::sensitive::take(w.kind, &w.file, &mut w.node, &variables, &mut diags);
                variables.substitute(&w.file, &mut w.node, &mut diags);
                if let Some(c) = convert_entity(w.kind, &w.file, &w.node, &mut diags) {
                    converted.push((w.file, c));
                }
            }
        }
    }
    let mut state = resolve(converted, &mut diags);
    for (file, node) in moves.nodes_mut() {
        variables.substitute(file, node, &mut diags);
    }
    // Against the entities as resolved: with entity errors, a `to` that
    // failed to convert would only be reported again as missing.
    if diags.is_empty() {
        state.moved = moves.check(&state.entities, &mut diags);
    }
    state.variables = variables.to_json();
    diags.into_result(state)
}

/// The text of one YAML file. Bytes that are not UTF-8 are reported at the
/// line and column of the first bad byte (what `read_to_string` would only
/// call "stream did not contain valid UTF-8"), so an editor can jump there.
fn read_text(file: &Path) -> Result<String, Diagnostic> {
    let bytes = std::fs::read(file)
        .map_err(|e| Diagnostic::in_file(file, format!("cannot read the file: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let bad = e.utf8_error().valid_up_to();
        let byte = bytes
            .get(bad)
            .map_or_else(String::new, |b| format!(" (byte {b:#04x})"));
        Diagnostic::at(
            file,
            pos_of_offset(bytes, bad),
            format!("invalid UTF-8{byte}"),
        )
        .with_hint("save the file as UTF-8")
    })
}

/// The 1-based line and column (in characters, as the YAML parser counts
/// them) of byte `offset`, where everything before `offset` is valid UTF-8.
fn pos_of_offset(bytes: &[u8], offset: usize) -> Pos {
    let before = String::from_utf8_lossy(&bytes[..offset]);
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Pos {
        line: before.matches('\n').count() + 1,
        column: before[line_start..].chars().count() + 1,
    }
}

/// The `*.yaml`/`*.yml` files directly in `dir`, sorted by name.
fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, Diagnostics> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(
                Diagnostic::in_file(dir, "the desired-state directory does not exist")
                    .with_hint("pass the directory with `--dir DIR` (default: ./desired-state)")
                    .into(),
            );
        }
        Err(e) => {
            return Err(Diagnostic::in_file(
                dir,
                format!("cannot read the desired-state directory: {e}"),
            )
            .into());
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|x| x.to_str())
                    .is_some_and(|x| x == "yaml" || x == "yml")
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Diagnostic::in_file(
            dir,
            "the desired-state directory holds no *.yaml or *.yml files",
        )
        .with_hint("pass the directory with `--dir DIR`, or add the YAML files")
        .into());
    }
    Ok(files)
}

/// Splits one document into variable declarations and entities.
fn sections(
    file: &Path,
    doc: At<Node>,
    declarations: &mut Declarations,
    written: &mut Vec<Written>,
    moves: &mut moved::Written,
    diags: &mut Diagnostics,
) {
    let Node::Map(entries) = doc.value else {
        diags.push(
            Diagnostic::at(
                file,
                doc.pos,
                format!(
                    "a desired-state document must be a mapping of sections, found {}",
                    doc.value.describe()
                ),
            )
            .with_hint("start with a section such as `products:`"),
        );
        return;
    };
    for (key, value) in entries {
        if key.value == VARIABLES {
            declarations.add(file, &value, diags);
            continue;
        }
        if key.value == moved::SECTION {
            moves.add(file, value, diags);
            continue;
        }
        let Some(kind) = Kind::from_section(&key.value) else {
            let known: Vec<&str> = [VARIABLES, moved::SECTION]
                .into_iter()
                .chain(Kind::ALL.iter().map(|k| k.section()))
                .collect();
            let hint = did_you_mean(&key.value, known.iter().copied())
                .unwrap_or_else(|| format!("the top-level keys are: {}", known.join(", ")));
            diags.push(
                Diagnostic::at(
                    file,
                    key.pos,
                    format!("unknown top-level key `{}`", key.value),
                )
                .with_hint(hint),
            );
            continue;
        };
        if kind.is_singleton() {
            singleton(file, kind, &key.value, value, written, diags);
            continue;
        }
        match value.value {
            Node::Null => {}
            Node::Seq(items) => written.extend(items.into_iter().map(|node| Written {
                kind,
                file: file.to_path_buf(),
                node,
            })),
            other => diags.push(
                Diagnostic::at(
                    file,
                    value.pos,
                    format!(
                        "`{}` must be a list of {} entries, found {}",
                        key.value,
                        kind,
                        other.describe()
                    ),
                )
                .with_hint("start each entry with `- `"),
            ),
        }
    }
}

/// A singleton's section: one mapping of its fields (there is one entity
/// per org, so no list).
fn singleton(
    file: &Path,
    kind: Kind,
    section: &str,
    value: At<Node>,
    written: &mut Vec<Written>,
    diags: &mut Diagnostics,
) {
    match value.value {
        Node::Null => {}
        Node::Map(_) => written.push(Written {
            kind,
            file: file.to_path_buf(),
            node: value,
        }),
        ref other => diags.push(
            Diagnostic::at(
                file,
                value.pos,
                format!(
                    "`{section}` must be one mapping of fields ({kind} is a singleton: one per org), found {}",
                    other.describe()
                ),
            )
            .with_hint(format!("write `{section}:` followed by its fields, without `- `")),
        ),
    }
}

/// Assigns addresses, rejects duplicates and resolves references.
fn resolve(converted: Vec<(PathBuf, Converted)>, diags: &mut Diagnostics) -> DesiredState {
    // Addresses first: references resolve against all of them.
    let mut entities: BTreeMap<Address, (PathBuf, Converted)> = BTreeMap::new();
    for (file, c) in converted {
        let Some(key) = key_of(&c) else {
            // Missing identity fields were reported by validation.
            continue;
        };
        let address = Address::new(c.kind, key);
        if let Some((first_file, first)) = entities.get(&address) {
            let first_at = format!(
                "{}:{}:{}",
                first_file.display(),
                first.pos.line,
                first.pos.column
            );
            let d = if c.kind.is_singleton() {
                Diagnostic::at(
                    &file,
                    c.pos,
                    format!(
                        "`{}` is written twice: here and at {first_at}; a singleton is written once",
                        c.kind.section()
                    ),
                )
                .with_hint("merge the two into one mapping")
            } else {
                Diagnostic::at(
                    &file,
                    c.pos,
                    format!("duplicate address `{address}`: also defined at {first_at}"),
                )
            };
            diags.push(d);
            continue;
        }
        entities.insert(address, (file, c));
    }
    let codes: BTreeMap<Kind, BTreeSet<String>> =
        entities.keys().fold(BTreeMap::new(), |mut m, a| {
            m.entry(a.kind).or_default().insert(a.key.clone());
            m
        });

    let mut resolved = Vec::with_capacity(entities.len());
    for (address, (file, c)) in entities {
        let mut refs = Vec::new();
        for r in &c.refs {
            let target = Address::new(r.reference.target, r.code.clone());
            let known = codes.get(&target.kind);
            if known.is_some_and(|k| k.contains(&r.code)) {
                refs.push((r.reference.field.to_string(), target));
            } else {
                diags.push(
                    Diagnostic::at(
                        &file,
                        r.pos,
                        format!(
                            "`{}` refers to {}, which is not in the desired state",
                            r.reference.yaml_key, target
                        ),
                    )
                    .with_hint_opt(if by_address(c.kind, r.reference.field) {
                        // Written as an address: suggest one.
                        closest(&r.code, known.into_iter().flatten().map(String::as_str))
                            .map(|k| format!("did you mean `{}`?", Address::new(target.kind, k)))
                    } else {
                        did_you_mean(&r.code, known.into_iter().flatten().map(String::as_str))
                    }),
                );
            }
        }
        // Order only: whether the names are aggregations is the rule
        // `compoundAggregation.calculation`'s business (m3ter_api::rules).
        let mut extra_deps = Vec::new();
        if c.kind == Kind::CompoundAggregation
            && let Some(Value::String(calc)) = c.fields.get("calculation")
        {
            let aggregations = codes.get(&Kind::Aggregation);
            // A formula that does not parse has no dependencies to order.
            let expr = m3ter_api::calc::parse(calc).ok();
            for name in expr.iter().flat_map(|e| e.names()) {
                let code = match name.split_once('.') {
                    None => name,
                    Some(("aggregation", code)) => code,
                    Some(_) => continue,
                };
                if aggregations.is_some_and(|a| a.contains(code)) {
                    let dep = Address::new(Kind::Aggregation, code);
                    if !extra_deps.contains(&dep) {
                        extra_deps.push(dep);
                    }
                }
            }
        }
        // The org-level custom fields are written before an entity that
        // sets one of their names (m3ter requires the default first).
        if codes.contains_key(&Kind::CustomFields)
            && m3ter_api::rules::sets_governed_fields(c.kind, &c.fields)
            && let Some(org_level) = Address::singleton(Kind::CustomFields)
        {
            extra_deps.push(org_level);
        }
        // A field naming an entity by code (a currency) is a dependency
        // when the desired state declares that entity; an undeclared code
        // is the rule `currency.known`'s business.
        for (field, target) in c.kind.code_refs() {
            if let Some(Value::String(code)) = c.fields.get(field)
                && codes.get(&target).is_some_and(|k| k.contains(code))
            {
                let dep = Address::new(target, code.clone());
                if !extra_deps.contains(&dep) {
                    extra_deps.push(dep);
                }
            }
        }
        let mut c = c;
        members(&address, &file, &mut c, &codes, &mut extra_deps, diags);
        let refs: super::Refs = refs.into_iter().collect();
        resolved.push((address, file, c, refs, extra_deps));
    }

    // The rules see the whole state, so they run once every reference
    // resolved: a missing target would only repeat as rule findings.
    let mut warnings = Vec::new();
    if diags.is_empty() {
        // Each body is the entity's own fields with its references written
        // in for the checks (no copy of the state), taken out again after.
        let saved: Vec<Saved> = resolved
            .iter_mut()
            .map(|(_, _, c, refs, _)| with_refs(&mut c.fields, refs))
            .collect();
        let catalog = Offline::new(resolved.iter().map(|(a, _, c, _, _)| (a, &c.fields)));
        let checked = check_all(&catalog, resolved.iter().map(|(a, f, c, _, _)| (a, f, c)));
        drop(catalog);
        checked.errors.0.into_iter().for_each(|d| diags.push(d));
        warnings = checked.warnings;
        for ((_, _, c, _, _), saved) in resolved.iter_mut().zip(saved) {
            without_refs(&mut c.fields, saved);
        }
    }

    let mut state = DesiredState {
        warnings,
        ..DesiredState::default()
    };
    for (address, file, c, refs, extra_deps) in resolved {
        let source = Source {
            file,
            line: c.pos.line,
            column: c.pos.column,
        };
        state.entities.insert(
            address.clone(),
            DesiredEntity {
                address,
                fields: c.fields,
                refs,
                extra_deps,
                lifecycle: c.lifecycle,
                source: Some(source),
            },
        );
    }
    state
}

/// Checks a member set (a resource group's `items`,
/// [`m3ter_api::kinds::Members`]): each is the address of an entity of the
/// desired state, of the kind the group's type names or a group of the
/// same type, else an error at the item. Members become dependencies
/// (created before the group, deleted after it) and the field is kept in
/// canonical form, sorted and without repeats: it is compared as a set.
fn members(
    address: &Address,
    file: &Path,
    c: &mut Converted,
    codes: &BTreeMap<Kind, BTreeSet<String>>,
    extra_deps: &mut Vec<Address>,
    diags: &mut Diagnostics,
) {
    let (Some(m), Some(typed)) = (c.kind.members(), c.kind.typed()) else {
        return;
    };
    let Some(Value::Array(items)) = c.fields.get(m.field) else {
        return;
    };
    let Some(group_type) = c.fields.get(typed.field).and_then(Value::as_str) else {
        return;
    };
    let Some(item_kind) = typed.kind_of(group_type) else {
        return;
    };
    let same_type = format!("{group_type}/");
    let mut canonical = BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        let pos = c.pos_of(&format!("{}[{i}]", m.field));
        let text = item.as_str().unwrap_or_default();
        let parsed = text.parse::<Address>();
        let problem = match &parsed {
            Err(e) => Some((
                format!("`{}[{i}]` {e}", m.field),
                format!("write the address of a {item_kind} (`{item_kind}.<code>`)"),
            )),
            Ok(a) if a == address => Some((
                format!("`{}[{i}]` is the group itself", m.field),
                "a group cannot hold itself".to_string(),
            )),
            Ok(a) if a.kind == c.kind && !a.key.starts_with(&same_type) => Some((
                format!(
                    "`{}[{i}]` is {a}, a group of another type: a group of type `{group_type}` holds {item_kind}s and groups of its type",
                    m.field
                ),
                format!("name a `{}[\"{same_type}…\"]`", c.kind),
            )),
            Ok(a) if a.kind != c.kind && a.kind != item_kind => Some((
                format!(
                    "`{}[{i}]` is {a}, a {}: a group of type `{group_type}` holds {item_kind}s",
                    m.field, a.kind
                ),
                format!(
                    "name a {item_kind} (`{item_kind}.<code>`), or change the group's `{}`",
                    typed.field
                ),
            )),
            Ok(a) if !codes.get(&a.kind).is_some_and(|k| k.contains(&a.key)) => Some((
                format!(
                    "`{}[{i}]` refers to {a}, which is not in the desired state",
                    m.field
                ),
                closest(
                    &a.key,
                    codes.get(&a.kind).into_iter().flatten().map(String::as_str),
                )
                .map(|k| format!("did you mean `{}`?", Address::new(a.kind, k)))
                .unwrap_or_else(|| format!("declare it, or remove it from `{}`", m.field)),
            )),
            Ok(_) => None,
        };
        match (problem, parsed) {
            (Some((message, hint)), _) => {
                diags.push(Diagnostic::at(file, pos, message).with_hint(hint));
            }
            (None, Ok(a)) => {
                if !extra_deps.contains(&a) {
                    extra_deps.push(a.clone());
                }
                canonical.insert(a.to_string());
            }
            (None, Err(_)) => {}
        }
    }
    c.fields.insert(
        m.field.to_string(),
        Value::Array(canonical.into_iter().map(Value::String).collect()),
    );
}

/// The entity's key (design §3.3), or `None` when a field it needs is
/// missing (already reported).
fn key_of(c: &Converted) -> Option<String> {
    identity::key_of(c.kind, c)
}

/// A desired entity as [`identity::key_of`] reads it: its references are
/// written as the target's code.
impl identity::KeySource for Converted {
    fn value(&self, field: &str) -> Option<&Value> {
        self.fields.get(field)
    }

    fn code(&self, field: &str, _target: Kind) -> Option<&str> {
        self.ref_for(field).map(|r| r.code.as_str())
    }
}

/// Whether `field` of `kind` is written as an address (a
/// [`m3ter_api::Type::AnyRef`]) rather than as a code.
fn by_address(kind: Kind, field: &str) -> bool {
    kind.any_refs().iter().any(|(f, _)| *f == field)
}
