//! Export: the live org written back as desired state (`m3ter export`).
//!
//! The reverse of loading: request-schema fields only, reference UUIDs
//! turned back into the target's code under the reference key
//! (`productId` → `product`), server-assigned band ids dropped. Secrets,
//! which the API never returns, become `${env.NAME}` placeholders
//! (`crate::sensitive::placeholders`), listed in [`Export::secrets`].

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::live::LiveSnapshot;
use m3ter_api::{Kind, Type};

/// The desired-state sections of an org, plus what could not be exported.
#[derive(Debug, Default)]
pub struct Export {
    /// Section (`products`, …) → entities, each sorted by code or key.
    pub sections: BTreeMap<Kind, Vec<Map<String, Value>>>,
    /// Entities left out, with the reason.
    pub skipped: Vec<String>,
    /// Section → the environment variables its `${env.NAME}` placeholders
    /// name: to be set to the secrets before `plan`.
    pub secrets: BTreeMap<Kind, Vec<String>>,
}

/// Converts every live entity of the snapshot.
pub fn export(live: &LiveSnapshot) -> Export {
    let mut out = Export::default();
    for kind in Kind::ALL {
        let mut entities = Vec::new();
        for entity in live.of(kind) {
            match to_desired(kind, entity, live) {
                Ok(mut e) => {
                    let names = secret_placeholders(kind, &mut e);
                    if !names.is_empty() {
                        out.secrets.entry(kind).or_default().extend(names);
                    }
                    entities.push(e);
                }
                Err(why) => out.skipped.push(why),
            }
        }
        entities.sort_by_key(sort_key);
        if !entities.is_empty() {
            out.sections.insert(kind, entities);
        }
    }
    out
}

/// The YAML value of a kind's section: the list of its entities, or for a
/// singleton its one mapping.
pub fn section_value(kind: Kind, entities: &[Map<String, Value>]) -> Value {
    match entities {
        [one] if kind.is_singleton() => Value::Object(one.clone()),
        _ => Value::Array(entities.iter().cloned().map(Value::Object).collect()),
    }
}

/// Puts `${env.NAME}` where the entity's secrets go; the names, by the
/// entity's address (its code, for the kinds with secrets).
fn secret_placeholders(kind: Kind, e: &mut Map<String, Value>) -> Vec<String> {
    if kind.sensitive_paths().is_empty() {
        return Vec::new();
    }
    let key = e
        .get("code")
        .and_then(Value::as_str)
        .unwrap_or("entity")
        .to_string();
    let mut v = Value::Object(std::mem::take(e));
    let names = crate::sensitive::placeholders(&crate::address::Address::new(kind, key), &mut v);
    if let Value::Object(m) = v {
        *e = m;
    }
    names
}

fn sort_key(e: &Map<String, Value>) -> String {
    [
        "code",
        "plan",
        "planTemplate",
        "account",
        "aggregation",
        "compoundAggregation",
        "startDate",
    ]
    .iter()
    .filter_map(|k| e.get(*k).and_then(Value::as_str))
    .collect::<Vec<_>>()
    .join("/")
}

fn to_desired(
    kind: Kind,
    entity: &Value,
    live: &LiveSnapshot,
) -> Result<Map<String, Value>, String> {
    let id = entity.get("id").and_then(Value::as_str).unwrap_or("?");
    if kind.has_identity_code() && entity.get("code").and_then(Value::as_str).is_none() {
        return Err(format!(
            "{kind} {id}: has no code, which desired state needs as its identity"
        ));
    }
    let mut out = Map::new();
    let any_refs = kind.any_refs();
    for field in kind.fields() {
        if any_refs.iter().any(|(_, a)| a.kind_field == field.name) {
            // Written as the kind of the address under the reference's key.
            continue;
        }
        // Absent, or never returned by the API (a write-only field).
        let Some(value) = entity
            .get(field.name)
            .filter(|v| !v.is_null() && !crate::sensitive::is_unknown(v))
        else {
            continue;
        };
        match field.ty {
            Type::Ref(target) => {
                let target_id = value.as_str().unwrap_or_default();
                let code = code_of(live, target, target_id).ok_or_else(|| {
                        format!(
                            "{kind} {id}: `{}` points at {target} {target_id}, which has no code in the org",
                            field.name
                        )
                    })?;
                let key = field.name.strip_suffix("Id").unwrap_or(field.name);
                out.insert(key.to_string(), Value::String(code.to_string()));
            }
            Type::AnyRef(any) => {
                let target_id = value.as_str().unwrap_or_default();
                let named = entity.get(any.kind_field).and_then(Value::as_str);
                let target = named.and_then(|n| any.kind_named(n)).ok_or_else(|| {
                    format!(
                        "{kind} {id}: `{}` is {}, which is not an entity kind desired state can refer to",
                        any.kind_field,
                        named.unwrap_or("missing")
                    )
                })?;
                let code = code_of(live, target, target_id).ok_or_else(|| {
                    format!(
                        "{kind} {id}: `{}` points at {target} {target_id}, which is not in the org",
                        field.name
                    )
                })?;
                let address = crate::address::Address::new(target, code);
                out.insert(any.yaml_key.to_string(), Value::String(address.to_string()));
            }
            _ if kind.is_bands(field.name) => {
                out.insert(field.name.to_string(), without_band_ids(value));
            }
            _ => {
                out.insert(field.name.to_string(), value.clone());
            }
        }
    }
    Ok(out)
}

/// The code of the live entity `id` of kind `target`, when the org has it.
fn code_of<'a>(live: &'a LiveSnapshot, target: Kind, id: &str) -> Option<&'a str> {
    live.by_id(target, id)
        .and_then(|t| t.get("code"))
        .and_then(Value::as_str)
}

fn without_band_ids(bands: &Value) -> Value {
    let Some(list) = bands.as_array() else {
        return bands.clone();
    };
    Value::Array(
        list.iter()
            .map(|b| match b.as_object() {
                Some(o) => Value::Object(
                    o.iter()
                        .filter(|(k, v)| k.as_str() != "id" && !v.is_null())
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                ),
                None => b.clone(),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_become_codes_and_band_ids_go() {
        let mut live = LiveSnapshot::default();
        live.set(
            Kind::Product,
            vec![json!({"id": "p1", "code": "prod", "name": "P", "version": 1})],
        );
        live.set(
            Kind::PlanTemplate,
            vec![json!({"id": "t1", "code": "tmpl", "name": "T", "productId": "p1", "currency": "USD",
                        "standingCharge": 0, "billFrequency": "MONTHLY", "dtCreated": "x"})],
        );
        live.set(
            Kind::Pricing,
            vec![json!({"id": "x", "planTemplateId": "t1", "aggregationId": "missing",
                        "startDate": "2024-01-01T00:00:00Z",
                        "pricingBands": [{"id": "b", "lowerLimit": 0, "fixedPrice": 0, "unitPrice": 1}]})],
        );
        let e = export(&live);
        let t = &e.sections[&Kind::PlanTemplate][0];
        assert_eq!(t["product"], "prod");
        assert!(t.get("productId").is_none() && t.get("dtCreated").is_none());
        assert!(!e.sections.contains_key(&Kind::Pricing));
        assert_eq!(e.skipped.len(), 1, "{:?}", e.skipped);
        assert!(e.skipped[0].contains("aggregationId"));
    }
}
