//! Rendering a [`Plan`]: Terraform-like text for people (colors only when
//! asked) and one JSON document for machines (`shared/design.md` §4).
//!
//! The text names fields as desired state writes them (`product`, not
//! `productId`) and shows nested values as blocks ([`blocks`]). The JSON
//! document keeps the API's field names in `diff[].field`, `before` and
//! `after`, as it always has, so scripts reading it do not break.

use serde_json::{Map, Value, json};

use super::{Action, Change, Drift, Plan, Reason};
use m3ter_api::Kind;
use m3ter_api::schema::Type;

mod blocks;
mod markdown;

use blocks::{Label, Line};
pub use markdown::{COMMENT_LIMIT, markdown, markdown_within};

/// The line printed when applying would do nothing.
pub const NO_CHANGES: &str = "No changes. The org matches the desired state.";
/// Header of the drift section.
pub const DRIFT_HEADER: &str = "Objects have changed outside m3ter-reconcile:";
/// Header of the actions section.
pub const ACTIONS_HEADER: &str = "m3ter-reconcile will perform the following actions:";

/// The plan as text: drift section, actions, summary line, warnings.
pub fn human(plan: &Plan, color: bool) -> String {
    let mut out = Out {
        text: String::new(),
        color,
    };
    if !plan.drift.is_empty() {
        out.line(DRIFT_HEADER);
        out.line("");
        for d in &plan.drift {
            out.drift(d);
        }
        out.line("");
    }
    if plan.refresh_only {
        if plan.drift.is_empty() {
            out.line(NO_CHANGES);
        } else {
            out.line(&format!(
                "This is a refresh-only plan: applying it records the {} object(s) above in state; nothing in the org changes.",
                plan.drift.len()
            ));
        }
    } else if plan.changes.is_empty() && plan.moved.is_empty() {
        out.left_in_place(plan);
        out.line(NO_CHANGES);
    } else {
        out.line(ACTIONS_HEADER);
        out.line("");
        for m in &plan.moved {
            out.line(&format!("  # {} has moved to {}", m.from, m.to));
        }
        if !plan.moved.is_empty() {
            out.line("");
        }
        for c in &plan.changes {
            out.change(c);
        }
        out.left_in_place(plan);
        let s = plan.summary();
        out.line(&format!(
            "Plan: {} to import, {} to add, {} to change, {} to destroy.",
            s.import, s.add, s.change, s.destroy
        ));
    }
    for w in &plan.warnings {
        out.line("");
        let label = out.paint("Warning:", "1;33");
        out.line(&format!("{label} {w}"));
    }
    out.text
}

/// The `--json` document: `{formatVersion, changes: [{address, action,
/// before, after, diff}], drift: [{address, before, after}], summary}`, plus
/// `warnings` when there are any. A reset appears in `diff` with `after:
/// null` and `reset: true`.
pub fn json(plan: &Plan) -> Value {
    let changes: Vec<Value> = plan
        .changes
        .iter()
        .map(|c| {
            let mut diff: Vec<Value> = c
                .diff
                .iter()
                .map(|d| serde_json::to_value(d).unwrap_or(Value::Null))
                .collect();
            for r in &c.resets {
                let before = c.before.as_ref().and_then(|b| b.get(r)).cloned();
                diff.push(json!({"field": r, "before": before, "after": null, "reset": true}));
            }
            json!({
                "address": c.address.to_string(),
                "action": c.action.as_str(),
                "id": c.id,
                "before": c.before,
                "after": c.after,
                "diff": diff,
            })
        })
        .collect();
    let drift: Vec<Value> = plan
        .drift
        .iter()
        .map(|d| {
            json!({
                "address": d.address.to_string(),
                "before": d.before,
                "after": d.after,
            })
        })
        .collect();
    let mut doc = json!({
        "formatVersion": super::FORMAT_VERSION,
        "changes": changes,
        "drift": drift,
        "summary": plan.summary(),
    });
    if !plan.moved.is_empty() {
        let moved: Vec<Value> = plan
            .moved
            .iter()
            .map(|m| {
                json!({
                    "from": m.from.to_string(),
                    "to": m.to.to_string(),
                    "action": "move",
                    "id": m.id,
                })
            })
            .collect();
        doc["moved"] = json!(moved);
    }
    if !plan.forget.is_empty() {
        let forget: Vec<Value> = plan
            .forget
            .iter()
            .map(|f| {
                json!({
                    "address": f.address.to_string(),
                    "action": "forget",
                    "id": f.id,
                    "reason": f.reason,
                })
            })
            .collect();
        doc["forget"] = json!(forget);
    }
    if !plan.warnings.is_empty() {
        doc["warnings"] = json!(plan.warnings);
    }
    crate::sensitive::redact(&mut doc);
    doc
}

struct Out {
    text: String,
    color: bool,
}

fn v_is_address(v: Option<&Value>) -> bool {
    v.and_then(Value::as_str)
        .is_some_and(|s| s.parse::<crate::address::Address>().is_ok())
}

/// One change as the text plan shows it, without colors (the markdown
/// plan's details reuse it, so both read the same).
fn change_text(c: &Change) -> String {
    let mut out = Out {
        text: String::new(),
        color: false,
    };
    out.change(c);
    out.text
}

/// One drifted entity as the text plan shows it, without colors.
fn drift_text(d: &Drift) -> String {
    let mut out = Out {
        text: String::new(),
        color: false,
    };
    out.drift(d);
    out.text
}

fn is_ref(kind: Kind, field: &str) -> bool {
    matches!(
        kind.field(field).map(|f| f.ty),
        Some(Type::Ref(_) | Type::AnyRef(_))
    )
}

/// A top-level field under the name desired state writes it with: a
/// reference by its YAML key (`productId` → `product`, the mapping the YAML
/// converter uses), anything else as it is. `--json` keeps the API names.
fn yaml_name(kind: Kind, field: &str) -> String {
    crate::desired::convert::written_references(kind)
        .iter()
        .find(|r| r.field == field)
        .map_or_else(|| field.to_string(), |r| r.yaml_key.to_string())
}

/// A value as people should compare it: object keys sorted, integral
/// floats written as integers (`100.0` → `100`), secrets `(sensitive)`.
fn canonical(v: &Value) -> Value {
    match v {
        Value::String(_) => crate::sensitive::shown(v),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => json!(f as i64),
            _ => v.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonical(&o[k])))
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

/// Keeps in `live` only the keys `desired` sets (objects of a request
/// schema compare that way), elementwise through arrays.
fn restrict(live: &Value, desired: &Value) -> Value {
    match (live, desired) {
        (Value::Object(l), Value::Object(d)) => Value::Object(
            l.iter()
                .filter_map(|(k, v)| d.get(k).map(|dv| (k.clone(), restrict(v, dv))))
                .collect(),
        ),
        (Value::Array(l), Value::Array(d)) if l.len() == d.len() => {
            Value::Array(l.iter().zip(d).map(|(x, y)| restrict(x, y)).collect())
        }
        _ => live.clone(),
    }
}

fn bands_field(kind: Kind, field: &str) -> bool {
    kind.is_bands(field)
}

/// Bands in `lowerLimit` order without server-assigned ids.
fn display_bands(v: &Value) -> Value {
    match super::compare::sorted_bands(v) {
        Some(bands) => Value::Array(
            bands
                .into_iter()
                .map(|b| {
                    let mut b = b.clone();
                    if let Some(o) = b.as_object_mut() {
                        o.remove("id");
                    }
                    b
                })
                .collect(),
        ),
        None => v.clone(),
    }
}

/// One side of a field as shown: canonical, bands sorted.
fn display_one(kind: Kind, field: &str, v: &Value) -> Value {
    if bands_field(kind, field) {
        canonical(&display_bands(v))
    } else {
        canonical(v)
    }
}

/// The live and desired values of a field as shown in a diff: only what is
/// compared (live restricted to the keys desired sets, bands sorted).
fn display_pair(kind: Kind, field: &str, live: &Value, desired: &Value) -> (Value, Value) {
    if bands_field(kind, field) {
        return (
            display_one(kind, field, live),
            display_one(kind, field, desired),
        );
    }
    let schema_object = match kind.field(field).map(|f| f.ty) {
        Some(Type::Object(_)) => true,
        Some(Type::Array { item, .. }) => matches!(item, Type::Object(_)),
        _ => false,
    };
    let live = if schema_object {
        restrict(live, desired)
    } else {
        live.clone()
    };
    let mut shown = canonical(desired);
    crate::sensitive::mark_changed(kind, field, &live, desired, &mut shown);
    (canonical(&live), shown)
}

/// One top-level attribute to render: its API field and both sides.
struct Attr {
    field: String,
    before: Option<Value>,
    after: Option<Value>,
    /// Write a string `after` bare (a reference's address).
    bare: bool,
    /// Appended to the first line (`# forces replacement`).
    first_note: String,
    /// Appended to the last line (`-> null # reset …`).
    last_note: String,
}

impl Attr {
    fn new(field: &str, before: Option<Value>, after: Option<Value>) -> Attr {
        Attr {
            field: field.to_string(),
            before,
            after,
            bare: false,
            first_note: String::new(),
            last_note: String::new(),
        }
    }
}

/// The lines of an entity's attributes, names aligned.
fn attr_lines(kind: Kind, attrs: &[Attr]) -> Vec<Line> {
    let names: Vec<String> = attrs.iter().map(|a| yaml_name(kind, &a.field)).collect();
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let mut out = Vec::new();
    for (a, name) in attrs.iter().zip(&names) {
        let label = Label { name, width };
        let mut lines = blocks::entry(0, Some(label), a.before.as_ref(), a.after.as_ref(), a.bare);
        if let Some(first) = lines.first_mut() {
            first.text.push_str(&a.first_note);
        }
        if let Some(last) = lines.last_mut() {
            last.text.push_str(&a.last_note);
        }
        out.extend(lines);
    }
    out
}

impl Out {
    fn line(&mut self, s: &str) {
        self.text.push_str(s);
        self.text.push('\n');
    }

    fn paint(&self, s: &str, code: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    fn symbol(&self, s: &str) -> String {
        match s {
            "+" => self.paint(s, "32"),
            "-" => self.paint(s, "31"),
            "~" => self.paint(s, "33"),
            "-/+" => format!("{}{}{}", self.paint("-", "31"), "/", self.paint("+", "32")),
            other => other.to_string(),
        }
    }

    fn comment(&mut self, address: &str, rest: &str) {
        let addr = self.paint(address, "1");
        self.line(&format!("  # {addr} {rest}"));
    }

    /// `  ~ address {`, the attribute lines, `    }`.
    fn block(&mut self, symbol: &'static str, address: &str, lines: &[Line]) {
        let head = match symbol {
            "-/+" => format!("{} {address} {{", self.symbol(symbol)),
            "" => format!("    {address} {{"),
            s => format!("  {} {address} {{", self.symbol(s)),
        };
        self.line(&head);
        for l in lines {
            let text = l.render(|s| self.symbol(s));
            self.line(&text);
        }
        self.line("    }");
    }

    /// Attributes of a created (or deleted) entity: every field, all `+`
    /// (or all `-`).
    fn all_fields(kind: Kind, fields: &Map<String, Value>, created: bool) -> Vec<Attr> {
        fields
            .iter()
            .map(|(k, v)| {
                let v = Some(display_one(kind, k, v));
                let mut a = if created {
                    Attr::new(k, None, v)
                } else {
                    Attr::new(k, v, None)
                };
                // References are addresses, shown bare; a deleted entity's
                // reference to an unmanaged target stays its quoted id.
                a.bare = is_ref(kind, k) && v_is_address(fields.get(k));
                a
            })
            .collect()
    }

    /// Attributes of an update, replace or import: the field diffs, then the
    /// resets.
    fn diff_fields(c: &Change) -> Vec<Attr> {
        let kind = c.address.kind;
        let mut attrs = Vec::new();
        for d in &c.diff {
            let (before, after) = match (&d.before, &d.after) {
                (Some(b), Some(a)) => {
                    let (b, a) = display_pair(kind, &d.field, b, a);
                    (Some(b), Some(a))
                }
                (b, a) => (
                    b.as_ref().map(|v| display_one(kind, &d.field, v)),
                    a.as_ref().map(|v| display_one(kind, &d.field, v)),
                ),
            };
            let mut a = Attr::new(&d.field, before, after);
            a.bare = is_ref(kind, &d.field) && v_is_address(d.after.as_ref().or(d.before.as_ref()));
            if d.known_after_apply {
                a.first_note.push_str(" (known after apply)");
            }
            if d.forces_replacement {
                a.first_note.push_str(" # forces replacement");
            }
            attrs.push(a);
        }
        for r in &c.resets {
            let before = c
                .before
                .as_ref()
                .and_then(|b| b.get(r))
                .map(|v| display_one(kind, r, v))
                .unwrap_or(Value::Null);
            let mut a = Attr::new(r, Some(before), None);
            a.last_note = " -> null # reset to the server default".into();
            attrs.push(a);
        }
        attrs
    }

    fn change(&mut self, c: &Change) {
        let addr = c.address.to_string();
        let kind = c.address.kind;
        match c.action {
            Action::Create => {
                self.comment(&addr, "will be created");
                if c.reason == Some(Reason::DeletedOutside) {
                    self.line("  # (because it was deleted outside m3ter-reconcile)");
                }
                let attrs = c
                    .after
                    .as_ref()
                    .map(|a| Self::all_fields(kind, a, true))
                    .unwrap_or_default();
                self.block("+", &addr, &attr_lines(kind, &attrs));
            }
            Action::Update => {
                self.comment(&addr, "will be updated in-place");
                let attrs = Self::diff_fields(c);
                self.block("~", &addr, &attr_lines(kind, &attrs));
            }
            Action::Replace => {
                let rest = if c.adopted {
                    "must be replaced (it is adopted: the live entity is deleted and created again)"
                } else {
                    "must be replaced"
                };
                self.comment(&addr, rest);
                if c.reason == Some(Reason::ReplaceRequested) {
                    self.line("  # (because --replace asked for it)");
                }
                let attrs = Self::diff_fields(c);
                self.block("-/+", &addr, &attr_lines(kind, &attrs));
            }
            Action::Import => {
                // A singleton the org never wrote has no id yet.
                let id = c.id.as_ref().map(|id| {
                    let id = json!(id);
                    Attr::new("id", Some(id.clone()), Some(id))
                });
                let note = kind.is_singleton().then_some(
                    "  # (a singleton: every org has one, so it is adopted, never created)",
                );
                if c.import_with_changes() {
                    self.comment(&addr, "will be imported and updated in-place");
                    note.into_iter().for_each(|n| self.line(n));
                    let mut attrs: Vec<Attr> = id.into_iter().collect();
                    attrs.extend(Self::diff_fields(c));
                    self.block("~", &addr, &attr_lines(kind, &attrs));
                } else {
                    self.comment(&addr, "will be imported");
                    note.into_iter().for_each(|n| self.line(n));
                    let attrs: Vec<Attr> = id.into_iter().collect();
                    self.block("", &addr, &attr_lines(kind, &attrs));
                }
            }
            Action::Delete => {
                let rest = if c.adopted {
                    "will be destroyed (it was adopted by import)"
                } else {
                    "will be destroyed"
                };
                self.comment(&addr, rest);
                if c.reason == Some(Reason::RemovedFromDesired) {
                    self.line("  # (because it is no longer in the desired state)");
                }
                let attrs = c
                    .before
                    .as_ref()
                    .map(|b| Self::all_fields(kind, b, false))
                    .unwrap_or_default();
                self.block("-", &addr, &attr_lines(kind, &attrs));
            }
        }
    }

    /// The singletons the plan stops managing: no request, so no action
    /// block; one line each, as nothing else would tell.
    fn left_in_place(&mut self, plan: &Plan) {
        let mut any = false;
        for f in plan.forget.iter().filter(|f| f.left_in_place()) {
            let addr = f.address.to_string();
            self.comment(&addr, &format!("will be forgotten ({})", f.why()));
            any = true;
        }
        if any {
            self.line("");
        }
    }

    /// A drifted entity: from the last-applied values to the live ones.
    fn drift(&mut self, d: &Drift) {
        let addr = d.address.to_string();
        let Some(after) = &d.after else {
            self.comment(&addr, &format!("has been deleted (id {})", d.id));
            return;
        };
        self.comment(&addr, "has changed");
        let kind = d.address.kind;
        let attrs: Vec<Attr> = d
            .before
            .iter()
            .map(|(k, was)| match after.get(k).filter(|v| !v.is_null()) {
                Some(now) => {
                    let (now, was) = display_pair(kind, k, now, was);
                    Attr::new(k, Some(was), Some(now))
                }
                None => {
                    let mut a = Attr::new(k, Some(display_one(kind, k, was)), None);
                    a.last_note = " -> null".into();
                    a
                }
            })
            .collect();
        self.block("~", &addr, &attr_lines(kind, &attrs));
    }
}
