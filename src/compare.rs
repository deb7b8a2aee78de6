//! Two live orgs side by side (`m3ter compare`, `m3ter promote`).
//!
//! An org's configuration is read the way `m3ter export` writes it and
//! `m3ter plan` reads it back: request fields only, references as the
//! target's code, band ids dropped ([`crate::desired::export`]), then loaded
//! as desired state by the one loader (the same defaults, normalisation and
//! checks as YAML written by hand). So "A promoted to B" is exactly "export
//! A, plan B against it", and two orgs compare by address, whatever their
//! ids.
//!
//! Account-level entities (accounts, account plans, and whatever refers to
//! one, such as an account's custom plan and its pricings) are customer
//! data rather than configuration: [`Scope`] leaves them out unless asked.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::address::Address;
use crate::desired::{DesiredEntity, DesiredState, Diagnostics, VarInputs};
use crate::live::LiveSnapshot;
use crate::plan::compare::field_equal;
use m3ter_api::{Kind, Type};

/// The kinds that hold customers rather than configuration.
pub const ACCOUNT_LEVEL: [Kind; 2] = [Kind::Account, Kind::AccountPlan];

/// Which entities take part.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scope {
    /// Keep accounts, account plans and what refers to them.
    pub include_accounts: bool,
}

/// Why an org cannot be read as desired state.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// The temporary export could not be written.
    #[error("cannot write the export of {label} to {}: {source}", dir.display())]
    Io {
        label: String,
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The exported YAML does not load (each problem in `diagnostics`,
    /// at `<label>/<section>.yaml:line:column`).
    #[error("the configuration of {label} does not load as desired state ({} problem(s)): {}", diagnostics.len(), first(diagnostics))]
    Invalid {
        label: String,
        diagnostics: Diagnostics,
    },
}

fn first(d: &Diagnostics) -> String {
    d.iter().next().map(ToString::to_string).unwrap_or_default()
}

/// An org's configuration as desired state, plus the export's notes on
/// what it left out.
#[derive(Debug)]
pub struct Configuration {
    pub desired: DesiredState,
    /// Entities left out by the export (no code, say), with the reason.
    pub skipped: Vec<String>,
    /// Account-level entities left out by the scope.
    pub excluded: usize,
}

/// Reads `live` as desired state within `scope`. `label` names the org in
/// messages and in the (temporary) file names of diagnostics.
pub fn configuration(
    live: &LiveSnapshot,
    scope: Scope,
    label: &str,
) -> Result<Configuration, CompareError> {
    let (live, excluded) = if scope.include_accounts {
        (live.clone(), 0)
    } else {
        without_account_level(live)
    };
    let exported = crate::desired::export::export(&live);
    let dir = TempDir::new().map_err(|source| CompareError::Io {
        label: label.to_string(),
        dir: std::env::temp_dir(),
        source,
    })?;
    let mut wrote_any = false;
    for (kind, entities) in &exported.sections {
        let mut doc = Map::new();
        doc.insert(
            kind.section().to_string(),
            crate::desired::export::section_value(*kind, entities),
        );
        // A JSON value always serialises; an error would be a bug upstream.
        let yaml = serde_saphyr::to_string(&Value::Object(doc)).unwrap_or_default();
        let path = dir.0.join(format!("{}.yaml", kind.section()));
        std::fs::write(&path, yaml).map_err(|source| CompareError::Io {
            label: label.to_string(),
            dir: dir.0.clone(),
            source,
        })?;
        wrote_any = true;
    }
    let desired = if wrote_any {
        crate::desired::load(&dir.0, &VarInputs::default()).map_err(|diags| {
            CompareError::Invalid {
                label: label.to_string(),
                diagnostics: relabel(diags, &dir.0, label),
            }
        })?
    } else {
        // An empty org: the loader refuses a directory without YAML.
        DesiredState::default()
    };
    let mut desired = desired;
    // The files are gone once this returns: keep no position into them.
    for e in desired.entities.values_mut() {
        e.source = None;
    }
    desired.warnings.clear();
    Ok(Configuration {
        desired,
        skipped: exported.skipped,
        excluded,
    })
}

/// Diagnostics name `<label>/products.yaml` instead of the temporary file.
fn relabel(diags: Diagnostics, dir: &Path, label: &str) -> Diagnostics {
    let mut out = Diagnostics::default();
    for mut d in diags.iter().cloned() {
        if let Some(f) = &d.file
            && let Ok(rest) = f.strip_prefix(dir)
        {
            d.file = Some(Path::new(&format!("(export of {label})")).join(rest));
        }
        out.push(d);
    }
    out
}

/// A directory of its own under the system's temporary directory, removed
/// when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> std::io::Result<TempDir> {
        let base = std::env::temp_dir();
        let mut n = 0u32;
        loop {
            let path = base.join(format!("m3ter-export-{}-{n}", std::process::id()));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(TempDir(path)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `live` without account-level entities and without whatever refers to
/// one, directly or not; also returns how many were left out.
pub fn without_account_level(live: &LiveSnapshot) -> (LiveSnapshot, usize) {
    let mut dropped: HashSet<(Kind, String)> = HashSet::new();
    for kind in ACCOUNT_LEVEL {
        for e in live.of(kind) {
            if let Some(id) = e.get("id").and_then(Value::as_str) {
                dropped.insert((kind, id.to_string()));
            }
        }
    }
    // Until nothing new refers to a dropped entity (references are at
    // most as deep as there are kinds).
    loop {
        let mut more = Vec::new();
        for kind in Kind::ALL {
            for e in live.of(kind) {
                let Some(id) = e.get("id").and_then(Value::as_str) else {
                    continue;
                };
                if dropped.contains(&(kind, id.to_string())) {
                    continue;
                }
                let refers = kind.fields().iter().any(|f| match f.ty {
                    Type::Ref(target) => e
                        .get(f.name)
                        .and_then(Value::as_str)
                        .is_some_and(|t| dropped.contains(&(target, t.to_string()))),
                    Type::AnyRef(_) => kind.any_ref_target(f.name, e).is_some_and(|target| {
                        e.get(f.name)
                            .and_then(Value::as_str)
                            .is_some_and(|t| dropped.contains(&(target, t.to_string())))
                    }),
                    _ => false,
                });
                if refers {
                    more.push((kind, id.to_string()));
                }
            }
        }
        if more.is_empty() {
            break;
        }
        dropped.extend(more);
    }
    let mut out = BTreeMap::new();
    for kind in Kind::ALL {
        let kept: Vec<Value> = live
            .of(kind)
            .iter()
            .filter(|e| {
                let id = e.get("id").and_then(Value::as_str).unwrap_or_default();
                !dropped.contains(&(kind, id.to_string()))
            })
            .cloned()
            .collect();
        if !kept.is_empty() {
            out.insert(kind, kept);
        }
    }
    (LiveSnapshot::from_entities(out), dropped.len())
}

/// One field that differs between the two orgs (API name; a reference as
/// the target's address).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDifference {
    pub field: String,
    /// The value in the first org (`None`: not set).
    pub from: Option<Value>,
    /// The value in the second org.
    pub to: Option<Value>,
}

/// An entity both orgs have, with the fields that differ.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    pub address: Address,
    pub fields: Vec<FieldDifference>,
}

/// What differs between two configurations, by address.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Comparison {
    pub only_in_from: Vec<Address>,
    pub only_in_to: Vec<Address>,
    pub different: Vec<Difference>,
    /// Entities both have, equal.
    pub same: usize,
}

impl Comparison {
    /// Whether the two configurations match.
    pub fn is_empty(&self) -> bool {
        self.only_in_from.is_empty() && self.only_in_to.is_empty() && self.different.is_empty()
    }
}

/// Compares two configurations by address, field by field, with the
/// planner's notion of equal ([`field_equal`]) applied both ways: numbers
/// numerically, dates as instants, bands in `lowerLimit` order, an absent
/// value equal to the server's default.
pub fn compare(from: &DesiredState, to: &DesiredState) -> Comparison {
    let mut out = Comparison::default();
    for (addr, a) in &from.entities {
        match to.entities.get(addr) {
            None => out.only_in_from.push(addr.clone()),
            Some(b) => {
                let fields = entity_differences(a, b);
                if fields.is_empty() {
                    out.same += 1;
                } else {
                    out.different.push(Difference {
                        address: addr.clone(),
                        fields,
                    });
                }
            }
        }
    }
    out.only_in_to = to
        .entities
        .keys()
        .filter(|a| !from.entities.contains_key(*a))
        .cloned()
        .collect();
    out
}

fn entity_differences(a: &DesiredEntity, b: &DesiredEntity) -> Vec<FieldDifference> {
    let kind = a.address.kind;
    let names: BTreeSet<&String> = a
        .fields
        .keys()
        .chain(b.fields.keys())
        .chain(a.refs.keys())
        .chain(b.refs.keys())
        .collect();
    let mut out = Vec::new();
    for name in names {
        let value = |e: &DesiredEntity| {
            e.refs
                .get(name)
                .map(|t| Value::String(t.to_string()))
                .or_else(|| e.fields.get(name).filter(|v| !v.is_null()).cloned())
        };
        let (x, y) = (value(a), value(b));
        let equal = match (&x, &y) {
            (Some(x), Some(y)) => {
                field_equal(kind, name, x, Some(y)) && field_equal(kind, name, y, Some(x))
            }
            (Some(v), None) | (None, Some(v)) => field_equal(kind, name, v, None),
            (None, None) => true,
        };
        if !equal {
            out.push(FieldDifference {
                field: name.clone(),
                from: x,
                to: y,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn org(products: Vec<Value>, accounts: Vec<Value>, plans: Vec<Value>) -> LiveSnapshot {
        let mut live = LiveSnapshot::default();
        live.set(Kind::Product, products);
        live.set(Kind::Account, accounts);
        live.set(Kind::Plan, plans);
        live
    }

    #[test]
    fn account_level_entities_and_their_dependents_are_left_out() {
        let live = org(
            vec![json!({"id": "p1", "code": "p", "name": "P"})],
            vec![json!({"id": "a1", "code": "acme", "name": "A", "emailAddress": "a@b.c"})],
            vec![
                json!({"id": "x1", "code": "custom", "name": "C", "planTemplateId": "t", "accountId": "a1"}),
                json!({"id": "x2", "code": "std", "name": "S", "planTemplateId": "t"}),
            ],
        );
        let (kept, dropped) = without_account_level(&live);
        assert_eq!(dropped, 2);
        assert!(kept.of(Kind::Account).is_empty());
        let plans: Vec<&str> = kept
            .of(Kind::Plan)
            .iter()
            .filter_map(|p| p["code"].as_str())
            .collect();
        assert_eq!(plans, ["std"]);
        assert_eq!(kept.of(Kind::Product).len(), 1);
    }

    #[test]
    fn orgs_compare_by_address_whatever_their_ids() {
        let a = org(
            vec![
                json!({"id": "1", "code": "same", "name": "S"}),
                json!({"id": "2", "code": "renamed", "name": "Old"}),
                json!({"id": "3", "code": "only_a", "name": "A"}),
            ],
            vec![],
            vec![],
        );
        let b = org(
            vec![
                json!({"id": "9", "code": "same", "name": "S"}),
                json!({"id": "8", "code": "renamed", "name": "New"}),
                json!({"id": "7", "code": "only_b", "name": "B"}),
            ],
            vec![],
            vec![],
        );
        let ca = configuration(&a, Scope::default(), "a").expect("a loads");
        let cb = configuration(&b, Scope::default(), "b").expect("b loads");
        let c = compare(&ca.desired, &cb.desired);
        assert_eq!(c.only_in_from, [Address::new(Kind::Product, "only_a")]);
        assert_eq!(c.only_in_to, [Address::new(Kind::Product, "only_b")]);
        assert_eq!(c.same, 1);
        assert_eq!(c.different.len(), 1);
        assert_eq!(
            c.different[0].fields,
            [FieldDifference {
                field: "name".into(),
                from: Some(json!("Old")),
                to: Some(json!("New"))
            }]
        );
        assert!(compare(&ca.desired, &ca.desired).is_empty());
    }

    #[test]
    fn an_empty_org_is_an_empty_configuration() {
        let c = configuration(&LiveSnapshot::default(), Scope::default(), "e").expect("loads");
        assert!(c.desired.entities.is_empty());
    }
}
