//! Usage: one aggregation routine over measurements, shared by rating and
//! by usage queries, and [`Measurements`], the in-memory [`Usage`].

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::Value;

use m3ter_api::calc as expr;
use m3ter_api::schema::NUMERIC_CATEGORIES;

use crate::fields::{str_of, time_of};
use crate::money::{self, Decimal, add, div};
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
    let field = PreparedQuery::new(query)?;
    let mut acc = Accumulator::new(&field);
    for (ts, m) in measurements {
        acc.add(&field, ts, m);
    }
    acc.value(&field)
}

/// A [`FieldQuery`] resolved once against its meter (the field's kind, its
/// calculation parsed), to feed measurements to [`Accumulator`]s one at a
/// time: a usage query over millions of measurements keeps one accumulator
/// per group and aggregation instead of every decoded measurement.
pub struct PreparedQuery<'q> {
    query: &'q FieldQuery<'q>,
    source: Source,
}

enum Source {
    /// A derived field: its calculation, or why it does not parse (no value).
    Calculated(Option<expr::Expr>),
    Number,
    Text,
}

impl<'q> PreparedQuery<'q> {
    /// None when the field is neither a data nor a derived field of the meter.
    pub fn new(query: &'q FieldQuery<'q>) -> Option<PreparedQuery<'q>> {
        let target = query.field;
        let field = ["dataFields", "derivedFields"]
            .iter()
            .filter_map(|k| query.meter.get(*k).and_then(Value::as_array))
            .flatten()
            .filter_map(Value::as_object)
            .find(|f| str_of(f, "code") == Some(target))?;
        let numeric = str_of(field, "category").is_some_and(|c| NUMERIC_CATEGORIES.contains(&c));
        let source = match str_of(field, "calculation") {
            Some(calc) => Source::Calculated(expr::parse(calc).ok()),
            None if numeric => Source::Number,
            None => Source::Text,
        };
        Some(PreparedQuery { query, source })
    }
}

/// One aggregation's running value over the measurements added so far.
pub struct Accumulator {
    sum: Decimal,
    min: Decimal,
    max: Decimal,
    numbers: usize,
    strings: usize,
    /// Measurements [`Accumulator::add`]ed: the arrival of the next one.
    added: u64,
    /// The value with the greatest (`ts`, arrival).
    latest: Option<(DateTime<Utc>, u64, Decimal)>,
    /// Only for UNIQUE: the distinct values (numbers normalised).
    distinct: Option<HashSet<String>>,
}

impl Accumulator {
    /// An empty accumulator for `query`.
    pub fn new(query: &PreparedQuery<'_>) -> Accumulator {
        Accumulator {
            sum: Decimal::ZERO,
            // Over no number at all (a string field), the bound stands.
            min: Decimal::MAX,
            max: Decimal::MIN,
            numbers: 0,
            strings: 0,
            added: 0,
            latest: None,
            distinct: (query.query.function == "UNIQUE").then(HashSet::new),
        }
    }

    /// Adds one measurement of the query's meter (skipped when `ts` is
    /// outside the window or it is outside the segment); it arrived after
    /// every one added before it.
    pub fn add<M: MeasurementFields + ?Sized>(
        &mut self,
        query: &PreparedQuery<'_>,
        ts: DateTime<Utc>,
        m: &M,
    ) {
        let arrival = self.added;
        self.added += 1;
        self.add_arrived(query, ts, arrival, m);
    }

    /// [`Accumulator::add`] with the measurement's place in arrival order
    /// given (a store's row number, say), for accumulators that are filled
    /// apart and then [`merge`](Accumulator::merge)d: LATEST's tie on `ts`
    /// goes to the greater `arrival`.
    pub fn add_arrived<M: MeasurementFields + ?Sized>(
        &mut self,
        query: &PreparedQuery<'_>,
        ts: DateTime<Utc>,
        arrival: u64,
        m: &M,
    ) {
        let q = query.query;
        if !q.window.contains(ts) || !q.segment.is_none_or(|seg| in_segment(m, seg)) {
            return;
        }
        let number = match &query.source {
            Source::Calculated(calc) => calc
                .as_ref()
                .and_then(|e| e.eval(&|name| m.number(name)?.as_f64()).ok())
                .map(money::from_f64),
            Source::Number => m.number(q.field).map(money::decimal_of),
            Source::Text => {
                if let Some(s) = m.string(q.field) {
                    self.strings += 1;
                    if let Some(d) = &mut self.distinct {
                        d.insert(s.to_owned());
                    }
                }
                return;
            }
        };
        let Some(v) = number else { return };
        self.numbers += 1;
        self.sum = add(self.sum, v);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.keep_latest((ts, arrival, v));
        if let Some(d) = &mut self.distinct {
            d.insert(v.normalize().to_string());
        }
    }

    fn keep_latest(&mut self, candidate: (DateTime<Utc>, u64, Decimal)) {
        if self
            .latest
            .is_none_or(|(t, a, _)| (candidate.0, candidate.1) >= (t, a))
        {
            self.latest = Some(candidate);
        }
    }

    /// Takes in `other`'s measurements (of the same query), as if each had
    /// been added here; their arrivals must come from the same count as
    /// this one's ([`Accumulator::add_arrived`]).
    pub fn merge(&mut self, other: Accumulator) {
        self.sum = add(self.sum, other.sum);
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.numbers += other.numbers;
        self.strings += other.strings;
        self.added = self.added.max(other.added);
        if let Some(latest) = other.latest {
            self.keep_latest(latest);
        }
        if let (Some(mine), Some(theirs)) = (&mut self.distinct, other.distinct) {
            mine.extend(theirs);
        }
    }

    /// The aggregated value; None when no measurement had a value for the
    /// field (rating then uses the aggregation's `defaultValue`).
    pub fn value(self, query: &PreparedQuery<'_>) -> Option<Decimal> {
        let count = self.numbers + self.strings;
        if count == 0 {
            return None;
        }
        Some(match query.query.function {
            "SUM" => self.sum,
            "MIN" => self.min,
            "MAX" => self.max,
            "COUNT" => Decimal::from(count),
            "MEAN" if self.numbers > 0 => div(self.sum, Decimal::from(self.numbers)),
            "LATEST" => self.latest.map_or(Decimal::ZERO, |(_, _, v)| v),
            "UNIQUE" => Decimal::from(self.distinct.map_or(0, |d| d.len())),
            _ => Decimal::ZERO, // CUSTOM_SQL is not modelled
        })
    }
}

/// What aggregation reads of a measurement: its number fields (the
/// `measure`, `cost` and `income` maps, in that order, the first that has
/// the code as a number) and its string fields (`who`, `what`, `where`,
/// `other`, `metadata`). [`Object`] is the API form; a store can implement
/// it over a lighter decoding of its rows.
pub trait MeasurementFields {
    /// A number field as a JSON number.
    fn number(&self, code: &str) -> Option<&serde_json::Number>;
    /// A string field.
    fn string(&self, code: &str) -> Option<&str>;
}

impl MeasurementFields for Object {
    fn number(&self, code: &str) -> Option<&serde_json::Number> {
        NUMBER_MAPS
            .iter()
            .filter_map(|k| self.get(*k).and_then(Value::as_object))
            .find_map(|map| map.get(code).and_then(Value::as_number))
    }
    fn string(&self, code: &str) -> Option<&str> {
        STRING_MAPS
            .iter()
            .filter_map(|k| self.get(*k).and_then(Value::as_object))
            .find_map(|map| map.get(code).and_then(Value::as_str))
    }
}

/// Whether a measurement's string fields match a pricing segment (`*` = any).
fn in_segment<M: MeasurementFields + ?Sized>(m: &M, segment: &Object) -> bool {
    segment.iter().all(|(field, want)| match want.as_str() {
        Some("*") => true,
        Some(w) => m.string(field) == Some(w),
        None => false,
    })
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
    fn each_function_over_measurements_fed_one_at_a_time() {
        let meter = obj(json!({"id": "m1",
            "dataFields": [{"code": "q", "category": "MEASURE"}, {"code": "who", "category": "WHO"}],
            "derivedFields": [{"code": "twice", "category": "MEASURE", "calculation": "q * 2"}]}));
        let at = |s: &str| m3ter_api::validate::parse_date_time(s).unwrap();
        let window = Window {
            from: at("2024-12-01T00:00:00Z"),
            to: at("2025-01-01T00:00:00Z"),
        };
        let rows: Vec<(DateTime<Utc>, Object)> = [
            ("2024-12-05T00:00:00Z", 4.0, "a"),
            ("2024-12-09T00:00:00Z", 1.5, "b"),
            ("2024-12-09T00:00:00Z", 2.5, "a"), // same ts, later arrival: LATEST
            ("2024-12-02T00:00:00Z", 3.0, "a"),
            ("2025-01-01T00:00:00Z", 99.0, "a"), // outside the window
        ]
        .iter()
        .map(|(ts, q, who)| {
            (
                at(ts),
                obj(json!({"measure": {"q": q}, "who": {"who": who}})),
            )
        })
        .collect();
        let value = |field: &str, function: &str| {
            let query = FieldQuery {
                meter: &meter,
                field,
                function,
                window,
                segment: None,
            };
            let prepared = PreparedQuery::new(&query)?;
            let mut acc = Accumulator::new(&prepared);
            for (ts, m) in &rows {
                acc.add(&prepared, *ts, m);
            }
            let whole = acc.value(&prepared).map(|d| d.normalize().to_string());
            // Filled apart (alternate measurements, arrivals given) and
            // merged, in either order: the same value.
            let apart = |first: usize| {
                let mut parts = [Accumulator::new(&prepared), Accumulator::new(&prepared)];
                for (i, (ts, m)) in rows.iter().enumerate() {
                    parts[(i + first) % 2].add_arrived(&prepared, *ts, i as u64, m);
                }
                let [mut a, b] = parts;
                a.merge(b);
                a.value(&prepared).map(|d| d.normalize().to_string())
            };
            assert_eq!(apart(0), whole, "{function}({field}) merged");
            assert_eq!(apart(1), whole, "{function}({field}) merged the other way");
            whole
        };
        let want = [
            ("q", "SUM", "11"),
            ("q", "MIN", "1.5"),
            ("q", "MAX", "4"),
            ("q", "COUNT", "4"),
            ("q", "MEAN", "2.75"),
            ("q", "LATEST", "2.5"),
            ("q", "UNIQUE", "4"),
            ("twice", "SUM", "22"),
            ("who", "UNIQUE", "2"),
            ("who", "COUNT", "4"),
        ];
        for (field, function, v) in want {
            assert_eq!(
                value(field, function).as_deref(),
                Some(v),
                "{function}({field})"
            );
        }
        assert_eq!(value("none", "SUM"), None, "not a field of the meter");
    }
}
