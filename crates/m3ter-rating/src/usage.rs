//! Usage: one aggregation routine over measurements, shared by rating and
//! by usage queries, and [`Measurements`], the in-memory [`Usage`].

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::Value;

use m3ter_api::calc as expr;
use m3ter_api::schema::NUMERIC_CATEGORIES;

use crate::fields::{str_of, time_of};
use crate::money::{self, Decimal, add, decimal, div};
use crate::{Object, Usage, Window};

const NUMBER_MAPS: &[&str] = &["measure", "cost", "income"];
const STRING_MAPS: &[&str] = &["who", "what", "where", "other", "metadata"];

/// One aggregation function over one field of one meter, in a window and
/// optionally one pricing segment: what a simple aggregation rates and
/// what a usage query answers. The two share this function so that a bill
/// and a preview built from usage queries cannot disagree.
pub struct FieldQuery<'a> {
    /// The meter (API form: `id`, `dataFields`, `derivedFields`).
    pub meter: &'a Object,
    /// The target field's code (a data field or a derived field).
    pub field: &'a str,
    /// SUM, MIN, MAX, COUNT, MEAN, LATEST or UNIQUE (anything else is 0).
    pub function: &'a str,
    /// Only measurements whose `ts` is in the window.
    pub window: Window,
    /// Only measurements whose string fields match (`*` = any value).
    pub segment: Option<&'a Object>,
}

/// The value of `query` over `measurements` (any account's and meter's:
/// those of other meters or outside the window are skipped); None when the
/// field is not the meter's or no measurement has a value for it, where
/// rating uses the aggregation's `defaultValue`.
pub fn aggregate<'m>(
    query: &FieldQuery<'_>,
    measurements: impl IntoIterator<Item = &'m Object>,
) -> Option<Decimal> {
    let meter_id = str_of(query.meter, "id");
    let timed = measurements
        .into_iter()
        .filter(|m| str_of(m, "meterId") == meter_id)
        .filter_map(|m| Some((time_of(m, "ts")?, m)));
    aggregate_timed(query, timed)
}

/// [`aggregate`] over measurements of the query's meter whose `ts` is
/// already read.
fn aggregate_timed<'m>(
    query: &FieldQuery<'_>,
    measurements: impl IntoIterator<Item = (DateTime<Utc>, &'m Object)>,
) -> Option<Decimal> {
    let target = query.field;
    let field = ["dataFields", "derivedFields"]
        .iter()
        .filter_map(|k| query.meter.get(*k).and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_object)
        .find(|f| str_of(f, "code") == Some(target))?;
    let numeric = str_of(field, "category").is_some_and(|c| NUMERIC_CATEGORIES.contains(&c));
    // Parsed once, not per measurement: a bill run rates millions.
    let calculation = str_of(field, "calculation").map(expr::parse);

    let mut numbers: Vec<(DateTime<Utc>, Decimal)> = Vec::new();
    let mut strings: Vec<String> = Vec::new();
    for (ts, m) in measurements {
        if !query.window.contains(ts) {
            continue;
        }
        if !query.segment.is_none_or(|seg| in_segment(m, seg)) {
            continue;
        }
        if let Some(calc) = &calculation {
            if let Ok(v) = calc
                .as_ref()
                .map_err(|_| ())
                .and_then(|e| e.eval(&|name| number_in(m, name)).map_err(|_| ()))
            {
                numbers.push((ts, money::from_f64(v)));
            }
        } else if numeric {
            if let Some(v) = decimal_in(m, target) {
                numbers.push((ts, v));
            }
        } else if let Some(s) = string_in(m, target) {
            strings.push(s.to_owned());
        }
    }
    let count = numbers.len() + strings.len();
    if count == 0 {
        return None;
    }
    let mut values = numbers.iter().map(|(_, v)| *v);
    let sum = |values: &mut dyn Iterator<Item = Decimal>| values.fold(Decimal::ZERO, add);
    Some(match query.function {
        "SUM" => sum(&mut values),
        // Over no number at all (a string field), the bound stands.
        "MIN" => values.fold(Decimal::MAX, Decimal::min),
        "MAX" => values.fold(Decimal::MIN, Decimal::max),
        "COUNT" => Decimal::from(count),
        "MEAN" if !numbers.is_empty() => div(sum(&mut values), Decimal::from(numbers.len())),
        // Latest by `ts`; on a tie the later arrival wins.
        "LATEST" => numbers
            .iter()
            .rev()
            .max_by_key(|(ts, _)| *ts)
            .map_or(Decimal::ZERO, |(_, v)| *v),
        "UNIQUE" => {
            let mut distinct: HashSet<String> = strings.into_iter().collect();
            distinct.extend(numbers.iter().map(|(_, v)| v.normalize().to_string()));
            Decimal::from(distinct.len())
        }
        _ => Decimal::ZERO, // CUSTOM_SQL is not modelled
    })
}

/// A number field of a measurement, for the formula evaluator (f64).
fn number_in(m: &Object, code: &str) -> Option<f64> {
    NUMBER_MAPS
        .iter()
        .filter_map(|k| m.get(*k).and_then(Value::as_object))
        .find_map(|map| map.get(code).and_then(Value::as_f64))
}

/// A number field of a measurement, exactly as sent.
fn decimal_in(m: &Object, code: &str) -> Option<Decimal> {
    NUMBER_MAPS
        .iter()
        .filter_map(|k| m.get(*k).and_then(Value::as_object))
        .find_map(|map| map.get(code).and_then(decimal))
}

fn string_in<'m>(m: &'m Object, code: &str) -> Option<&'m str> {
    STRING_MAPS
        .iter()
        .filter_map(|k| m.get(*k).and_then(Value::as_object))
        .find_map(|map| map.get(code).and_then(Value::as_str))
}

/// Whether a measurement's string fields match a pricing segment (`*` = any).
fn in_segment(m: &Object, segment: &Object) -> bool {
    segment.iter().all(|(field, want)| match want.as_str() {
        Some("*") => true,
        Some(w) => string_in(m, field) == Some(w),
        None => false,
    })
}


/// Usage from measurements in memory, read once: grouped by meter, each
/// with its `ts` parsed, so that every aggregation of a bill reads only its
/// meter's measurements (and no `ts` twice). Answers as [`Measurements`]
/// over the same measurements.
pub struct MeasurementIndex<'a> {
    /// Per meter id: the measurements with a `ts`, in the given order, and
    /// the account each names.
    by_meter: HashMap<&'a str, Vec<Timed<'a>>>,
}

struct Timed<'a> {
    ts: DateTime<Utc>,
    account: Option<&'a str>,
    measurement: &'a Object,
}

impl<'a> MeasurementIndex<'a> {
    /// Indexes `measurements` (API form, as for [`Measurements`]).
    pub fn new(measurements: &[&'a Object]) -> MeasurementIndex<'a> {
        let mut by_meter: HashMap<&str, Vec<Timed<'a>>> = HashMap::new();
        for &m in measurements {
            let (Some(meter), Some(ts)) = (str_of(m, "meterId"), time_of(m, "ts")) else {
                continue; // never counted: no meter or no time
            };
            by_meter.entry(meter).or_default().push(Timed {
                ts,
                account: str_of(m, "accountId"),
                measurement: m,
            });
        }
        MeasurementIndex { by_meter }
    }
}

impl Usage for MeasurementIndex<'_> {
    fn aggregate(&self, account_id: &str, query: &FieldQuery<'_>) -> Option<Decimal> {
        let of_meter = str_of(query.meter, "id").and_then(|id| self.by_meter.get(id));
        let own = of_meter
            .into_iter()
            .flatten()
            .filter(|t| t.account.is_none_or(|a| a == account_id))
            .map(|t| (t.ts, t.measurement));
        aggregate_timed(query, own)
    }
}

/// Usage from measurements in memory (API form: `meterId`, `ts`,
/// `measure`/`cost`/`income`/`who`/…). A measurement naming another
/// account (`accountId`) is skipped; one naming none counts for any.
pub struct Measurements<'a>(pub &'a [&'a Object]);

impl Usage for Measurements<'_> {
    fn aggregate(&self, account_id: &str, query: &FieldQuery<'_>) -> Option<Decimal> {
        let own = self
            .0
            .iter()
            .copied()
            .filter(|m| str_of(m, "accountId").is_none_or(|a| a == account_id));
        aggregate(query, own)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::obj;

    #[test]
    fn the_index_answers_as_the_plain_measurements() {
        let meter = obj(json!({"id": "m1", "dataFields": [
            {"code": "q", "category": "MEASURE"}, {"code": "who", "category": "WHO"}]}));
        let at = |s: &str| m3ter_api::validate::parse_date_time(s).unwrap();
        let rows: Vec<Object> = [
            ("m1", "acc", "2024-12-02T00:00:00Z", 1.5, "a"),
            ("m1", "acc", "2024-12-02T00:00:00Z", 2.0, "b"),
            ("m1", "other", "2024-12-03T00:00:00Z", 100.0, "a"),
            ("m2", "acc", "2024-12-03T00:00:00Z", 1000.0, "a"),
            ("m1", "acc", "2025-01-01T00:00:00Z", 7.0, "a"),
            ("m1", "acc", "2024-12-31T23:59:59Z", 0.1, "c"),
        ]
        .iter()
        .map(|(meter, acc, ts, q, who)| {
            obj(json!({"meterId": meter, "accountId": acc, "ts": ts,
                       "measure": {"q": q}, "who": {"who": who}}))
        })
        .collect();
        let refs: Vec<&Object> = rows.iter().collect();
        let (plain, index) = (Measurements(&refs), MeasurementIndex::new(&refs));
        let segment = obj(json!({"who": "a"}));
        let window = Window {
            from: at("2024-12-01T00:00:00Z"),
            to: at("2025-01-01T00:00:00Z"),
        };
        for function in ["SUM", "MIN", "MAX", "COUNT", "MEAN", "LATEST", "UNIQUE"] {
            for field in ["q", "who", "none"] {
                for segment in [None, Some(&segment)] {
                    let query = FieldQuery {
                        meter: &meter,
                        field,
                        function,
                        window,
                        segment,
                    };
                    let want = plain.aggregate("acc", &query);
                    assert_eq!(index.aggregate("acc", &query), want, "{function} {field}");
                }
            }
        }
        let sum = FieldQuery {
            meter: &meter,
            field: "q",
            function: "SUM",
            window,
            segment: None,
        };
        assert_eq!(index.aggregate("acc", &sum), Some("3.6".parse().unwrap()));
    }
}
