//! The rule set of `m3ter_api::rules`, applied offline: every desired entity
//! is checked against the rest of the desired state before any request, and
//! each finding is reported at the position of the field it names.
//!
//! Offline, a reference value is the target's key (its code, or the
//! composite key of a pricing or account plan), so a body here is what the
//! emulator would receive with each id replaced by the key of the entity it
//! names.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::convert::{Converted, written_references, yaml_names};
use super::diagnostic::{Diagnostic, Diagnostics};
use crate::address::Address;
use m3ter_api::Kind;
use m3ter_api::rules::{Body, Catalog, Finding, Severity, Subject, check};

/// Fields the rules look siblings up by ([`Catalog::each_where`]): indexed,
/// so a rule run on each of 10,000 account plans does not scan them all.
const INDEXED: [(Kind, &str); 7] = [
    (Kind::AccountPlan, "accountId"),
    (Kind::Commitment, "accountId"),
    // Pricing windows: a pricing's siblings, and an account plan's pricings.
    (Kind::Pricing, "planId"),
    (Kind::Pricing, "planTemplateId"),
    (Kind::CounterPricing, "planId"),
    (Kind::CounterPricing, "planTemplateId"),
    (Kind::PlanGroupLink, "planGroupId"),
];

/// The desired state as the rules see it: per kind, key → body. The
/// bodies are the entities' own fields (see [`with_refs`]), borrowed: a
/// copy of a 40,000-entity state took a quarter of `validate`'s memory.
pub(crate) struct Offline<'a> {
    bodies: BTreeMap<Kind, BTreeMap<&'a str, &'a Body>>,
    /// For each of [`INDEXED`]: field value → keys of the entities with it.
    by_field: HashMap<(Kind, &'static str), HashMap<&'a str, Vec<&'a str>>>,
}

impl<'a> Offline<'a> {
    /// The catalog of `entities`, each with its body: its fields with its
    /// references written in by [`with_refs`].
    pub(crate) fn new(entities: impl IntoIterator<Item = (&'a Address, &'a Body)>) -> Self {
        let mut bodies: BTreeMap<Kind, BTreeMap<&'a str, &'a Body>> = BTreeMap::new();
        for (address, body) in entities {
            bodies
                .entry(address.kind)
                .or_default()
                .insert(address.key.as_str(), body);
        }
        let mut by_field: HashMap<(Kind, &'static str), HashMap<&'a str, Vec<&'a str>>> =
            HashMap::new();
        for (kind, field) in INDEXED {
            let index = by_field.entry((kind, field)).or_default();
            for (key, body) in bodies.get(&kind).into_iter().flatten() {
                if let Some(v) = body.get(field).and_then(Value::as_str) {
                    index.entry(v).or_default().push(key);
                }
            }
        }
        Offline { bodies, by_field }
    }

    fn body(&self, address: &Address) -> Option<&Body> {
        self.bodies
            .get(&address.kind)?
            .get(address.key.as_str())
            .copied()
    }
}

/// What [`with_refs`] replaced, for [`without_refs`].
pub(crate) type Saved = Vec<(String, Option<Value>)>;

/// Writes each reference field into `fields` as its target's key: the body
/// apply would send, offline. In place, for the time of the checks;
/// [`without_refs`] puts the fields back as they were.
pub(crate) fn with_refs(fields: &mut Body, refs: &super::Refs) -> Saved {
    if !refs.is_empty() {
        // Room for the references first: inserting into a full map would
        // double it, for 40,000 entities at once.
        let mut roomy = Body::with_capacity(fields.len() + refs.len());
        roomy.extend(std::mem::take(fields));
        *fields = roomy;
    }
    refs.iter()
        .map(|(field, target)| {
            let before = fields.insert(field.clone(), Value::String(target.key.clone()));
            (field.clone(), before)
        })
        .collect()
}

/// Undoes [`with_refs`]: the fields as they were, in their order, in a map
/// of their exact size (the insertions may have doubled its room).
pub(crate) fn without_refs(fields: &mut Body, saved: Saved) {
    for (field, before) in saved.into_iter().rev() {
        match before {
            Some(v) => {
                fields.insert(field, v);
            }
            None => {
                fields.shift_remove(&field);
            }
        }
    }
    *fields = crate::live::exact_map(std::mem::take(fields));
}

impl Catalog for Offline<'_> {
    fn get(&self, kind: Kind, reference: &str) -> Option<&Body> {
        self.bodies.get(&kind)?.get(reference).copied()
    }

    fn each(&self, kind: Kind) -> Vec<(&str, &Body)> {
        self.bodies
            .get(&kind)
            .into_iter()
            .flatten()
            .map(|(k, b)| (*k, *b))
            .collect()
    }

    /// Offline, a kind with an identity code is keyed by it: no scan.
    fn by_code(&self, kind: Kind, code: &str) -> Option<(&str, &Body)> {
        if !kind.has_identity_code() {
            return self
                .each(kind)
                .into_iter()
                .find(|(_, b)| b.get("code").and_then(Value::as_str) == Some(code));
        }
        let (key, body) = self.bodies.get(&kind)?.get_key_value(code)?;
        Some((*key, *body))
    }

    fn each_where(&self, kind: Kind, field: &str, value: &str) -> Vec<(&str, &Body)> {
        let Some(index) = self.by_field.get(&(kind, field)) else {
            return self
                .each(kind)
                .into_iter()
                .filter(|(_, b)| b.get(field).and_then(Value::as_str) == Some(value))
                .collect();
        };
        let Some(bodies) = self.bodies.get(&kind) else {
            return Vec::new();
        };
        index
            .get(value)
            .into_iter()
            .flatten()
            .filter_map(|key| Some((*key, *bodies.get(key)?)))
            .collect()
    }
}

/// What the rules found in the desired state: errors stop the command,
/// warnings are printed and the command goes on.
#[derive(Default)]
pub(crate) struct Checked {
    pub errors: Diagnostics,
    pub warnings: Vec<Diagnostic>,
}

/// Runs every rule on every entity of `catalog`; `entities` gives each
/// address its file and converted form (for positions).
pub(crate) fn check_all<'a>(
    catalog: &Offline<'_>,
    entities: impl IntoIterator<Item = (&'a Address, &'a PathBuf, &'a Converted)>,
) -> Checked {
    let mut out = Checked::default();
    let entities: Vec<_> = entities.into_iter().collect();
    // Where each entity is written, for findings about a conflict with
    // another one (both places are named).
    let written: BTreeMap<&Address, (&PathBuf, &Converted)> =
        entities.iter().map(|(a, f, c)| (*a, (*f, *c))).collect();
    for (address, file, c) in entities.iter().copied() {
        let Some(body) = catalog.body(address) else {
            continue;
        };
        let subject = Subject {
            kind: address.kind,
            body,
            own: Some(&address.key),
        };
        for finding in check(&subject, catalog)
            .into_iter()
            .filter(|f| !left_to_graph(f))
        {
            let mut d = diagnostic(file, c, &finding);
            d.message.push_str(&where_written(&finding, &written));
            match finding.severity {
                Severity::Error => out.errors.push(d),
                Severity::Warning => out.warnings.push(d),
            }
        }
    }
    let mut warnings = Diagnostics(std::mem::take(&mut out.warnings));
    warnings.sort();
    out.warnings = warnings.0;
    out
}

/// Where the other entities a finding names are written: ` (that
/// commitment is at f:l:c)` for one, ` (pricing `a` is at f:l:c; pricing
/// `b` is at f:l:c)` for several; nothing for those not written (live only).
fn where_written(
    finding: &Finding,
    written: &BTreeMap<&Address, (&PathBuf, &Converted)>,
) -> String {
    let places: Vec<(Kind, &str, String)> = finding
        .others
        .iter()
        .filter_map(|(kind, key)| {
            let (file, c) = written.get(&Address::new(*kind, key.clone()))?;
            let at = format!("{}:{}:{}", file.display(), c.pos.line, c.pos.column);
            Some((*kind, key.as_str(), at))
        })
        .collect();
    match places.as_slice() {
        [] => String::new(),
        [(kind, _, at)] if finding.others.len() == 1 => format!(" (that {kind} is at {at})"),
        _ => {
            let each: Vec<String> = places
                .iter()
                .map(|(kind, key, at)| format!("{kind} `{key}` is at {at}"))
                .collect();
            format!(" ({})", each.join("; "))
        }
    }
}

/// Rules whose offline form is the graph's cycle check: a parent loop in
/// the desired state is a dependency cycle, which `Graph::build` reports
/// whole, at every entity of the loop.
const LEFT_TO_GRAPH: &[&str] = &["account.parentLoop"];

fn left_to_graph(f: &Finding) -> bool {
    LEFT_TO_GRAPH.contains(&f.rule)
}

/// A finding at the position of the value its path names (a reference
/// field at its code), or of the closest written parent, or of the entity.
fn diagnostic(file: &Path, c: &Converted, f: &Finding) -> Diagnostic {
    let pos = if f.path.is_empty() {
        c.pos
    } else {
        c.ref_for(&f.path)
            .map_or_else(|| c.pos_of(&f.path), |r| r.pos)
    };
    let references = written_references(c.kind);
    Diagnostic::at(
        file,
        pos,
        format!("{}: {}", c.kind, yaml_names(&f.message, &references)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_left_to_the_graph_are_rules() {
        for name in LEFT_TO_GRAPH {
            assert!(
                m3ter_api::rules::RULES
                    .iter()
                    .any(|(rule, _, _)| rule == name),
                "{name} is not in m3ter_api::rules::RULES"
            );
        }
    }
}
