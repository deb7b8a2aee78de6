//! A JSON Schema of the desired-state YAML, derived from the API's request
//! schemas (`m3ter_api::schema`), so editors with a YAML language server
//! can complete and check files as they are written. The checked-in copy,
//! `docs/desired-state.schema.json`, is kept equal to [`json_schema`] by a
//! test.

use serde_json::{Map, Value, json};

use m3ter_api::schema::DefaultBy;
use m3ter_api::{Field, Kind, Type};

/// The schema of one desired-state file (any file may hold any section).
pub fn json_schema() -> Value {
    let mut sections = Map::new();
    sections.insert(
        "variables".into(),
        json!({
            "description": "name: default (string or number); null = required, no default; {sensitive: true} = a secret, no default",
            "type": "object",
            "additionalProperties": {"anyOf": [
                {"type": ["string", "number", "null"]},
                {"type": "object", "additionalProperties": false, "required": ["sensitive"],
                 "properties": {"sensitive": {"const": true}}}
            ]}
        }),
    );
    for kind in Kind::ALL {
        // A singleton is one mapping, not a list of entities.
        let section = if kind.is_singleton() {
            entity_schema(kind)
        } else {
            json!({"type": "array", "items": entity_schema(kind)})
        };
        sections.insert(kind.section().into(), section);
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "m3ter-reconcile desired state",
        "type": "object",
        "additionalProperties": false,
        "properties": sections,
    })
}

fn entity_schema(kind: Kind) -> Value {
    let mut props = Map::new();
    let mut required: Vec<Value> = Vec::new();
    let any_refs = kind.any_refs();
    for field in kind.fields() {
        if any_refs.iter().any(|(_, a)| a.kind_field == field.name) {
            // Filled in by the loader from the address's kind.
            continue;
        }
        let (name, mut schema) = match field.ty {
            Type::Ref(target) => (
                yaml_key(kind, field.name),
                json!({"type": "string", "description": format!("the code of a {target}")}),
            ),
            Type::AnyRef(any) => {
                let kinds: Vec<String> = any.kinds.iter().map(|(k, _)| k.to_string()).collect();
                (
                    any.yaml_key,
                    json!({"type": "string", "description": format!(
                        "the address of a {} (`kind.code`)", kinds.join(", ")
                    )}),
                )
            }
            _ => (field.name, type_schema(&field.ty)),
        };
        // References that must be given are required under their YAML key;
        // `code` is required wherever it is the identity; a field the tool
        // defaults (a meter's `derivedFields`) may be left out.
        // A singleton's YAML may write any subset: its PUT starts from the
        // live entity.
        let needed = (field.required && !kind.is_singleton())
            || (field.name == "code" && kind.has_identity_code());
        let defaulted = kind.default_of(field.name, DefaultBy::Tool).is_some();
        if needed && !defaulted {
            required.push(Value::String(name.to_string()));
        }
        mark_sensitive(kind, field.name, &mut schema);
        props.insert(name.to_string(), schema);
    }
    props.insert(
        "lifecycle".into(),
        json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "preventDestroy": {"type": "boolean"},
                "ignoreChanges": {"type": "array", "items": {"type": "string"}}
            }
        }),
    );
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": required,
        "properties": props,
    })
}

/// Marks the secrets in `field`'s schema `writeOnly`, each with the only
/// ways to write it (README "Secrets").
fn mark_sensitive(kind: Kind, field: &str, schema: &mut Value) {
    for path in kind.sensitive_paths() {
        let mut parts = path.split('.');
        if parts.next() != Some(field) {
            continue;
        }
        let mut at = &mut *schema;
        for part in parts {
            at = &mut at["properties"][part];
        }
        *at = json!({
            "type": "string",
            "pattern": "^\\$\\{(var|env)\\.[A-Za-z_][A-Za-z0-9_]*\\}$",
            "writeOnly": true,
            "description": "sensitive: `${var.NAME}` of a variable declared `{sensitive: true}`, or `${env.NAME}`"
        });
    }
}

/// The desired-state key of reference field `field`.
fn yaml_key(kind: Kind, field: &'static str) -> &'static str {
    kind.references()
        .into_iter()
        .find(|r| r.field == field)
        .map_or(field, |r| r.yaml_key)
}

fn object_schema(fields: &[Field]) -> Value {
    let props: Map<String, Value> = fields
        .iter()
        .map(|f| (f.name.to_string(), type_schema(&f.ty)))
        .collect();
    let required: Vec<&str> = fields
        .iter()
        .filter(|f| f.required)
        .map(|f| f.name)
        .collect();
    json!({"type": "object", "additionalProperties": false, "required": required, "properties": props})
}

fn type_schema(ty: &Type) -> Value {
    // `${var.NAME}` may stand for any value, so non-string types also
    // accept a string that is a variable reference.
    let var = json!({"type": "string", "pattern": "^\\$\\{var\\.[A-Za-z_][A-Za-z0-9_]*\\}$"});
    let or_var = |schema: Value| json!({"anyOf": [schema, var.clone()]});
    match *ty {
        Type::Str { min, max } => {
            let mut s = json!({"type": "string", "minLength": min});
            if max != usize::MAX {
                s["maxLength"] = json!(max);
            }
            s
        }
        Type::Text | Type::Uuid | Type::Ref(_) | Type::AnyRef(_) | Type::Email => {
            json!({"type": "string"})
        }
        Type::CodeRef(target, inner) => {
            let mut s = type_schema(inner);
            // A kind keyed by code is named by its code; another by its key
            // (a scheduled event configuration by its name).
            s["description"] = json!(if target.has_identity_code() {
                format!("the code of a {target}")
            } else {
                format!("the key of a {target}, or another value the field allows")
            });
            s
        }
        Type::GeneralCode | Type::IdentCode => {
            json!({"type": "string", "minLength": 1, "maxLength": 80})
        }
        Type::Number { min, exclusive_min } => {
            let mut s = json!({"type": "number"});
            if let Some(m) = min {
                s[if exclusive_min {
                    "exclusiveMinimum"
                } else {
                    "minimum"
                }] = json!(m);
            }
            or_var(s)
        }
        Type::Integer {
            min,
            max,
            exclusive_min,
        } => {
            let mut s = json!({"type": "integer"});
            if let Some(m) = min {
                s[if exclusive_min {
                    "exclusiveMinimum"
                } else {
                    "minimum"
                }] = json!(m);
            }
            if let Some(m) = max {
                s["maximum"] = json!(m);
            }
            or_var(s)
        }
        Type::Bool => or_var(json!({"type": "boolean"})),
        Type::Enum(values) => or_var(json!({"enum": values})),
        Type::Date => json!({"type": "string", "description": "YYYY-MM-DD"}),
        Type::DateTime => {
            json!({"type": "string", "description": "ISO-8601 date-time, or a date (midnight UTC)"})
        }
        Type::CustomFields => json!({
            "type": "object", "maxProperties": 100,
            "additionalProperties": {"type": ["string", "number"]}
        }),
        Type::StringMap => json!({"type": "object", "additionalProperties": {"type": "string"}}),
        Type::AnyObject => json!({"type": "object"}),
        Type::Array { item, min, max } => {
            let mut s = json!({"type": "array", "items": type_schema(item), "minItems": min});
            if let Some(m) = max {
                s["maxItems"] = json!(m);
            }
            s
        }
        Type::Object(fields) => object_schema(fields),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checked-in schema is the generated one; regenerate with
    /// `UPDATE_SCHEMA=1 cargo test --lib desired::schema`.
    #[test]
    fn checked_in_schema_is_current() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/desired-state.schema.json"
        );
        let generated = serde_json::to_string_pretty(&json_schema()).expect("json") + "\n";
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(path, &generated).expect("write schema");
        }
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == generated,
            "docs/desired-state.schema.json is out of date: run `UPDATE_SCHEMA=1 cargo test --lib desired::schema`"
        );
    }

    #[test]
    fn references_are_written_by_code() {
        let s = json_schema();
        let meter = &s["properties"]["meters"]["items"];
        assert_eq!(meter["properties"]["product"]["type"], "string");
        assert!(meter["properties"].get("productId").is_none());
        let required = meter["required"].as_array().expect("required");
        assert!(required.contains(&json!("code")) && !required.contains(&json!("derivedFields")));
        let agg_required = &s["properties"]["aggregations"]["items"]["required"];
        assert!(
            agg_required
                .as_array()
                .expect("list")
                .contains(&json!("meter"))
        );
    }
}
