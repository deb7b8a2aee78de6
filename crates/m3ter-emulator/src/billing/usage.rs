//! The bills of a job's accounts, rated from the store's measurements by
//! two passes of [`rating::account_bill`], as the tool's bill-impact
//! preview does from usage queries: the first records every aggregation
//! rating asks for; the measurements are then read once per meter and fed
//! straight into those aggregations' running values; the second pass reads
//! the values. No measurement is held once it is added, so a job over a
//! million measurements keeps its aggregations, not its usage.

use std::cell::RefCell;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use m3ter_api::validate::parse_date_time;
use serde_json::Value;

use crate::db::{Db, StoreError};
use crate::money::Decimal;
use crate::parallel;
use crate::rated::{Bodies, RatedMeasurement};
use crate::rating::{
    self, AccountBill, Accumulator, FieldQuery, PreparedQuery, StoreOrg, Usage, Window,
};
use crate::scan::{self, Route};
use crate::store::{Object, Store};

/// Each account's bill for `period`, in the order given: [`rating::account_bill`]
/// over its measurements of the period.
pub(crate) fn bills(
    store: &Store,
    accounts: &[Object],
    period: Window,
) -> Result<Vec<AccountBill>, StoreError> {
    let org = StoreOrg(store);
    let ids: Vec<&str> = accounts
        .iter()
        .map(|a| a.get("id").and_then(Value::as_str).unwrap_or_default())
        .collect();
    let recorder = Recorder::default();
    for account in accounts {
        rating::account_bill(&org, &recorder, account, period);
    }
    let answers = recorder.answer(store.db(), &ids, period)?;
    parallel::map(accounts, |account| {
        Ok(rating::account_bill(&org, &answers, account, period))
    })
}

/// One aggregation rating asked for, owned (rating's query borrows the
/// org's objects only for the call).
struct Asked {
    meter: Object,
    meter_id: String,
    field: String,
    function: String,
    window: Window,
    segment: Option<Object>,
}

impl Asked {
    fn query(&self) -> FieldQuery<'_> {
        FieldQuery {
            meter: &self.meter,
            field: &self.field,
            function: &self.function,
            window: self.window,
            segment: self.segment.as_ref(),
        }
    }
}

/// What tells two asked aggregations apart: meter, field, function,
/// window and segment (as JSON text).
type Key = (String, String, String, DateTime<Utc>, DateTime<Utc>, String);

fn key_of(query: &FieldQuery<'_>) -> Option<Key> {
    let meter_id = query.meter.get("id").and_then(Value::as_str)?;
    Some((
        meter_id.to_owned(),
        query.field.to_owned(),
        query.function.to_owned(),
        query.window.from,
        query.window.to,
        query
            .segment
            .map(|s| Value::Object(s.clone()).to_string())
            .unwrap_or_default(),
    ))
}

/// The first pass: records what rating asks for and answers "no usage".
#[derive(Default)]
struct Recorder {
    asked: RefCell<Asks>,
}

#[derive(Default)]
struct Asks {
    queries: Vec<Asked>,
    index: HashMap<Key, usize>,
    /// Per account id, the queries asked of it.
    by_account: HashMap<String, Vec<usize>>,
}

impl Usage for Recorder {
    fn aggregate(&self, account_id: &str, query: &FieldQuery<'_>) -> Option<Decimal> {
        let key = key_of(query)?;
        let mut asks = self.asked.borrow_mut();
        let Asks {
            queries,
            index,
            by_account,
        } = &mut *asks;
        let q = *index.entry(key).or_insert_with_key(|key| {
            queries.push(Asked {
                meter: query.meter.clone(),
                meter_id: key.0.clone(),
                field: query.field.to_owned(),
                function: query.function.to_owned(),
                window: query.window,
                segment: query.segment.cloned(),
            });
            queries.len() - 1
        });
        let mine = by_account.entry(account_id.to_owned()).or_default();
        if !mine.contains(&q) {
            mine.push(q);
        }
        None
    }
}

/// The second pass's usage: each asked aggregation's value per account.
struct Answers {
    index: HashMap<Key, usize>,
    values: HashMap<(String, usize), Decimal>,
}

impl Usage for Answers {
    fn aggregate(&self, account_id: &str, query: &FieldQuery<'_>) -> Option<Decimal> {
        let q = *self.index.get(&key_of(query)?)?;
        self.values.get(&(account_id.to_owned(), q)).copied()
    }
}

/// Per account (by index), its accumulators of one meter's queries (by
/// the meter's query index; None: rating gets no value).
type Running = HashMap<usize, Vec<Option<Accumulator>>>;

impl Recorder {
    /// Reads each asked meter's measurements of `period` once (by one
    /// table scan when these accounts hold a good share of it, else by
    /// index range per account) into the asked aggregations.
    fn answer(self, db: &Db, accounts: &[&str], period: Window) -> Result<Answers, StoreError> {
        let Asks {
            queries,
            index,
            by_account,
        } = self.asked.into_inner();
        let mut values = HashMap::new();
        // Whole milliseconds, both ends in: each query filters its window.
        let (from_ms, to_ms) = (period.from.timestamp_millis(), period.to.timestamp_millis());
        let mut meters: Vec<&str> = queries.iter().map(|q| q.meter_id.as_str()).collect();
        meters.sort_unstable();
        meters.dedup();
        for meter in meters {
            let mine: Vec<usize> = (0..queries.len())
                .filter(|&q| queries[q].meter_id == meter)
                .collect();
            let fields: Vec<FieldQuery<'_>> = mine.iter().map(|&q| queries[q].query()).collect();
            let prepared: Vec<Option<PreparedQuery<'_>>> =
                fields.iter().map(PreparedQuery::new).collect();
            // Per account, which of the meter's queries it was asked.
            let wants: Vec<Vec<usize>> = accounts
                .iter()
                .map(|a| {
                    let asked = by_account.get(*a).map_or(&[][..], Vec::as_slice);
                    (0..mine.len())
                        .filter(|i| asked.contains(&mine[*i]))
                        .collect()
                })
                .collect();
            let feed = Feed {
                prepared: &prepared,
                wants: &wants,
            };
            let asking: Vec<usize> = (0..accounts.len())
                .filter(|a| !wants[*a].is_empty())
                .collect();
            let named: Vec<String> = asking.iter().map(|a| accounts[*a].to_owned()).collect();
            let read = (meter, from_ms, to_ms);
            let running =
                if asking.len() > 1 && db.scan_is_cheaper(&named, meter, from_ms, to_ms)? {
                    by_scan(db, read, accounts, &asking, &feed)?
                } else {
                    by_index(db, read, accounts, &asking, &feed)?
                };
            for (account, accumulators) in running {
                for (i, acc) in accumulators.into_iter().enumerate() {
                    let (Some(acc), Some(p)) = (acc, &prepared[i]) else {
                        continue;
                    };
                    if let Some(v) = acc.value(p) {
                        values.insert((accounts[account].to_owned(), mine[i]), v);
                    }
                }
            }
        }
        Ok(Answers { index, values })
    }
}

/// The `asking` accounts' measurements of one meter (`read`: meter id and
/// millisecond bounds) by one scan of the table, fed on every core.
fn by_scan(
    db: &Db,
    read: (&str, i64, i64),
    accounts: &[&str],
    asking: &[usize],
    feed: &Feed<'_, '_>,
) -> Result<Running, StoreError> {
    let position: HashMap<&str, usize> = asking.iter().map(|a| (accounts[*a], *a)).collect();
    let states = scan::scan(
        db,
        read,
        Route::AnyWorker,
        |account| position.get(account).copied(),
        Running::new,
        |running, account, arrival, body| feed.add(running, account, arrival, body),
    )?;
    Ok(merge(states))
}

/// The same by index range per account (they are a small share of the
/// table), one account at a time: its bodies are read, then fed in pieces
/// on every core (a job for one account would use one otherwise), and
/// dropped before the next account's are read.
fn by_index(
    db: &Db,
    (meter, from_ms, to_ms): (&str, i64, i64),
    accounts: &[&str],
    asking: &[usize],
    feed: &Feed<'_, '_>,
) -> Result<Running, StoreError> {
    let mut running = Running::new();
    for &account in asking {
        let mut read = Read::default();
        db.visit_measurements(accounts[account], meter, from_ms, to_ms, |n, body| {
            read.bodies.push(body);
            read.arrivals.push(n as u64);
        })?;
        let n = read.arrivals.len();
        let pieces: Vec<std::ops::Range<usize>> = (0..n)
            .step_by(PIECE)
            .map(|a| a..(a + PIECE).min(n))
            .collect();
        let states = parallel::map(&pieces, |range| {
            let mut mine = Running::new();
            for i in range.clone() {
                feed.add(&mut mine, account, read.arrivals[i], read.bodies.get(i));
            }
            Ok(mine)
        })?;
        running.extend(merge(states));
    }
    Ok(running)
}

/// Bodies decoded per piece of an account's, by one worker.
const PIECE: usize = 16_384;

/// One account's bodies read by index, with their arrival numbers.
#[derive(Default)]
struct Read {
    bodies: Bodies,
    arrivals: Vec<u64>,
}

/// The workers' accumulators, merged per account.
fn merge(states: Vec<Running>) -> Running {
    let mut all = Running::new();
    for state in states {
        for (account, accumulators) in state {
            match all.get_mut(&account) {
                None => {
                    all.insert(account, accumulators);
                }
                Some(mine) => {
                    for (m, theirs) in mine.iter_mut().zip(accumulators) {
                        if let (Some(m), Some(t)) = (m, theirs) {
                            m.merge(t);
                        }
                    }
                }
            }
        }
    }
    all
}

/// Feeds one meter's measurements to the accounts' asked aggregations.
struct Feed<'p, 'q> {
    prepared: &'p [Option<PreparedQuery<'q>>],
    wants: &'p [Vec<usize>],
}

impl Feed<'_, '_> {
    /// Decodes `body` (one that is not a measurement, or has no readable
    /// `ts`, is skipped: ingest validated both) into `account`'s running values.
    fn add(&self, running: &mut Running, account: usize, arrival: u64, body: &str) {
        let Some(m) = RatedMeasurement::parse(body) else {
            return;
        };
        let Some(ts) = parse_date_time(&m.ts) else {
            return;
        };
        let accumulators = running.entry(account).or_insert_with(|| {
            self.prepared
                .iter()
                .map(|p| p.as_ref().map(Accumulator::new))
                .collect()
        });
        for &i in &self.wants[account] {
            if let (Some(acc), Some(p)) = (&mut accumulators[i], &self.prepared[i]) {
                acc.add_arrived(p, ts, arrival, &m);
            }
        }
    }
}
