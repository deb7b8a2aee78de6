//! Answers a checked usage query ([`crate::usage::Query`]) from the
//! database: raw measurements newest first, or one row per meter and group
//! whose values [`m3ter_rating::Accumulator`] computes, the code bills
//! are rated with. Measurements are read by one table scan or by index
//! range per (account, meter) (`Db::scan_is_cheaper` chooses), each decoded
//! once into its group's running accumulators and dropped.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, Timelike, Utc};
use serde_json::{Value, json};

use m3ter_api::validate::parse_date_time;

use crate::db::{Db, StoreError};
use crate::money;
use crate::parallel;
use crate::rated::RatedMeasurement;
use crate::rating::{Accumulator, FieldQuery, MeasurementFields, PreparedQuery, Window};
use crate::scan::{self, Route};
use crate::store::Object;
use crate::usage::{Frequency, MeterQuery, Query};

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
fn accepts<M: MeasurementFields>(
    ts: Option<&str>,
    m: &M,
    mq: &MeterQuery,
    window: Window,
) -> Option<DateTime<Utc>> {
    let ts = ts
        .and_then(parse_date_time)
        .filter(|t| window.contains(*t))?;
    mq.filters
        .iter()
        .all(|(code, values)| m.string(code).is_some_and(|v| values.contains(v)))
        .then_some(ts)
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
    db.visit_newest_first(
        accounts.as_deref(),
        &meters,
        from,
        to,
        |account, meter, body| {
            let Some(mq) = q.meters.iter().find(|m| m.id == meter) else {
                return true;
            };
            let mut m = decode(body);
            let ts = m.get("ts").and_then(Value::as_str);
            if accepts(ts, &m, mq, q.window).is_none() {
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
        },
    )?;
    Ok(Answer { data, has_more })
}

/// A row's group within its meter (and account): time bucket, then the
/// values of the meter's DIMENSION groups (None = the field is missing).
type GroupKey = (Option<DateTime<Utc>>, Vec<Option<String>>);
/// Per group, one accumulator per aggregation of the meter query (None:
/// the field is not the meter's, the value is null).
type Groups = BTreeMap<GroupKey, Vec<Option<Accumulator>>>;

/// Accounts rated per batch with an ACCOUNT group: enough to keep every
/// worker busy, few enough that a small `limit` stops early.
const BATCH: usize = 64;

/// Aggregations: one row per meter and group with a measurement.
fn rows(q: &Query, db: &Db) -> Result<Answer, StoreError> {
    let mut out = Rows {
        q,
        data: Vec::new(),
        has_more: false,
    };
    let (from, to) = millis(q.window);
    for mq in &q.meters {
        let queries = field_queries(q, mq);
        let prepared: Vec<Option<PreparedQuery<'_>>> =
            queries.iter().map(PreparedQuery::new).collect();
        let prepared = prepared.as_slice();
        if scan_is_cheaper(q, mq, db)? {
            if !by_scan(q, mq, prepared, db, &mut out)? {
                break;
            }
            continue;
        }
        let accounts = match &q.accounts {
            Some(a) => a.clone(),
            None => db.measurement_accounts(&mq.id)?,
        };
        let read = |account: &String| -> Result<Vec<String>, StoreError> {
            let mut bodies = Vec::new();
            db.visit_measurements(account, &mq.id, from, to, |_, body| {
                bodies.push(body.to_owned());
            })?;
            Ok(bodies)
        };
        if !q.by_account {
            let mut groups = Groups::new();
            for account in &accounts {
                let bodies = read(account)?;
                group(
                    q,
                    mq,
                    prepared,
                    bodies.iter().map(String::as_str),
                    &mut groups,
                );
            }
            if !out.push(rows_of(q, mq, prepared, None, groups)) {
                break;
            }
            continue;
        }
        // Accounts are independent: each is read, decoded and aggregated
        // on its own, on every core; rows keep the accounts' order. The
        // bodies are copied out under the database's lock and decoded
        // after it, so workers decode in parallel.
        for batch in accounts.chunks(BATCH) {
            let per_account = parallel::map(batch, |account| {
                let mut groups = Groups::new();
                let bodies = read(account)?;
                group(
                    q,
                    mq,
                    prepared,
                    bodies.iter().map(String::as_str),
                    &mut groups,
                );
                Ok(rows_of(q, mq, prepared, Some(account), groups))
            })?;
            if !per_account.into_iter().all(|rows| out.push(rows)) {
                return Ok(out.done());
            }
        }
    }
    Ok(out.done())
}

/// Whether to read the meter's measurements by one scan of the table
/// rather than by index range per account: always without `accountIds`,
/// else as [`Db::scan_is_cheaper`] estimates.
fn scan_is_cheaper(q: &Query, mq: &MeterQuery, db: &Db) -> Result<bool, StoreError> {
    let Some(accounts) = &q.accounts else {
        return Ok(true);
    };
    let (from, to) = millis(q.window);
    db.scan_is_cheaper(accounts, &mq.id, from, to)
}

/// The meter's rows from one scan of the table; false once `limit` is passed.
fn by_scan(
    q: &Query,
    mq: &MeterQuery,
    prepared: &[Option<PreparedQuery<'_>>],
    db: &Db,
    out: &mut Rows<'_>,
) -> Result<bool, StoreError> {
    let (from, to) = millis(q.window);
    let wanted: Option<std::collections::HashSet<&str>> = q
        .accounts
        .as_ref()
        .map(|a| a.iter().map(String::as_str).collect());
    let keep = |account: &str| wanted.as_ref().is_none_or(|w| w.contains(account));
    if !q.by_account {
        // One group set, filled in arrival order.
        let mut groups = Groups::new();
        db.scan_measurements(&mq.id, from, to, |account, body| {
            if keep(account) {
                group(q, mq, prepared, [body], &mut groups);
            }
        })?;
        return Ok(out.push(rows_of(q, mq, prepared, None, groups)));
    }
    // Each account's measurements go to one worker, in arrival order
    // (LATEST's tie rule), so no groups need merging.
    let mut names: Vec<String> = q.accounts.iter().flatten().cloned().collect();
    let mut index: HashMap<String, usize> = names
        .iter()
        .enumerate()
        .map(|(i, a)| (a.clone(), i))
        .collect();
    let open = q.accounts.is_none();
    let states = scan::scan(
        db,
        (&mq.id, from, to),
        Route::ByAccount,
        |account| match index.get(account) {
            Some(i) => Some(*i),
            None if open => {
                index.insert(account.to_owned(), names.len());
                names.push(account.to_owned());
                Some(names.len() - 1)
            }
            None => None,
        },
        HashMap::<usize, Groups>::new,
        |mine, account, _, body| {
            group(q, mq, prepared, [body], mine.entry(account).or_default());
        },
    )?;
    let per_account: HashMap<usize, Groups> = states.into_iter().flatten().collect();
    // Rows in account order; accounts without measurements have none.
    let mut accounts: Vec<(&String, Groups)> = per_account
        .into_iter()
        .map(|(i, groups)| (&names[i], groups))
        .collect();
    accounts.sort_by(|a, b| a.0.cmp(b.0));
    for (account, groups) in accounts {
        if !out.push(rows_of(q, mq, prepared, Some(account), groups)) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The meter query's aggregations as the rating engine's queries (no
/// segment: a usage query filters by its `dimensionFilters` instead).
fn field_queries<'q>(q: &Query, mq: &'q MeterQuery) -> Vec<FieldQuery<'q>> {
    mq.aggregations
        .iter()
        .map(|a| FieldQuery {
            meter: &mq.meter,
            field: &a.field,
            function: &a.function,
            window: q.window,
            segment: None,
        })
        .collect()
}

/// Adds the measurements (stored bodies) in the window that pass the
/// meter's filters to their groups' accumulators; each is decoded once
/// and dropped once added, so a group holds its running values, not its
/// measurements.
fn group<'b>(
    q: &Query,
    mq: &MeterQuery,
    prepared: &[Option<PreparedQuery<'_>>],
    bodies: impl IntoIterator<Item = &'b str>,
    groups: &mut Groups,
) {
    for body in bodies {
        let Some(m) = RatedMeasurement::parse(body) else {
            continue;
        };
        let Some(ts) = accepts(Some(&m.ts), &m, mq, q.window) else {
            continue;
        };
        let key = (
            q.by_time.map(|f| bucket(ts, f)),
            mq.dimensions
                .iter()
                .map(|d| m.string(d).map(str::to_owned))
                .collect(),
        );
        let accumulators = groups.entry(key).or_insert_with(|| {
            prepared
                .iter()
                .map(|p| p.as_ref().map(Accumulator::new))
                .collect()
        });
        for (acc, p) in accumulators.iter_mut().zip(prepared) {
            if let (Some(acc), Some(p)) = (acc, p) {
                acc.add(p, ts, &m);
            }
        }
    }
}

/// The rows of one meter (and account), in group order.
fn rows_of(
    q: &Query,
    mq: &MeterQuery,
    prepared: &[Option<PreparedQuery<'_>>],
    account: Option<&str>,
    groups: Groups,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(groups.len());
    for ((time, dims), accumulators) in groups {
        let mut values = Object::new();
        for ((a, acc), p) in mq.aggregations.iter().zip(accumulators).zip(prepared) {
            let v = match (acc, p) {
                (Some(acc), Some(p)) => acc.value(p),
                _ => None,
            };
            values.insert(a.key(), v.map_or(Value::Null, money::number));
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
        if q.by_dimension {
            let d: Object = mq
                .dimensions
                .iter()
                .cloned()
                .zip(dims.into_iter().map(|v| v.map_or(Value::Null, Value::from)))
                .collect();
            row.insert("dimensions".into(), Value::Object(d));
        }
        row.insert("values".into(), Value::Object(values));
        out.push(Value::Object(row));
    }
    out
}

/// The rows answered so far.
struct Rows<'q> {
    q: &'q Query,
    data: Vec<Value>,
    has_more: bool,
}

impl Rows<'_> {
    /// Adds `rows`; false once `limit` is passed (`hasMoreData`).
    fn push(&mut self, rows: Vec<Value>) -> bool {
        for row in rows {
            if self.data.len() == self.q.limit {
                self.has_more = true;
                return false;
            }
            self.data.push(row);
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
            return d.and_hms_opt(t.hour(), 0, 0).map_or(t, |h| h.and_utc());
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
    use crate::store::Change;

    fn obj(v: Value) -> Object {
        v.as_object().cloned().expect("an object")
    }

    /// Account `small` has 3 of 103 measurements (read by index), `big`
    /// the rest; without `accountIds` the meter is scanned.
    fn db() -> Db {
        let db = Db::memory().expect("db");
        let mut changes = Vec::new();
        let mut put = |account: &str, ts: String, n: i64, region: &str| {
            let value = json!({"uid": format!("u{}", changes.len()), "ts": ts, "accountId": account,
                "meterId": "m", "measure": {"units": n}, "where": {"region": region}});
            changes.push(Change::Measurement { value: obj(value) });
        };
        put("small", "2026-11-02T00:00:00Z".into(), 4, "eu");
        for i in 0..100 {
            put(
                "big",
                format!("2026-11-{:02}T01:00:00Z", 1 + i % 28),
                i,
                "us",
            );
        }
        put("small", "2026-11-20T00:00:00Z".into(), 6, "us");
        put("small", "2026-12-01T00:00:00Z".into(), 100, "us"); // after the window
        db.write(&changes).expect("write");
        db
    }

    fn meter() -> Object {
        obj(json!({"id": "m", "code": "m", "dataFields": [
            {"code": "units", "category": "MEASURE"}, {"code": "region", "category": "WHERE"}],
            "derivedFields": [{"code": "twice", "category": "MEASURE", "calculation": "units*2"}]}))
    }

    fn ask(db: &Db, body: Value) -> Answer {
        let q = crate::usage::parse(&obj(body), &[meter()], true).expect("a valid query");
        answer(&q, db).expect("an answer")
    }

    #[test]
    fn index_reads_and_the_scan_answer_alike() {
        let db = db();
        let aggs = json!([
            {"meterId": "m", "fieldCode": "units", "fieldType": "MEASURE", "function": "SUM"},
            {"meterId": "m", "fieldCode": "twice", "fieldType": "MEASURE", "function": "LATEST"},
            {"meterId": "m", "fieldCode": "region", "fieldType": "DIMENSION", "function": "UNIQUE"}]);
        let window = |extra: Value| {
            let mut b = obj(
                json!({"startDate": "2026-11-01T00:00:00Z", "endDate": "2026-12-01T00:00:00Z",
                "aggregations": aggs, "groups": [{"groupType": "ACCOUNT"}]}),
            );
            b.extend(obj(extra));
            Value::Object(b)
        };
        let by_index = ask(&db, window(json!({"accountIds": ["small"]})));
        let scanned = ask(&db, window(json!({})));
        let want = json!({"meterId": "m", "accountId": "small",
            "values": {"region:UNIQUE": 2.0, "twice:LATEST": 12.0, "units:SUM": 10.0}});
        assert_eq!(by_index.data, vec![want.clone()]);
        // Rows in account id order: big, then small.
        assert_eq!(scanned.data.len(), 2);
        assert_eq!(scanned.data[1], want);
        assert_eq!(scanned.data[0]["values"]["units:SUM"], json!(4950.0));

        // Raw, by index and by the backward scan: newest received first.
        let raw = |extra: Value| {
            let mut b = obj(
                json!({"startDate": "2026-11-01T00:00:00Z", "endDate": "2026-12-01T00:00:00Z"}),
            );
            b.extend(obj(extra));
            ask(&db, Value::Object(b))
        };
        let small = raw(json!({"accountIds": ["small"]}));
        let units: Vec<&Value> = small.data.iter().map(|m| &m["measure"]["units"]).collect();
        assert_eq!(units, [&json!(6), &json!(4)]);
        let all = raw(json!({"limit": 2}));
        assert_eq!(all.data[0]["measure"]["units"], json!(6));
        assert_eq!(all.data[1]["measure"]["units"], json!(99));
        assert!(all.has_more);
    }

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
