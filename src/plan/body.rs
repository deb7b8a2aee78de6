//! Request bodies apply sends, built from the kind's request schema only, so
//! read-only and response-only fields are never sent (`shared/design.md`
//! §3.5).

use serde_json::{Map, Value};

use crate::address::Address;
use crate::desired::DesiredEntity;
use m3ter_api::Kind;
use m3ter_api::schema::{DefaultBy, Type};

/// Why a body cannot be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BodyError {
    /// A reference whose target has no id yet (its create has not run).
    #[error("`{field}` refers to {address}, which has no id yet (it must be created first)")]
    Unresolved { field: String, address: Address },
    /// A managed reference value that is not an address.
    #[error("`{field}` should hold an address like `product.code`, not {value}")]
    NotAnAddress { field: String, value: Value },
}

fn resolve(
    field: &str,
    value: &Value,
    ids: &impl Fn(&Address) -> Option<String>,
) -> Result<Value, BodyError> {
    let address: Address =
        value
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| BodyError::NotAnAddress {
                field: field.to_string(),
                value: value.clone(),
            })?;
    ids(&address)
        .map(Value::String)
        .ok_or(BodyError::Unresolved {
            field: field.to_string(),
            address,
        })
}

/// A managed-field map (references as addresses, as in [`super::Change::after`])
/// with references replaced by the ids `ids` gives: what state records as
/// the last-applied fields.
pub fn resolve_refs(
    kind: Kind,
    managed: &Map<String, Value>,
    ids: impl Fn(&Address) -> Option<String>,
) -> Result<Map<String, Value>, BodyError> {
    managed
        .iter()
        .map(|(k, v)| {
            let v = match kind.field(k).map(|f| f.ty) {
                Some(Type::Ref(_) | Type::AnyRef(_)) => resolve(k, v, &ids)?,
                _ => v.clone(),
            };
            Ok((k.clone(), v))
        })
        .collect()
}

/// The full PUT body of an update: for every request field of `kind`, the
/// managed value if it is managed (references resolved with `ids`), nothing
/// if it is being reset, else the live value; plus the live `version`.
pub fn put_body(
    kind: Kind,
    live: &Value,
    managed: &Map<String, Value>,
    resets: &[String],
    ids: impl Fn(&Address) -> Option<String>,
) -> Result<Map<String, Value>, BodyError> {
    let mut body = Map::new();
    for field in kind.fields() {
        let name = field.name;
        if let Some(v) = managed.get(name).filter(|v| !v.is_null()) {
            let v = match field.ty {
                Type::Ref(_) | Type::AnyRef(_) => resolve(name, v, &ids)?,
                _ => v.clone(),
            };
            body.insert(name.to_string(), v);
        } else if resets.iter().any(|r| r == name) {
            continue;
        } else if let Some(v) = live
            .get(name)
            // Never returned by the API (write-only): nothing to send back.
            .filter(|v| !v.is_null() && !crate::sensitive::is_unknown(v))
        {
            body.insert(name.to_string(), v.clone());
        }
    }
    if let Some(version) = live.get("version").filter(|v| !v.is_null()) {
        body.insert("version".to_string(), version.clone());
    }
    Ok(body)
}

/// The POST body of a create: the entity's request fields, references
/// resolved with `ids`; a field the tool defaults (a meter's
/// `derivedFields`) is sent with its default when unset.
pub fn create_body(
    entity: &DesiredEntity,
    ids: impl Fn(&Address) -> Option<String>,
) -> Result<Map<String, Value>, BodyError> {
    let kind = entity.address.kind;
    let mut body = Map::new();
    for field in kind.fields() {
        let name = field.name;
        if let Some(target) = entity.refs.get(name) {
            let id = ids(target).ok_or_else(|| BodyError::Unresolved {
                field: name.to_string(),
                address: target.clone(),
            })?;
            body.insert(name.to_string(), Value::String(id));
        } else if let Some(v) = entity.fields.get(name).filter(|v| !v.is_null()) {
            body.insert(name.to_string(), v.clone());
        } else if let Some(v) = kind.default_of(name, DefaultBy::Tool) {
            body.insert(name.to_string(), v);
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ids(a: &Address) -> Option<String> {
        (a.key == "known").then(|| format!("id-of-{}", a.kind))
    }

    #[test]
    fn put_body_keeps_live_request_fields_and_drops_read_only_and_resets() {
        let live = json!({
            "id": "m1", "version": 3, "dtCreated": "2024-01-01T00:00:00Z",
            "name": "old", "code": "m", "productId": "p-old",
            "dataFields": [{"category": "MEASURE", "code": "q", "name": "Q"}],
            "derivedFields": [], "customFields": {"team": "x"}
        });
        let managed: Map<String, Value> =
            serde_json::from_value(json!({"name": "new", "productId": "product.known"})).unwrap();
        let body = put_body(Kind::Meter, &live, &managed, &["customFields".into()], ids).unwrap();
        assert_eq!(
            Value::Object(body),
            json!({
                "name": "new", "code": "m", "productId": "id-of-product",
                "dataFields": [{"category": "MEASURE", "code": "q", "name": "Q"}],
                "derivedFields": [], "version": 3
            })
        );
    }

    #[test]
    fn unresolved_reference_is_an_error_naming_the_field() {
        let managed: Map<String, Value> =
            serde_json::from_value(json!({"productId": "product.later"})).unwrap();
        let err = put_body(Kind::Meter, &json!({"version": 1}), &managed, &[], ids).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`productId` refers to product.later, which has no id yet (it must be created first)"
        );
    }

    #[test]
    fn create_body_resolves_refs_and_defaults_derived_fields() {
        let entity = DesiredEntity {
            address: Address::new(Kind::Meter, "m"),
            fields: serde_json::from_value(json!({
                "code": "m", "name": "M",
                "dataFields": [{"category": "MEASURE", "code": "q", "name": "Q"}]
            }))
            .unwrap(),
            refs: [(
                "productId".to_string(),
                Address::new(Kind::Product, "known"),
            )]
            .into(),
            extra_deps: vec![],
            lifecycle: Default::default(),
            source: None,
        };
        let body = create_body(&entity, ids).unwrap();
        assert_eq!(
            Value::Object(body),
            json!({
                "name": "M", "code": "m", "productId": "id-of-product",
                "dataFields": [{"category": "MEASURE", "code": "q", "name": "Q"}],
                "derivedFields": []
            })
        );
    }
}
