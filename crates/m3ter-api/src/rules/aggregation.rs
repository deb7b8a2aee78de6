//! Aggregation rules (against the meter it reads) and compound-aggregation
//! rules (against the aggregations its formula names).

use serde_json::Value;

use super::meter::{self, MeterField};
use super::{Body, Catalog, Finding, code_or, did_you_mean, list, str_of};
use crate::schema::NUMERIC_CATEGORIES;
use crate::{Kind, calc};

pub(crate) const TARGET_FIELD: &str = "aggregation.targetField";
pub(crate) const SEGMENTED_FIELDS: &str = "aggregation.segmentedFields";
pub(crate) const SEGMENTS: &str = "aggregation.segments";
pub(crate) const FUNCTION: &str = "aggregation.function";
pub(crate) const CUSTOM_SQL: &str = "aggregation.customSql";
pub(crate) const COMPOUND_CALCULATION: &str = "compoundAggregation.calculation";

/// SPEC (Aggregation enum): these "can be applied to a Measure, Income, or
/// Cost targetField".
const NUMERIC_FUNCTIONS: &[&str] = &["SUM", "MIN", "MAX", "COUNT", "LATEST", "MEAN"];

pub(crate) fn check(agg: &Body, catalog: &dyn Catalog, out: &mut Vec<Finding>) {
    custom_sql(agg, out);
    let Some(meter_ref) = str_of(agg, "meterId") else {
        return;
    };
    let Some(meter) = catalog.get(Kind::Meter, meter_ref) else {
        return;
    };
    let meter_code = code_or(Some(meter), meter_ref);
    let fields = meter::fields(meter);
    let codes: Vec<&str> = fields.iter().map(|f| f.code).collect();

    if let Some(target) = str_of(agg, "targetField") {
        match fields.iter().find(|f| f.code == target) {
            None => out.push(Finding::error(
                TARGET_FIELD,
                "targetField",
                format!(
                    "`targetField` \"{target}\" is not a data or derived field of meter \
                     `{meter_code}`{}; it has: {}",
                    did_you_mean(target, &codes),
                    list(&codes)
                ),
            )),
            Some(field) => function_suits(agg, field, meter_code, out),
        }
    }

    let segmented = str_list(agg, "segmentedFields");
    for (i, s) in segmented.iter().enumerate() {
        let path = format!("segmentedFields[{i}]");
        match fields.iter().find(|f| f.code == *s) {
            None => out.push(Finding::error(
                SEGMENTED_FIELDS,
                path.clone(),
                format!(
                    "`{path}` \"{s}\" is not a field of meter `{meter_code}`{}; it has: {}",
                    did_you_mean(s, &codes),
                    list(&codes)
                ),
            )),
            // SPEC: "String dataFields ... Any string derivedFields ... can be segmented".
            Some(f) if f.is_numeric() => out.push(Finding::error(
                SEGMENTED_FIELDS,
                path.clone(),
                format!(
                    "`{path}` \"{s}\" is a {} field of meter `{meter_code}`; only text fields \
                     (not {}) can segment an aggregation",
                    f.category.unwrap_or_default(),
                    NUMERIC_CATEGORIES.join(", ")
                ),
            )),
            Some(_) => {}
        }
    }
    segments(agg, &segmented, out);
}

/// The strings of an array field.
fn str_list<'a>(body: &'a Body, key: &str) -> Vec<&'a str> {
    body.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Each defined segment is keyed by segmented field codes (SPEC segments:
/// "values ... read from the fields ... pointed at by segmentedFields").
fn segments(agg: &Body, segmented: &[&str], out: &mut Vec<Finding>) {
    let Some(items) = agg.get("segments").and_then(Value::as_array) else {
        return;
    };
    for (i, seg) in items.iter().enumerate() {
        let Some(seg) = seg.as_object() else { continue };
        for key in seg.keys().filter(|k| !segmented.contains(&k.as_str())) {
            out.push(Finding::error(
                SEGMENTS,
                format!("segments[{i}]"),
                format!(
                    "`segments[{i}]` is keyed by \"{key}\", which is not in `segmentedFields` \
                     ({}); key each segment by segmented field codes",
                    list(segmented)
                ),
            ));
        }
    }
}

fn function_suits(agg: &Body, field: &MeterField<'_>, meter_code: &str, out: &mut Vec<Finding>) {
    let Some(function) = str_of(agg, "aggregation") else {
        return;
    };
    let category = field.category.unwrap_or_default();
    let message = if NUMERIC_FUNCTIONS.contains(&function) && !field.is_numeric() {
        format!(
            "`aggregation` {function} needs a numeric target field ({}), but `{}` of meter \
             `{meter_code}` is a {category} field; use UNIQUE to count its distinct values, \
             or target a numeric field",
            NUMERIC_CATEGORIES.join(", "),
            field.code
        )
    // SPEC: UNIQUE "can be applied to a Metadata targetField". We accept any
    // text category, as counting distinct users (WHO) is the common case.
    } else if function == "UNIQUE" && field.is_numeric() {
        format!(
            "`aggregation` UNIQUE counts distinct text values, but `{}` of meter \
             `{meter_code}` is a {category} field; use COUNT, SUM or another numeric \
             function, or target a text field such as METADATA",
            field.code
        )
    } else {
        return;
    };
    out.push(Finding::error(FUNCTION, "aggregation", message));
}

fn custom_sql(agg: &Body, out: &mut Vec<Finding>) {
    if str_of(agg, "aggregation") == Some("CUSTOM_SQL")
        && str_of(agg, "customSql").is_none_or(|q| q.trim().is_empty())
    {
        out.push(Finding::error(
            CUSTOM_SQL,
            "customSql",
            "`aggregation` CUSTOM_SQL needs `customSql`, the SQL query to run against the \
             measurements; add it, or choose another aggregation function"
                .to_owned(),
        ));
    }
}

/// A compound formula must parse and name existing simple aggregations, by
/// code, bare or as `aggregation.<code>`. Other dotted names
/// (`account.discount`) are custom fields this rule cannot see, so they pass.
pub(crate) fn check_compound(compound: &Body, catalog: &dyn Catalog, out: &mut Vec<Finding>) {
    let Some(calculation) = str_of(compound, "calculation") else {
        return;
    };
    let expr = match calc::parse(calculation) {
        Ok(e) => e,
        Err(e) => {
            out.push(Finding::error(
                COMPOUND_CALCULATION,
                "calculation",
                format!(
                    "`calculation` \"{calculation}\" does not parse: {e}; write a formula with \
                     + - * /, parentheses, numbers and aggregation codes"
                ),
            ));
            return;
        }
    };
    for name in expr.names() {
        let code = match name.split_once('.') {
            None => name,
            Some(("aggregation", code)) => code,
            Some(_) => continue,
        };
        if catalog.by_code(Kind::Aggregation, code).is_none() {
            let mut known: Vec<&str> = catalog
                .each(Kind::Aggregation)
                .into_iter()
                .filter_map(|(_, b)| str_of(b, "code"))
                .collect();
            known.sort_unstable();
            out.push(Finding::error(
                COMPOUND_CALCULATION,
                "calculation",
                format!(
                    "`calculation` names `{name}`, which is no aggregation's code{}; name simple \
                     aggregations by code, bare or as `aggregation.<code>`{}",
                    did_you_mean(code, &known),
                    if known.len() <= 20 {
                        format!(" (known: {})", list(&known))
                    } else {
                        String::new()
                    }
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::Kind;
    use crate::rules::fixture::{Fixture, body};

    fn fixture() -> Fixture {
        Fixture::default().with(
            Kind::Meter,
            "m",
            json!({"code": "m", "name": "M",
                   "dataFields": [{"category": "MEASURE", "code": "requests", "name": "R", "unit": "n"},
                                  {"category": "WHERE", "code": "region", "name": "Region"},
                                  {"category": "METADATA", "code": "session", "name": "S"}],
                   "derivedFields": [{"category": "MEASURE", "code": "doubled", "name": "D", "unit": "n", "calculation": "requests*2"}]}),
        )
        .with(Kind::Aggregation, "calls", json!({"code": "calls", "meterId": "m", "targetField": "requests"}))
    }

    fn agg(extra: Value) -> crate::rules::Body {
        let mut b = body(
            json!({"code": "a", "name": "A", "meterId": "m", "targetField": "requests",
                                "aggregation": "SUM", "rounding": "NONE", "quantityPerUnit": 1, "unit": "u"}),
        );
        b.extend(body(extra));
        b
    }

    #[test]
    fn good_aggregations_have_no_findings() {
        let f = fixture();
        assert_eq!(f.render(Kind::Aggregation, &agg(json!({}))), "");
        let derived = agg(
            json!({"targetField": "doubled", "segmentedFields": ["region"],
                                 "segments": [{"region": "eu"}, {"region": "us"}]}),
        );
        assert_eq!(f.render(Kind::Aggregation, &derived), "");
        assert_eq!(
            f.render(
                Kind::Aggregation,
                &agg(json!({"targetField": "session", "aggregation": "UNIQUE"}))
            ),
            ""
        );
        // A meter that is not there is the reference check's business.
        assert_eq!(
            f.render(
                Kind::Aggregation,
                &agg(json!({"meterId": "nope", "targetField": "x"}))
            ),
            ""
        );
    }

    #[test]
    fn target_field_is_a_field_of_the_meter() {
        insta::assert_snapshot!(
            fixture().render(Kind::Aggregation, &agg(json!({"targetField": "reqests"})))
        );
    }

    #[test]
    fn segmented_fields_are_text_fields_of_the_meter() {
        let a = agg(json!({"segmentedFields": ["regoin", "requests"]}));
        insta::assert_snapshot!(fixture().render(Kind::Aggregation, &a));
    }

    #[test]
    fn segments_are_keyed_by_segmented_fields() {
        let a = agg(
            json!({"segmentedFields": ["region"], "segments": [{"region": "eu"}, {"country": "fr"}]}),
        );
        insta::assert_snapshot!(fixture().render(Kind::Aggregation, &a));
    }

    #[test]
    fn function_suits_the_field_category() {
        let f = fixture();
        let sum_text = agg(json!({"targetField": "region", "aggregation": "SUM"}));
        let unique_number = agg(json!({"aggregation": "UNIQUE"}));
        insta::assert_snapshot!(
            f.render(Kind::Aggregation, &sum_text) + &f.render(Kind::Aggregation, &unique_number)
        );
    }

    #[test]
    fn custom_sql_needs_its_query() {
        let f = fixture();
        assert_eq!(
            f.render(
                Kind::Aggregation,
                &agg(json!({"aggregation": "CUSTOM_SQL", "customSql": "SELECT 1"}))
            ),
            ""
        );
        insta::assert_snapshot!(f.render(
            Kind::Aggregation,
            &agg(json!({"aggregation": "CUSTOM_SQL"}))
        ));
    }

    #[test]
    fn compound_calculation_parses_and_names_aggregations() {
        let f = fixture();
        let compound = |calc: &str| body(json!({"code": "c", "name": "C", "calculation": calc}));
        assert_eq!(
            f.render(
                Kind::CompoundAggregation,
                &compound("calls * 2 + aggregation.calls - account.discount")
            ),
            ""
        );
        insta::assert_snapshot!(
            f.render(Kind::CompoundAggregation, &compound("(calls + 1"))
                + &f.render(
                    Kind::CompoundAggregation,
                    &compound("aggregation.cals + seconds")
                )
        );
    }
}
