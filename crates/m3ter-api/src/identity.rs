//! Identity of entities (`shared/design.md` §3.3): the key an entity is
//! addressed by, the key fields whose change is a replace, and how a create
//! whose reply was lost is found again. Written once, over the kind table,
//! for both sides: a desired entity (references as codes) and a live one
//! (references as ids, resolved to codes by the caller).

use serde_json::{Map, Value};

use crate::kinds::{Kind, KindSpec};
use crate::validate::parse_date_time;

/// How a kind is keyed and found again.
#[derive(Debug, Clone, Copy)]
pub struct Identity {
    pub key: Key,
    /// The list query that narrows the search for a lost create.
    pub adopt: &'static [AdoptParam],
    /// Groups of reference fields (alternatives within a group) whose
    /// targets scope a server-side conflict: a create waits for the deletes
    /// of entities of its kind with the same targets (one active account
    /// plan per product of an account; one pricing per plan and
    /// aggregation at a time).
    pub scope: &'static [&'static [&'static str]],
}

/// The format of a key.
#[derive(Debug, Clone, Copy)]
pub enum Key {
    /// The entity's `code` (required by the tool even where the API makes
    /// it optional).
    Code,
    /// The entity's own `code` when it has one, else these parts joined.
    CodeOr(&'static [Part]),
    /// One entity per org, always under this key.
    Singleton(&'static str),
}

/// One part of a composite key.
#[derive(Debug, Clone, Copy)]
pub enum Part {
    /// Literal text (a separator).
    Text(&'static str),
    /// Exactly one of these fields is set: its prefix, then the code of the
    /// entity it references (a plain field: its own string value).
    OneOf(&'static [Alt]),
    /// The UTC date (`YYYY-MM-DD`) of a date or date-time field.
    Date(&'static str),
    /// `#k=v,k2=v2` (sorted keys) when the map field is set and not empty.
    Segment(&'static str),
}

/// One alternative of [`Part::OneOf`].
#[derive(Debug, Clone, Copy)]
pub struct Alt {
    pub field: &'static str,
    pub prefix: &'static str,
}

/// One query parameter of the adoption lookup.
#[derive(Debug, Clone, Copy)]
pub enum AdoptParam {
    /// `param` = the create body's string `field`, when it has one.
    Field {
        param: &'static str,
        field: &'static str,
    },
    /// `param` = a fixed value.
    Fixed {
        param: &'static str,
        value: &'static str,
    },
}

/// What a key is computed from.
pub trait KeySource {
    /// The value of a field (API name).
    fn value(&self, field: &str) -> Option<&Value>;
    /// The code of the entity of kind `target` that reference field `field`
    /// points at.
    fn code(&self, field: &str, target: Kind) -> Option<&str>;
}

impl Identity {
    /// Whether the key is the `code` alone.
    pub const fn requires_code(&self) -> bool {
        matches!(self.key, Key::Code)
    }

    /// The fields the composite key is made of, in key order: a change to
    /// one of them is a replace.
    pub fn key_fields(&self) -> Vec<&'static str> {
        let Key::CodeOr(parts) = self.key else {
            return Vec::new();
        };
        parts
            .iter()
            .flat_map(|p| match p {
                Part::Text(_) => Vec::new(),
                Part::OneOf(alts) => alts.iter().map(|a| a.field).collect(),
                Part::Date(f) | Part::Segment(f) => vec![*f],
            })
            .collect()
    }
}

/// The key of an entity of `kind` (design §3.3), or `None` when a field it
/// needs is missing or ambiguous.
pub fn key_of(kind: Kind, src: &impl KeySource) -> Option<String> {
    key_with(kind.spec(), src)
}

fn key_with(spec: &KindSpec, src: &impl KeySource) -> Option<String> {
    let code = match src.value("code") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return None,
    };
    match spec.identity.key {
        Key::Singleton(key) => Some(key.to_owned()),
        Key::Code => code,
        Key::CodeOr(parts) => code.or_else(|| composite(spec, parts, src)),
    }
}

fn composite(spec: &KindSpec, parts: &[Part], src: &impl KeySource) -> Option<String> {
    let mut key = String::new();
    for part in parts {
        match part {
            Part::Text(t) => key.push_str(t),
            Part::OneOf(alts) => {
                let mut set = alts.iter().filter_map(|a| {
                    let value = match spec.fields.iter().find(|f| f.name == a.field)?.ty {
                        crate::Type::Ref(target) => src.code(a.field, target).map(str::to_owned),
                        // The target's address: its kind is in the kind field.
                        crate::Type::AnyRef(any) => {
                            let name = src.value(any.kind_field)?.as_str()?;
                            let target = any.kind_named(name)?;
                            src.code(a.field, target).map(|c| format!("{target}.{c}"))
                        }
                        _ => src
                            .value(a.field)
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                    };
                    value.map(|v| (a.prefix, v))
                });
                let (prefix, value) = set.next()?;
                if set.next().is_some() {
                    return None;
                }
                key.push_str(prefix);
                key.push_str(&value);
            }
            Part::Date(f) => key.push_str(&utc_date(src.value(f)?.as_str()?)),
            Part::Segment(f) => {
                if let Some(seg) = src.value(f).and_then(Value::as_object) {
                    key.push_str(&segment_suffix(seg));
                }
            }
        }
    }
    Some(key)
}

/// `#k=v,k2=v2` with sorted keys, or nothing for an empty segment.
fn segment_suffix(seg: &Map<String, Value>) -> String {
    if seg.is_empty() {
        return String::new();
    }
    let mut parts: Vec<String> = seg
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.as_str().map_or_else(|| v.to_string(), str::to_string)
            )
        })
        .collect();
    parts.sort();
    format!("#{}", parts.join(","))
}

/// The UTC date (`YYYY-MM-DD`) of a date or date-time string; other text is
/// returned as is (its first ten characters).
pub fn utc_date(s: &str) -> String {
    match parse_date_time(s) {
        Some(t) => t.format("%Y-%m-%d").to_string(),
        None => s.get(..10).unwrap_or(s).to_string(),
    }
}

/// The list query that finds the entity a create request `body` would have
/// made (possibly among others).
pub fn adopt_query(kind: Kind, body: &Map<String, Value>) -> Vec<(&'static str, String)> {
    kind.spec()
        .identity
        .adopt
        .iter()
        .filter_map(|p| match *p {
            AdoptParam::Field { param, field } => body
                .get(field)
                .and_then(Value::as_str)
                .map(|v| (param, v.to_owned())),
            AdoptParam::Fixed { param, value } => Some((param, value.to_owned())),
        })
        .collect()
}

/// Whether a live entity has the identity of create request `body`: the
/// same `code` when the body has one, else equal key fields (`eq` compares
/// a body value with the live one, `None` = absent).
pub fn same_identity(
    kind: Kind,
    live: &Value,
    body: &Map<String, Value>,
    eq: impl Fn(&str, &Value, Option<&Value>) -> bool,
) -> bool {
    let identity = kind.spec().identity;
    if let Key::Singleton(_) = identity.key {
        return true;
    }
    if let Some(code) = body.get("code") {
        return live.get("code") == Some(code);
    }
    let fields = identity.key_fields();
    !fields.is_empty()
        && fields.into_iter().all(|f| match body.get(f) {
            Some(v) => eq(f, v, live.get(f)),
            None => live.get(f).is_none_or(Value::is_null),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    /// A desired-style entity: fields, and references as the target's code.
    struct Entity {
        fields: Value,
        codes: HashMap<&'static str, &'static str>,
    }

    impl KeySource for Entity {
        fn value(&self, field: &str) -> Option<&Value> {
            self.fields.get(field)
        }
        fn code(&self, field: &str, _target: Kind) -> Option<&str> {
            self.codes.get(field).copied()
        }
    }

    fn entity(fields: Value, codes: &[(&'static str, &'static str)]) -> Entity {
        Entity {
            fields,
            codes: codes.iter().copied().collect(),
        }
    }

    #[test]
    fn pricing_keys_follow_the_documented_format() {
        let e = entity(
            json!({"startDate": "2024-11-01T00:00:00.000Z"}),
            &[("planId", "p"), ("aggregationId", "agg")],
        );
        assert_eq!(
            key_of(Kind::Pricing, &e).as_deref(),
            Some("p/agg@2024-11-01")
        );

        let e = entity(
            json!({"startDate": "2024-11-01", "segment": {"tier": "gold", "region": "eu"}}),
            &[("planTemplateId", "t"), ("compoundAggregationId", "agg")],
        );
        assert_eq!(
            key_of(Kind::Pricing, &e).as_deref(),
            Some("template:t/agg@2024-11-01#region=eu,tier=gold")
        );

        // The UTC date of the start, not its local one.
        let e = entity(
            json!({"startDate": "2024-11-30T23:00:00-02:00", "segment": {}}),
            &[("planId", "p"), ("aggregationId", "a")],
        );
        assert_eq!(key_of(Kind::Pricing, &e).as_deref(), Some("p/a@2024-12-01"));
    }

    #[test]
    fn own_code_wins_and_ambiguous_or_missing_parts_give_no_key() {
        let coded = entity(
            json!({"code": "mine", "startDate": "2024-11-01"}),
            &[("planId", "p"), ("aggregationId", "a")],
        );
        assert_eq!(key_of(Kind::Pricing, &coded).as_deref(), Some("mine"));
        let both_owners = entity(
            json!({"startDate": "2024-11-01"}),
            &[
                ("planId", "p"),
                ("planTemplateId", "t"),
                ("aggregationId", "a"),
            ],
        );
        assert_eq!(key_of(Kind::Pricing, &both_owners), None);
        let no_start = entity(json!({}), &[("planId", "p"), ("aggregationId", "a")]);
        assert_eq!(key_of(Kind::Pricing, &no_start), None);
        assert_eq!(key_of(Kind::Product, &entity(json!({}), &[])), None);
        assert_eq!(
            key_of(Kind::Product, &entity(json!({"code": 5}), &[])),
            None
        );
    }

    #[test]
    fn account_plan_keys_follow_the_documented_format() {
        let e = entity(
            json!({"startDate": "2024-12-01T00:00:00Z"}),
            &[("accountId", "acc"), ("planId", "plan")],
        );
        assert_eq!(
            key_of(Kind::AccountPlan, &e).as_deref(),
            Some("acc/plan@2024-12-01")
        );
        // A plan group by its code, like a plan.
        let e = entity(
            json!({"startDate": "2024-12-01"}),
            &[("accountId", "acc"), ("planGroupId", "bundle")],
        );
        assert_eq!(
            key_of(Kind::AccountPlan, &e).as_deref(),
            Some("acc/bundle@2024-12-01")
        );
    }

    #[test]
    fn counter_pricing_and_plan_group_link_keys_follow_the_documented_format() {
        let e = entity(
            json!({"startDate": "2025-01-01T00:00:00Z"}),
            &[("planId", "pro"), ("counterId", "seats")],
        );
        assert_eq!(
            key_of(Kind::CounterPricing, &e).as_deref(),
            Some("pro/seats@2025-01-01")
        );
        let e = entity(
            json!({"startDate": "2025-01-01"}),
            &[("planTemplateId", "std"), ("counterId", "seats")],
        );
        assert_eq!(
            key_of(Kind::CounterPricing, &e).as_deref(),
            Some("template:std/seats@2025-01-01")
        );
        let coded = entity(
            json!({"code": "seat_price", "startDate": "2025-01-01"}),
            &[("planId", "pro"), ("counterId", "seats")],
        );
        assert_eq!(
            key_of(Kind::CounterPricing, &coded).as_deref(),
            Some("seat_price")
        );
        let e = entity(json!({}), &[("planGroupId", "bundle"), ("planId", "pro")]);
        assert_eq!(
            key_of(Kind::PlanGroupLink, &e).as_deref(),
            Some("bundle/pro")
        );
        assert_eq!(
            Kind::PlanGroupLink.spec().identity.key_fields(),
            ["planGroupId", "planId"]
        );
    }

    #[test]
    fn account_level_keys_follow_the_documented_format() {
        // The API gives commitments no code: always account and start.
        let e = entity(json!({"startDate": "2025-01-01"}), &[("accountId", "acc")]);
        assert_eq!(
            key_of(Kind::Commitment, &e).as_deref(),
            Some("acc@2025-01-01")
        );
        let e = entity(
            json!({"date": "2025-02-03"}),
            &[("accountId", "acc"), ("counterId", "seats")],
        );
        assert_eq!(
            key_of(Kind::CounterAdjustment, &e).as_deref(),
            Some("acc/seats@2025-02-03")
        );
        assert_eq!(
            Kind::CounterAdjustment.spec().identity.key_fields(),
            ["accountId", "counterId", "date"]
        );
        assert_eq!(
            key_of(
                Kind::Contract,
                &entity(json!({"code": "c1"}), &[("accountId", "acc")])
            )
            .as_deref(),
            Some("c1")
        );
    }

    #[test]
    fn key_fields_are_the_composite_parts() {
        assert_eq!(
            Kind::Pricing.spec().identity.key_fields(),
            [
                "planId",
                "planTemplateId",
                "aggregationId",
                "compoundAggregationId",
                "startDate",
                "segment"
            ]
        );
        assert_eq!(
            Kind::AccountPlan.spec().identity.key_fields(),
            ["accountId", "planId", "planGroupId", "startDate"]
        );
        assert!(Kind::Meter.spec().identity.key_fields().is_empty());
    }

    #[test]
    fn adoption_queries_use_the_narrowest_documented_filter() {
        let body = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert_eq!(
            adopt_query(Kind::Meter, &body(json!({"code": "m"}))),
            [("codes", "m".to_string())]
        );
        assert!(adopt_query(Kind::Product, &body(json!({"code": "p"}))).is_empty());
        assert_eq!(
            adopt_query(Kind::Pricing, &body(json!({"planTemplateId": "t"}))),
            [("planTemplateId", "t".to_string())]
        );
        assert_eq!(
            adopt_query(Kind::AccountPlan, &body(json!({"accountId": "a"}))),
            [
                ("account", "a".to_string()),
                ("includeall", "true".to_string())
            ]
        );
    }

    #[test]
    fn same_identity_compares_code_or_key_fields() {
        let eq = |_: &str, a: &Value, b: Option<&Value>| Some(a) == b;
        let body = json!({"planId": "p", "aggregationId": "a", "startDate": "s"});
        let body = body.as_object().unwrap();
        let live = json!({"id": "x", "planId": "p", "aggregationId": "a", "startDate": "s"});
        assert!(same_identity(Kind::Pricing, &live, body, eq));
        let other = json!({"planId": "p", "aggregationId": "b", "startDate": "s"});
        assert!(!same_identity(Kind::Pricing, &other, body, eq));
        let seg =
            json!({"planId": "p", "aggregationId": "a", "startDate": "s", "segment": {"k": "v"}});
        assert!(!same_identity(Kind::Pricing, &seg, body, eq));
        let coded = json!({"code": "c"});
        assert!(same_identity(
            Kind::Meter,
            &json!({"code": "c"}),
            coded.as_object().unwrap(),
            eq
        ));
        assert!(!same_identity(
            Kind::Meter,
            &json!({"code": "d"}),
            coded.as_object().unwrap(),
            eq
        ));
    }

    #[test]
    fn a_singleton_has_its_fixed_key() {
        let spec = KindSpec {
            identity: Identity {
                key: Key::Singleton("org"),
                adopt: &[],
                scope: &[],
            },
            singleton: true,
            ..*Kind::Product.spec()
        };
        assert_eq!(
            key_with(&spec, &entity(json!({}), &[])).as_deref(),
            Some("org")
        );
    }
}
