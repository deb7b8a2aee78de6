//! Answers a checked usage query ([`crate::usage::Query`]) from the
//! database: raw measurements newest first, or one row per meter and group
//! whose values [`crate::rating::aggregate`] computes, the function bills
//! are rated with. Measurements are read by index range per (account,
//! meter) and decoded one at a time; with an ACCOUNT group one account's
//! are held at a time.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, Timelike, Utc};
use serde_json::{Value, json};

use m3ter_api::validate::parse_date_time;

use crate::db::{Db, StoreError};
use crate::money;
use crate::rating::{FieldQuery, Window, aggregate};
use crate::store::Object;
use crate::usage::{Frequency, MeterQuery, Query};

const STRING_MAPS: &[&str] = &["who", "what", "where", "other", "metadata"];

/// The response's `data` and `hasMoreData`.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) data: Vec<Value>,
    pub(crate) has_more: bool,
}

/// Answers `q` from `db`.
pub(crate) fn answer(q: &Query, db: &Db) -> Result<Answer, StoreError> {
    if q.aggregated {
        rows(q, db)
    } else {
        raw(q, db)
    }
}

/// The whole milliseconds `[from, to]` to read; [`accepts`] filters exactly.
fn millis(w: Window) -> (i64, i64) {
    (w.from.timestamp_millis(), w.to.timestamp_millis())
}

/// The measurement's `ts` if it is in the window and it passes the
/// meter's dimension filters.
fn accepts(m: &Object, mq: &MeterQuery, window: Window) -> Option<DateTime<Utc>> {
    let ts = m
        .get("ts")
        .and_then(Value::as_str)
        .and_then(parse_date_time)
        .filter(|t| window.contains(*t))?;
    mq.filters
        .iter()
        .all(|(code, values)| string_field(m, code).is_some_and(|v| values.contains(v)))
        .then_some(ts)
}

fn string_field<'m>(m: &'m Object, code: &str) -> Option<&'m str> {
    STRING_MAPS
        .iter()
        .filter_map(|k| m.get(*k).and_then(Value::as_object))
        .find_map(|map| map.get(code).and_then(Value::as_str))
}

fn decode(body: &str) -> Object {
    serde_json::from_str(body).unwrap_or_default()
}

/// No aggregations: the measurements as ingested (plus `meterId` and
/// `accountId`), most recently received first, at most `limit`.
fn raw(q: &Query, db: &Db) -> Result<Answer, StoreError> {
    let meters: Vec<&str> = q.meters.iter().map(|m| m.id.as_str()).collect();
    let accounts: Option<Vec<&str>> = q
        .accounts
        .as_ref()
        .map(|a| a.iter().map(String::as_str).collect());
    let (from, to) = millis(q.window);
    let mut data = Vec::new();
    let mut has_more = false;
    db.visit_newest_first(accounts.as_deref(), &meters, from, to, |account, meter, body| {
        let Some(mq) = q.meters.iter().find(|m| m.id == meter) else {
            return true;
        };
        let mut m = decode(body);
        if accepts(&m, mq, q.window).is_none() {
            return true;
        }
        if data.len() == q.limit {
            has_more = true;
            return false;
        }
        m.insert("meterId".into(), json!(meter));
        m.insert("accountId".into(), json!(account));
        data.push(Value::Object(m));
        true
    })?;
    Ok(Answer { data, has_more })
}

/// A row's group within its meter (and account): time bucket, then the
/// values of the meter's DIMENSION groups (None = the field is missing).
type GroupKey = (Option<DateTime<Utc>>, Vec<Option<String>>);

/// Aggregations: one row per meter and group with a measurement.
fn rows(q: &Query, db: &Db) -> Result<Answer, StoreError> {
    let (from, to) = millis(q.window);
    let mut out = Rows {
        q,
        data: Vec::new(),
        has_more: false,
    };
    for mq in &q.meters {
        let accounts = match &q.accounts {
            Some(a) => a.clone(),
            None => db.measurement_accounts(&mq.id)?,
        };
        let mut groups: BTreeMap<GroupKey, Vec<Object>> = BTreeMap::new();
        for account in &accounts {
            db.visit_measurements(account, &mq.id, from, to, |_, body| {
                let mut m = decode(body);
                let Some(ts) = accepts(&m, mq, q.window) else {
                    return;
                };
                let key = (
                    q.by_time.map(|f| bucket(ts, f)),
                    mq.dimensions
                        .iter()
                        .map(|d| string_field(&m, d).map(str::to_owned))
                        .collect(),
                );
                // What aggregate matches measurements to the meter by.
                m.insert("meterId".into(), json!(mq.id));
                groups.entry(key).or_default().push(m);
            })?;
            if q.by_account {
                let groups = std::mem::take(&mut groups);
                if !out.emit(mq, Some(account), groups) {
                    return Ok(out.done());
                }
            }
        }
        if !q.by_account && !out.emit(mq, None, groups) {
            return Ok(out.done());
        }
    }
    Ok(out.done())
}

/// The rows answered so far.
struct Rows<'q> {
    q: &'q Query,
    data: Vec<Value>,
    has_more: bool,
}

impl Rows<'_> {
    /// Adds the rows of one meter (and account); false once `limit` is
    /// passed (`hasMoreData`).
    fn emit(
        &mut self,
        mq: &MeterQuery,
        account: Option<&str>,
        groups: BTreeMap<GroupKey, Vec<Object>>,
    ) -> bool {
        for ((time, dims), measurements) in groups {
            if self.data.len() == self.q.limit {
                self.has_more = true;
                return false;
            }
            let mut values = Object::new();
            for a in &mq.aggregations {
                let query = FieldQuery {
                    meter: &mq.meter,
                    field: &a.field,
                    function: &a.function,
                    window: self.q.window,
                    segment: None,
                };
                let v = aggregate(&query, &measurements).map_or(Value::Null, money::number);
                values.insert(a.key(), v);
            }
            let mut row = Object::new();
            row.insert("meterId".into(), json!(mq.id));
            if let Some(account) = account {
                row.insert("accountId".into(), json!(account));
            }
            if let Some(t) = time {
                row.insert(
                    "timeGroup".into(),
                    json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                );
            }
            if self.q.by_dimension {
                let d: Object = mq
                    .dimensions
                    .iter()
                    .cloned()
                    .zip(dims.into_iter().map(|v| v.map_or(Value::Null, Value::from)))
                    .collect();
                row.insert("dimensions".into(), Value::Object(d));
            }
            row.insert("values".into(), Value::Object(values));
            self.data.push(Value::Object(row));
        }
        true
    }

    fn done(self) -> Answer {
        Answer {
            data: self.data,
            has_more: self.has_more,
        }
    }
}

/// The start of the bucket holding `t` (UTC; weeks start on Monday).
fn bucket(t: DateTime<Utc>, f: Frequency) -> DateTime<Utc> {
    let d = t.date_naive();
    let day = match f {
        Frequency::Hour => {
            return d
                .and_hms_opt(t.hour(), 0, 0)
                .map_or(t, |h| h.and_utc());
        }
        Frequency::Day => d,
        Frequency::Week => d
            .checked_sub_days(Days::new(u64::from(d.weekday().num_days_from_monday())))
            .unwrap_or(d),
        Frequency::Month => d.with_day(1).unwrap_or(d),
        Frequency::Quarter => {
            NaiveDate::from_ymd_opt(d.year(), d.month0() / 3 * 3 + 1, 1).unwrap_or(d)
        }
    };
    day.and_time(NaiveTime::MIN).and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        parse_date_time(s).expect("a date-time")
    }

    #[test]
    fn buckets_start_at_the_hour_day_monday_month_and_quarter() {
        let t = at("2026-11-18T13:45:10.5Z"); // a Wednesday
        let cases = [
            (Frequency::Hour, "2026-11-18T13:00:00Z"),
            (Frequency::Day, "2026-11-18T00:00:00Z"),
            (Frequency::Week, "2026-11-16T00:00:00Z"),
            (Frequency::Month, "2026-11-01T00:00:00Z"),
            (Frequency::Quarter, "2026-10-01T00:00:00Z"),
        ];
        for (f, want) in cases {
            assert_eq!(bucket(t, f), at(want), "{f:?}");
        }
        // A Monday is its own week's start; January is Q1.
        assert_eq!(
            bucket(at("2026-11-16T00:00:00Z"), Frequency::Week),
            at("2026-11-16T00:00:00Z")
        );
        assert_eq!(
            bucket(at("2026-02-28T23:59:59Z"), Frequency::Quarter),
            at("2026-01-01T00:00:00Z")
        );
    }
}
