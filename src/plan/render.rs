//! Rendering a [`Plan`]: Terraform-like text for people (colors only when
//! asked) and one JSON document for machines (`shared/design.md` §4).

use serde_json::{Map, Value, json};
use similar::{ChangeTag, TextDiff};

use super::{Action, Change, Drift, Plan, Reason};
use crate::api::Kind;
use crate::api::schema::Type;

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
    } else if plan.changes.is_empty() {
        out.line(NO_CHANGES);
    } else {
        out.line(ACTIONS_HEADER);
        out.line("");
        for c in &plan.changes {
            out.change(c);
        }
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
    if !plan.warnings.is_empty() {
        doc["warnings"] = json!(plan.warnings);
    }
    doc
}

struct Out {
    text: String,
    color: bool,
}

/// One attribute line of a block: symbol (or none), name, rendered value.
struct Attr {
    symbol: &'static str,
    name: String,
    value: Vec<String>,
}

fn is_ref(kind: Kind, field: &str) -> bool {
    matches!(kind.field(field).map(|f| f.ty), Some(Type::Ref(_)))
}

/// A value as text; a reference (an address in `after`) is written bare.
fn scalar(v: &Value, bare: bool) -> String {
    match v {
        Value::String(s) if bare => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

fn multiline(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str).filter(|s| s.contains('\n'))
}

/// A value as people should compare it: object keys sorted, integral
/// floats written as integers (`100.0` → `100`).
fn canonical(v: &Value) -> Value {
    match v {
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

/// The live and desired values of a field as shown in a diff: only what is
/// compared (live restricted to the keys desired sets, bands sorted).
fn display_pair(kind: Kind, field: &str, live: &Value, desired: &Value) -> (Value, Value) {
    let (before, after) = (live, desired);
    if kind == Kind::Pricing && matches!(field, "pricingBands" | "overagePricingBands") {
        return (
            canonical(&display_bands(before)),
            canonical(&display_bands(after)),
        );
    }
    let schema_object = match kind.field(field).map(|f| f.ty) {
        Some(Type::Object(_)) => true,
        Some(Type::Array { item, .. }) => matches!(item, Type::Object(_)),
        _ => false,
    };
    let before = if schema_object {
        restrict(before, after)
    } else {
        before.clone()
    };
    (canonical(&before), canonical(after))
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

fn structured(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Array(a)) if !a.is_empty())
        || matches!(v, Some(Value::Object(o)) if !o.is_empty())
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

    /// `  ~ address {`, the attributes with `=` aligned, `    }`.
    fn block(&mut self, symbol: &'static str, address: &str, attrs: &[Attr]) {
        let head = match symbol {
            "-/+" => format!("{} {address} {{", self.symbol(symbol)),
            "" => format!("    {address} {{"),
            s => format!("  {} {address} {{", self.symbol(s)),
        };
        self.line(&head);
        let width = attrs.iter().map(|a| a.name.len()).max().unwrap_or(0);
        for a in attrs {
            let lead = if a.symbol.is_empty() {
                "        ".to_string()
            } else {
                format!("      {} ", self.symbol(a.symbol))
            };
            let mut lines = a.value.iter();
            let first = lines.next().map(String::as_str).unwrap_or("");
            self.line(&format!("{lead}{:width$} = {first}", a.name));
            for rest in lines {
                self.line(rest);
            }
        }
        self.line("    }");
    }

    /// A multi-line string, or a change of one, as a heredoc diffed line by
    /// line.
    fn heredoc(&self, before: Option<&str>, after: Option<&str>) -> Vec<String> {
        let mut out = vec!["<<-EOT".to_string()];
        let diff = TextDiff::from_lines(before.unwrap_or(""), after.unwrap_or(""));
        for change in diff.iter_all_changes() {
            let text = change.value().trim_end_matches('\n');
            let prefix = match change.tag() {
                ChangeTag::Equal => "  ".to_string(),
                ChangeTag::Delete => format!("{} ", self.symbol("-")),
                ChangeTag::Insert => format!("{} ", self.symbol("+")),
            };
            out.push(format!("          {prefix}{text}"));
        }
        out.push("        EOT".to_string());
        out
    }

    /// A structured value on several lines (create and delete blocks).
    fn json_lines(&self, v: &Value) -> Vec<String> {
        let text = pretty(&canonical(v));
        let lines: Vec<&str> = text.lines().collect();
        let last = lines.len().saturating_sub(1);
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| match i {
                0 => (*l).to_string(),
                i if i == last => format!("        {l}"),
                _ => format!("            {l}"),
            })
            .collect()
    }

    /// Two structured values of the same shape as a line diff of their
    /// pretty JSON; `None` when the shapes differ (the caller then writes
    /// `before -> after` on one line).
    fn json_diff(&self, before: &Value, after: &Value) -> Option<Vec<String>> {
        let (b, a) = (pretty(before), pretty(after));
        let diff = TextDiff::from_lines(&b, &a);
        let changes: Vec<_> = diff.iter_all_changes().collect();
        let (first, last) = (changes.first()?, changes.last()?);
        if first.tag() != ChangeTag::Equal || last.tag() != ChangeTag::Equal || changes.len() < 2 {
            return None;
        }
        let mut out = vec![first.value().trim_end().to_string()];
        for c in &changes[1..changes.len() - 1] {
            let text = c.value().trim_end_matches('\n');
            let prefix = match c.tag() {
                ChangeTag::Equal => "  ".to_string(),
                ChangeTag::Delete => format!("{} ", self.symbol("-")),
                ChangeTag::Insert => format!("{} ", self.symbol("+")),
            };
            out.push(format!("          {prefix}{text}"));
        }
        out.push(format!("        {}", last.value().trim_end()));
        Some(out)
    }

    /// Attributes of a created (or deleted) entity: every field, one symbol.
    fn all_fields(
        &self,
        symbol: &'static str,
        kind: Kind,
        fields: &Map<String, Value>,
        refs_bare: bool,
    ) -> Vec<Attr> {
        fields
            .iter()
            .map(|(k, v)| {
                let value = match multiline(Some(v)) {
                    Some(s) if symbol == "-" => self.heredoc(Some(s), None),
                    Some(s) => self.heredoc(None, Some(s)),
                    None if structured(Some(v)) => self.json_lines(v),
                    None => vec![scalar(v, refs_bare && is_ref(kind, k))],
                };
                Attr {
                    symbol,
                    name: k.clone(),
                    value,
                }
            })
            .collect()
    }

    /// The text of a `before -> after` change of one field: a line diff for
    /// structured values and multi-line strings, else one line. The live
    /// side (`before` when `live_is_before`) is shown restricted to what is
    /// compared. `after_text` overrides how `after` is written.
    fn change_lines(
        &self,
        kind: Kind,
        field: &str,
        before: Option<&Value>,
        after: Option<&Value>,
        live_is_before: bool,
        after_text: Option<String>,
    ) -> Vec<String> {
        if let (Some(b), Some(a)) = (before, after)
            && (structured(Some(b)) || structured(Some(a)))
        {
            let (b, a) = if live_is_before {
                display_pair(kind, field, b, a)
            } else {
                let (live, wanted) = display_pair(kind, field, a, b);
                (wanted, live)
            };
            // Different shapes (`[]` -> a list): one line, still normalised.
            return self.json_diff(&b, &a).unwrap_or_else(|| {
                vec![format!("{} -> {}", scalar(&b, false), scalar(&a, false))]
            });
        }
        if multiline(before).is_some() || multiline(after).is_some() {
            return self.heredoc(
                before.and_then(Value::as_str),
                after.and_then(Value::as_str),
            );
        }
        let after = after_text.unwrap_or_else(|| {
            after
                .map(|v| scalar(v, false))
                .unwrap_or_else(|| "null".to_string())
        });
        match before {
            None => vec![after],
            Some(b) => vec![format!("{} -> {after}", scalar(b, false))],
        }
    }

    /// Attributes of an update, replace or import: the field diffs, then the
    /// resets.
    fn diff_fields(&self, c: &Change) -> Vec<Attr> {
        let kind = c.address.kind;
        let mut attrs = Vec::new();
        for d in &c.diff {
            let symbol = match (&d.before, &d.after) {
                (None, _) => "+",
                (_, None) => "-",
                _ => "~",
            };
            let after_text = d.after.as_ref().map(|v| {
                let mut t = scalar(v, is_ref(kind, &d.field));
                if d.known_after_apply {
                    t.push_str(" (known after apply)");
                }
                t
            });
            let mut value = self.change_lines(
                kind,
                &d.field,
                d.before.as_ref(),
                d.after.as_ref(),
                true,
                after_text,
            );
            if d.forces_replacement
                && let Some(first) = value.first_mut()
            {
                first.push_str(" # forces replacement");
            }
            attrs.push(Attr {
                symbol,
                name: d.field.clone(),
                value,
            });
        }
        for r in &c.resets {
            let before = c
                .before
                .as_ref()
                .and_then(|b| b.get(r))
                .map(|v| scalar(v, false))
                .unwrap_or_else(|| "null".to_string());
            attrs.push(Attr {
                symbol: "-",
                name: r.clone(),
                value: vec![format!("{before} -> null # reset to the server default")],
            });
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
                    .map(|a| self.all_fields("+", kind, a, true))
                    .unwrap_or_default();
                self.block("+", &addr, &attrs);
            }
            Action::Update => {
                self.comment(&addr, "will be updated in-place");
                let attrs = self.diff_fields(c);
                self.block("~", &addr, &attrs);
            }
            Action::Replace => {
                let rest = if c.adopted {
                    "must be replaced (it is adopted: the live entity is deleted and created again)"
                } else {
                    "must be replaced"
                };
                self.comment(&addr, rest);
                let attrs = self.diff_fields(c);
                self.block("-/+", &addr, &attrs);
            }
            Action::Import => {
                let id = Attr {
                    symbol: "",
                    name: "id".to_string(),
                    value: vec![scalar(&json!(c.id), false)],
                };
                if c.import_with_changes() {
                    self.comment(&addr, "will be imported and updated in-place");
                    let mut attrs = vec![id];
                    attrs.extend(self.diff_fields(c));
                    self.block("~", &addr, &attrs);
                } else {
                    self.comment(&addr, "will be imported");
                    self.block("", &addr, &[id]);
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
                    .map(|b| self.all_fields("-", kind, b, false))
                    .unwrap_or_default();
                self.block("-", &addr, &attrs);
            }
        }
    }

    fn drift(&mut self, d: &Drift) {
        let addr = d.address.to_string();
        let Some(after) = &d.after else {
            self.comment(&addr, &format!("has been deleted (id {})", d.id));
            return;
        };
        self.comment(&addr, "has changed");
        let addr_kind = d.address.kind;
        let attrs: Vec<Attr> = d
            .before
            .iter()
            .map(|(k, was)| {
                let now = after.get(k).filter(|v| !v.is_null());
                let value = self.change_lines(addr_kind, k, Some(was), now, false, None);
                Attr {
                    symbol: if now.is_some() { "~" } else { "-" },
                    name: k.clone(),
                    value,
                }
            })
            .collect();
        self.block("~", &addr, &attrs);
    }
}
