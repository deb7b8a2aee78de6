//! Meter rules: its data and derived fields, seen together.

use std::collections::HashMap;

use serde_json::Value;

use super::{Body, Finding, did_you_mean, list};
use crate::calc;
use crate::schema::NUMERIC_CATEGORIES;

pub(crate) const UNIQUE_CODES: &str = "meter.uniqueFieldCodes";
pub(crate) const UNIT: &str = "meter.unit";
pub(crate) const DERIVED_CALCULATION: &str = "meter.derivedCalculation";

/// One data or derived field of a meter.
pub(crate) struct MeterField<'a> {
    pub(crate) code: &'a str,
    pub(crate) category: Option<&'a str>,
    /// `dataFields[0]`, `derivedFields[2]`.
    pub(crate) path: String,
    pub(crate) unit: Option<&'a str>,
    /// The formula of a derived field.
    pub(crate) calculation: Option<&'a str>,
}

impl MeterField<'_> {
    pub(crate) fn is_numeric(&self) -> bool {
        self.category
            .is_some_and(|c| NUMERIC_CATEGORIES.contains(&c))
    }
}

/// The data fields, then the derived fields, of `meter` that have a code.
pub(crate) fn fields(meter: &Body) -> Vec<MeterField<'_>> {
    ["dataFields", "derivedFields"]
        .into_iter()
        .filter_map(|key| Some((key, meter.get(key)?.as_array()?)))
        .flat_map(|(key, items)| {
            items.iter().enumerate().filter_map(move |(i, f)| {
                Some(MeterField {
                    code: f.get("code")?.as_str()?,
                    category: f.get("category").and_then(Value::as_str),
                    path: format!("{key}[{i}]"),
                    unit: f.get("unit").and_then(Value::as_str),
                    calculation: f.get("calculation").and_then(Value::as_str),
                })
            })
        })
        .collect()
}

pub(crate) fn check(meter: &Body, out: &mut Vec<Finding>) {
    let fields = fields(meter);
    unique_codes(&fields, out);
    units(&fields, out);
    derived_calculations(&fields, out);
}

/// Field codes name a measurement's values and an aggregation's target, so
/// two fields with one code would be ambiguous.
fn unique_codes(fields: &[MeterField<'_>], out: &mut Vec<Finding>) {
    for (i, f) in fields.iter().enumerate() {
        if let Some(first) = fields[..i].iter().find(|o| o.code == f.code) {
            out.push(Finding::error(
                UNIQUE_CODES,
                format!("{}.code", f.path),
                format!(
                    "`{}.code` \"{}\" is already the code of `{}`; field codes must be unique \
                     within a meter (data and derived fields together), so rename one",
                    f.path, f.code, first.path
                ),
            ));
        }
    }
}

/// SPEC (DataField.unit): "Required only for numeric field categories".
fn units(fields: &[MeterField<'_>], out: &mut Vec<Finding>) {
    for f in fields.iter().filter(|f| f.is_numeric()) {
        if f.unit.is_none_or(|u| u.trim().is_empty()) {
            out.push(Finding::error(
                UNIT,
                format!("{}.unit", f.path),
                format!(
                    "`{}.unit` is missing: `{}` is a {} field, and numeric fields ({}) need a \
                     unit, e.g. `count`, `GB` or `ms`",
                    f.path,
                    f.code,
                    f.category.unwrap_or_default(),
                    NUMERIC_CATEGORIES.join(", ")
                ),
            ));
        }
    }
}

/// A derived field's formula must parse and name only fields of the same
/// meter (SPEC DerivedField.calculation), and derived fields must not feed
/// each other in a loop. A dotted name (`account.discount`) is a custom or
/// system field this rule cannot see, so it passes.
fn derived_calculations(fields: &[MeterField<'_>], out: &mut Vec<Finding>) {
    let codes: Vec<&str> = fields.iter().map(|f| f.code).collect();
    // Derived field code -> the derived fields its formula names.
    let mut edges: HashMap<&str, Vec<&str>> = HashMap::new();
    for f in fields {
        let Some(calculation) = f.calculation else {
            continue;
        };
        let path = format!("{}.calculation", f.path);
        let expr = match calc::parse(calculation) {
            Ok(e) => e,
            Err(e) => {
                out.push(Finding::error(
                    DERIVED_CALCULATION,
                    path.clone(),
                    format!(
                        "`{path}` \"{calculation}\" does not parse: {e}; write a formula with \
                         + - * /, parentheses, numbers and field codes"
                    ),
                ));
                continue;
            }
        };
        for name in expr.names().into_iter().filter(|n| !n.contains('.')) {
            if !codes.contains(&name) {
                out.push(Finding::error(
                    DERIVED_CALCULATION,
                    path.clone(),
                    format!(
                        "`{path}` names `{name}`, which is not a field of this meter{}; \
                         it has: {}",
                        did_you_mean(name, &codes),
                        list(&codes)
                    ),
                ));
            } else if let Some(o) = fields
                .iter()
                .find(|o| o.code == name && o.calculation.is_some())
            {
                edges.entry(f.code).or_default().push(o.code);
            }
        }
    }
    for f in fields.iter().filter(|f| f.calculation.is_some()) {
        if let Some(cycle) = cycle_from(f.code, &edges)
            // Report each loop once, at its first field in meter order.
            && fields.iter().find(|o| cycle.contains(&o.code)).map(|o| o.code) == Some(f.code)
        {
            let path = format!("{}.calculation", f.path);
            out.push(Finding::error(
                DERIVED_CALCULATION,
                path.clone(),
                format!(
                    "`{path}` makes a loop of derived fields: {}; a derived field cannot \
                     depend on itself, so compute one of them from data fields only",
                    cycle.join(" -> ")
                ),
            ));
        }
    }
}

/// The loop `start -> … -> start`, if `start` is on one.
fn cycle_from<'a>(start: &'a str, edges: &HashMap<&'a str, Vec<&'a str>>) -> Option<Vec<&'a str>> {
    fn walk<'a>(
        at: &'a str,
        start: &'a str,
        edges: &HashMap<&'a str, Vec<&'a str>>,
        path: &mut Vec<&'a str>,
    ) -> bool {
        for &next in edges.get(at).into_iter().flatten() {
            if next == start {
                path.push(next);
                return true;
            }
            if path.contains(&next) {
                continue;
            }
            path.push(next);
            if walk(next, start, edges, path) {
                return true;
            }
            path.pop();
        }
        false
    }
    let mut path = vec![start];
    walk(start, start, edges, &mut path).then_some(path)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::Kind;
    use crate::rules::fixture::{Fixture, body};

    fn meter(data: Value, derived: Value) -> crate::rules::Body {
        body(json!({"code": "m", "name": "M", "dataFields": data, "derivedFields": derived}))
    }

    fn good() -> crate::rules::Body {
        meter(
            json!([{"category": "MEASURE", "code": "gb", "name": "GB", "unit": "GB"},
                   {"category": "MEASURE", "code": "s", "name": "S", "unit": "s"},
                   {"category": "WHO", "code": "user", "name": "User"}]),
            json!([{"category": "MEASURE", "code": "gbs", "name": "GBs", "unit": "GB-s", "calculation": "gb*s"},
                   {"category": "MEASURE", "code": "twice", "name": "T", "unit": "GB-s", "calculation": "2 * gbs + account.bonus"}]),
        )
    }

    #[test]
    fn a_good_meter_has_no_findings() {
        assert_eq!(Fixture::default().render(Kind::Meter, &good()), "");
    }

    #[test]
    fn unique_field_codes() {
        let m = meter(
            json!([{"category": "WHO", "code": "q", "name": "Q"}]),
            json!([{"category": "WHO", "code": "q", "name": "Q2", "calculation": "1"}]),
        );
        insta::assert_snapshot!(Fixture::default().render(Kind::Meter, &m));
    }

    #[test]
    fn numeric_fields_need_a_unit() {
        let m = meter(
            json!([{"category": "MEASURE", "code": "q", "name": "Q"},
                   {"category": "WHAT", "code": "w", "name": "W"}]),
            json!([{"category": "COST", "code": "c", "name": "C", "unit": " ", "calculation": "q"}]),
        );
        insta::assert_snapshot!(Fixture::default().render(Kind::Meter, &m));
    }

    #[test]
    fn derived_calculation_parses_and_names_fields() {
        let m = meter(
            json!([{"category": "MEASURE", "code": "memory", "name": "M", "unit": "GB"}]),
            json!([{"category": "MEASURE", "code": "d1", "name": "D1", "unit": "u", "calculation": "memory *"},
                   {"category": "MEASURE", "code": "d2", "name": "D2", "unit": "u", "calculation": "memroy * duration"}]),
        );
        insta::assert_snapshot!(Fixture::default().render(Kind::Meter, &m));
    }

    #[test]
    fn derived_fields_do_not_loop() {
        let m = meter(
            json!([{"category": "MEASURE", "code": "q", "name": "Q", "unit": "u"}]),
            json!([{"category": "MEASURE", "code": "a", "name": "A", "unit": "u", "calculation": "b + q"},
                   {"category": "MEASURE", "code": "b", "name": "B", "unit": "u", "calculation": "c * 2"},
                   {"category": "MEASURE", "code": "c", "name": "C", "unit": "u", "calculation": "a"},
                   {"category": "MEASURE", "code": "s", "name": "S", "unit": "u", "calculation": "s + 1"}]),
        );
        insta::assert_snapshot!(Fixture::default().render(Kind::Meter, &m));
    }
}
