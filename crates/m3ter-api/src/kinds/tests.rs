//! Checks of the kind table itself: what every entry must satisfy so that
//! what derives from it (routes, the loader, the planner) stays sound.

use super::*;
use crate::identity::{AdoptParam, Key, Part};

#[test]
fn the_table_is_in_kind_order() {
    for (i, spec) in SPECS.iter().enumerate() {
        assert_eq!(spec.kind as usize, i, "{}", spec.name);
        assert_eq!(Kind::ALL[i], spec.kind);
        assert_eq!(spec.kind.spec().name, spec.name);
    }
}

#[test]
fn names_round_trip() {
    for k in Kind::ALL {
        assert_eq!(Kind::from_name(k.name()), Some(k));
        assert_eq!(Kind::from_section(k.section()), Some(k));
        assert_eq!(Kind::from_collection(k.collection()), Some(k));
        // serde and addresses use the same name.
        assert_eq!(serde_json::to_value(k).unwrap(), Value::from(k.name()));
    }
}

#[test]
fn names_are_unique() {
    for (i, a) in SPECS.iter().enumerate() {
        for b in &SPECS[..i] {
            assert_ne!(a.name, b.name);
            assert_ne!(a.section, b.section);
            assert_ne!(a.collection, b.collection);
        }
    }
}

#[test]
fn reference_keys_drop_the_id_suffix() {
    let refs = Kind::Plan.references();
    let keys: Vec<_> = refs.iter().map(|r| r.yaml_key).collect();
    assert_eq!(
        keys,
        [
            "planTemplate",
            "standingChargeAccountingProduct",
            "minimumSpendAccountingProduct",
            "account"
        ]
    );
    assert_eq!(Kind::Account.references()[0].yaml_key, "parentAccount");
}

#[test]
fn every_reference_target_is_a_kind_of_the_table() {
    for k in Kind::ALL {
        for r in k.references() {
            assert!(SPECS.iter().any(|s| s.kind == r.target), "{k}.{}", r.field);
        }
    }
}

/// A reference to one of several kinds names a kind field of its own kind,
/// and targets keyed by code that come before it (creation order).
#[test]
fn any_kind_references_point_back_at_code_keyed_kinds() {
    for k in Kind::ALL {
        for (field, any) in k.any_refs() {
            assert!(k.field(any.kind_field).is_some(), "{k}.{field}");
            assert!(!any.kinds.is_empty(), "{k}.{field}");
            for (target, name) in any.kinds {
                assert!(target.has_identity_code(), "{k}.{field} -> {target}");
                assert!(*target < k, "{k}.{field} -> {target}");
                assert_eq!(any.kind_named(name), Some(*target));
            }
        }
    }
}

#[test]
fn references_come_before_their_dependents_in_all() {
    for k in Kind::ALL {
        for r in k.references() {
            // Self-references (parentAccount) and the account of a bespoke
            // plan or plan group are the only forward edges.
            let bespoke = matches!(k, Kind::Plan | Kind::PlanGroup) && r.target == Kind::Account;
            let ok = r.target <= k || bespoke;
            assert!(ok, "{k} -> {}", r.target);
        }
    }
}

/// Every field name the table mentions outside the schema is a field of
/// the schema (or, for response-only fields, not one).
#[test]
fn table_fields_name_schema_fields() {
    for spec in SPECS {
        let k = spec.kind;
        let known = |f: &str| k.field(f).is_some();
        for f in spec.immutable.iter().chain(spec.write_only) {
            assert!(known(f), "{k}: {f}");
        }
        for path in spec.sensitive {
            assert!(
                crate::schema::path_is_string(k.fields(), path),
                "{k}: sensitive {path} is no string field"
            );
        }
        for f in spec.response_only {
            assert!(
                !known(f) || *f == "segments",
                "{k}: response-only {f} is a request field"
            );
        }
        for (a, b) in spec.exactly_one_of {
            assert!(known(a) && known(b), "{k}: {a}/{b}");
        }
        for d in spec.defaults {
            assert!(known(d.field), "{k}: default of {}", d.field);
        }
        for f in spec.identity.key_fields() {
            assert!(known(f), "{k}: key field {f}");
        }
        for group in spec.identity.scope {
            for f in *group {
                assert!(k.ref_target(f).is_some(), "{k}: scope {f} is no reference");
            }
        }
        for filter in spec.filters {
            match filter.matches {
                Match::Field(f) => assert!(
                    f == "id" || known(f) || spec.response_only.contains(&f),
                    "{k}: filter {f}"
                ),
                Match::Via { via, field } => {
                    let target = k.ref_target(via).expect("via a reference");
                    assert!(target.field(field).is_some(), "{k}: via {via}.{field}");
                }
                Match::IncludeAll { scope } => {
                    assert!(k.filter(scope).is_some(), "{k}: includeall scope {scope}")
                }
                Match::Flag(f) => assert!(
                    k.field(f).is_some_and(|f| matches!(f.ty, Type::Bool)),
                    "{k}: flag {f} is no boolean field"
                ),
                Match::ActiveAt => {}
            }
            if let Some(n) = filter.needs {
                assert!(k.filter(n).is_some(), "{k}: {} needs {n}", filter.param);
            }
        }
    }
}

#[test]
fn adoption_uses_documented_filters_of_key_or_code_fields() {
    for spec in SPECS {
        let k = spec.kind;
        for p in spec.identity.adopt {
            let (AdoptParam::Field { param, .. } | AdoptParam::Fixed { param, .. }) = *p;
            assert!(
                k.filter(param).is_some(),
                "{k}: adopt by undocumented `{param}`"
            );
        }
    }
}

#[test]
fn code_kinds_require_code_and_composite_kinds_have_date_parts() {
    for spec in SPECS {
        let k = spec.kind;
        match spec.identity.key {
            Key::Code => assert!(k.field("code").is_some(), "{k}"),
            Key::CodeOr(parts) => {
                // A kind with a code has a date in its composite key (a
                // plan's pricings follow each other in time); one without
                // (plan group links) is identified by its parts alone.
                let dated = parts.iter().any(|p| matches!(p, Part::Date(_)));
                assert!(dated || k.field("code").is_none(), "{k}");
                assert!(!k.has_identity_code());
            }
            Key::Singleton(_) => assert!(spec.singleton, "{k}"),
        }
        if spec.singleton {
            assert!(matches!(spec.identity.key, Key::Singleton(_)), "{k}");
        }
    }
}

/// Each default is written once: one entry per field, and only pricing's
/// server defaults and the meter's `derivedFields` exist today.
#[test]
fn defaults_are_declared_once() {
    let mut all = Vec::new();
    for spec in SPECS {
        for d in spec.defaults {
            assert!(
                !all.contains(&(spec.kind, d.field)),
                "{}.{}",
                spec.kind,
                d.field
            );
            all.push((spec.kind, d.field));
        }
    }
    assert_eq!(
        Kind::Meter.default_of("derivedFields", DefaultBy::Tool),
        Some(Value::Array(Vec::new()))
    );
    assert_eq!(
        Kind::Meter.default_of("derivedFields", DefaultBy::Server),
        None
    );
    assert_eq!(
        Kind::Pricing.default_of("cumulative", DefaultBy::Server),
        Some(Value::Bool(true))
    );
    assert_eq!(
        Kind::Pricing.default_of("type", DefaultBy::Server),
        Some(Value::from("DEBIT"))
    );
    // A tool default is for a field the API requires; a server default for
    // one it does not.
    for spec in SPECS {
        for d in spec.defaults {
            let required = spec.kind.field(d.field).is_some_and(|f| f.required);
            assert_eq!(
                required,
                d.by == DefaultBy::Tool,
                "{}.{}",
                spec.kind,
                d.field
            );
        }
    }
}
