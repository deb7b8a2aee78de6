//! What "equal" means between a desired (or last-applied) value and a live
//! one (`shared/design.md` §3.5): the rules that keep plans free of
//! perpetual diffs.
//!
//! - numbers compare numerically (`0` = `0.0`, `6000000000` = `6e9`);
//! - date and date-time fields compare as instants (`2024-12-01` =
//!   `2024-12-01T00:00:00Z` = `2024-12-01T00:00:00.000Z`);
//! - pricing bands compare in `lowerLimit` order, ignoring band `id`s;
//! - objects of a request schema (an account's `address`, a meter's data
//!   fields) compare only the keys the desired side sets, recursively;
//! - free-form maps (`customFields`, `segment`) compare whole;
//! - an absent live value equals an empty desired array or map.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use m3ter_api::schema::{DefaultBy, Field, Kind, Type};
use m3ter_api::validate::parse_date_time;

/// Fields never compared nor sent for `kind`: the common read-only fields
/// and the kind's response-only fields.
pub fn read_only(kind: Kind, field: &str) -> bool {
    m3ter_api::schema::COMMON_READ_ONLY.contains(&field) || kind.response_only().contains(&field)
}

/// Whether a difference in `field` makes the change a replace: an immutable
/// field, or a field of a composite key (pricing, account plan).
pub fn forces_replacement(kind: Kind, field: &str) -> bool {
    kind.immutable_fields().contains(&field) || kind.spec().identity.key_fields().contains(&field)
}

/// Whether the desired value of top-level `field` of `kind` equals the live
/// value (`None` = absent). An absent live value is the server's default
/// for the field, when it has one.
pub fn field_equal(kind: Kind, field: &str, desired: &Value, live: Option<&Value>) -> bool {
    let default = live
        .is_none_or(Value::is_null)
        .then(|| kind.default_of(field, DefaultBy::Server))
        .flatten();
    let live = default.as_ref().or(live);
    if kind.is_bands(field) {
        return bands_equal(kind, field, desired, live);
    }
    eq_typed(kind.field(field).map(|f| &f.ty), desired, live)
}

/// Null, `[]` or `{}`: what an absent live value equals.
pub fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// A date (`YYYY-MM-DD`, midnight UTC) or a date-time as an instant.
pub fn instant(s: &str) -> Option<DateTime<Utc>> {
    parse_date_time(s).or_else(|| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
    })
}

fn eq_typed(ty: Option<&Type>, d: &Value, l: Option<&Value>) -> bool {
    let l = match l {
        Some(l) if !l.is_null() => l,
        _ => return is_empty(d),
    };
    // A secret the API did not return (it never does) and state does not
    // know: taken to be the desired one.
    if crate::sensitive::is_unknown(l) {
        return true;
    }
    match ty {
        Some(Type::Date | Type::DateTime) => match (d.as_str(), l.as_str()) {
            (Some(a), Some(b)) => match (instant(a), instant(b)) {
                (Some(x), Some(y)) => x == y,
                _ => a == b,
            },
            _ => generic_eq(d, l),
        },
        Some(Type::Array { item, .. }) => match (d.as_array(), l.as_array()) {
            (Some(a), Some(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|(x, y)| eq_typed(Some(item), x, Some(y)))
            }
            _ => generic_eq(d, l),
        },
        Some(Type::Object(fields)) => subset_eq(fields, d, l, &[]),
        _ => generic_eq(d, l),
    }
}

/// Only the keys `d` sets are compared, each by its schema type.
fn subset_eq(fields: &[Field], d: &Value, l: &Value, skip: &[&str]) -> bool {
    match (d.as_object(), l.as_object()) {
        (Some(dm), Some(lm)) => dm
            .iter()
            .filter(|(k, v)| !v.is_null() && !skip.contains(&k.as_str()))
            .all(|(k, v)| {
                let ty = fields.iter().find(|f| f.name == k).map(|f| &f.ty);
                eq_typed(ty, v, lm.get(k))
            }),
        _ => generic_eq(d, l),
    }
}

/// Structural equality where numbers compare numerically.
pub fn generic_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| generic_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| generic_eq(v, w)))
        }
        _ => a == b,
    }
}

fn lower_limit(band: &Value) -> f64 {
    band.get("lowerLimit")
        .and_then(Value::as_f64)
        .unwrap_or(f64::NAN)
}

/// Bands in `lowerLimit` order, so that the server's order never matters.
pub fn sorted_bands(v: &Value) -> Option<Vec<&Value>> {
    let mut bands: Vec<&Value> = v.as_array()?.iter().collect();
    bands.sort_by(|a, b| lower_limit(a).total_cmp(&lower_limit(b)));
    Some(bands)
}

fn bands_equal(kind: Kind, field: &str, d: &Value, l: Option<&Value>) -> bool {
    let l = match l {
        Some(l) if !l.is_null() => l,
        _ => return is_empty(d),
    };
    let band_fields: &[Field] = match kind.field(field).map(|f| f.ty) {
        Some(Type::Array {
            item: Type::Object(fields),
            ..
        }) => fields,
        _ => &[],
    };
    match (sorted_bands(d), sorted_bands(l)) {
        (Some(a), Some(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(&b)
                    .all(|(x, y)| subset_eq(band_fields, x, y, &["id"]))
        }
        _ => generic_eq(d, l),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_compare_numerically() {
        assert!(field_equal(
            Kind::Aggregation,
            "quantityPerUnit",
            &json!(6000000000u64),
            Some(&json!(6e9))
        ));
        assert!(field_equal(
            Kind::PlanTemplate,
            "standingCharge",
            &json!(0),
            Some(&json!(0.0))
        ));
        assert!(!field_equal(
            Kind::PlanTemplate,
            "standingCharge",
            &json!(1),
            Some(&json!(1.5))
        ));
    }

    #[test]
    fn dates_compare_as_instants() {
        for live in [
            "2024-12-01",
            "2024-12-01T00:00:00Z",
            "2024-12-01T00:00:00.000Z",
            "2024-12-01T01:00:00+01:00",
        ] {
            assert!(
                field_equal(
                    Kind::Pricing,
                    "startDate",
                    &json!("2024-12-01T00:00:00Z"),
                    Some(&json!(live))
                ),
                "{live}"
            );
        }
        assert!(!field_equal(
            Kind::Pricing,
            "startDate",
            &json!("2024-12-01T00:00:00Z"),
            Some(&json!("2024-12-02T00:00:00Z"))
        ));
    }

    #[test]
    fn bands_ignore_order_and_ids() {
        let desired = json!([
            {"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 1},
            {"lowerLimit": 100, "fixedPrice": 0, "unitPrice": 0.5}
        ]);
        let live = json!([
            {"id": "b2", "lowerLimit": 100.0, "fixedPrice": 0.0, "unitPrice": 0.5},
            {"id": "b1", "lowerLimit": 0.0, "fixedPrice": 0.0, "unitPrice": 1.0}
        ]);
        assert!(field_equal(
            Kind::Pricing,
            "pricingBands",
            &desired,
            Some(&live)
        ));
        let fewer = json!([{"id": "b1", "lowerLimit": 0, "fixedPrice": 0, "unitPrice": 1}]);
        assert!(!field_equal(
            Kind::Pricing,
            "pricingBands",
            &desired,
            Some(&fewer)
        ));
    }

    #[test]
    fn nested_objects_compare_the_desired_keys_only() {
        let desired = json!({"country": "UK"});
        let live = json!({"country": "UK", "postCode": "N1"});
        assert!(field_equal(Kind::Account, "address", &desired, Some(&live)));
        assert!(!field_equal(
            Kind::Account,
            "address",
            &json!({"country": "FR"}),
            Some(&live)
        ));
    }

    #[test]
    fn maps_compare_whole_and_absent_equals_empty() {
        assert!(!field_equal(
            Kind::Product,
            "customFields",
            &json!({"a": 1}),
            Some(&json!({"a": 1, "b": 2}))
        ));
        assert!(field_equal(
            Kind::Product,
            "customFields",
            &json!({"a": 1}),
            Some(&json!({"a": 1.0}))
        ));
        assert!(field_equal(Kind::Meter, "derivedFields", &json!([]), None));
        assert!(field_equal(Kind::Pricing, "cumulative", &json!(true), None));
        assert!(!field_equal(
            Kind::Pricing,
            "cumulative",
            &json!(false),
            None
        ));
        assert!(!field_equal(Kind::Product, "name", &json!("x"), None));
    }
}
