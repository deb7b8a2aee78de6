//! Usage for a preview, from the org's usage query API
//! (`POST /usage/query`, m3ter's Data Explorer v2): aggregated values per
//! account, never raw measurements.
//!
//! Rating asks for one value at a time ([`Usage::aggregate`]). A first
//! rating pass with a [`Recorder`] collects every value both bills need;
//! they are fetched with one query per (meter, window, segment) and page of
//! accounts, every aggregation of that meter in it, grouped by account;
//! the second pass reads the [`Answers`].

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use m3ter_api::schema::NUMERIC_CATEGORIES;
use m3ter_rating::{Decimal, FieldQuery, Object, Usage, money};

use super::org::PLANNED;
use crate::client::{ApiError, Client};

/// The most rows one query returns (`UsageQueryRequest.limit`'s maximum);
/// a query grouped by account returns one row per account, so a page of
/// accounts is at most this long.
pub(crate) const MAX_ROWS: usize = 20_000;

/// What one query covers: a meter, a window, and a pricing segment's
/// fixed values (`*` fields are left out: any value matches).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Slice {
    meter_id: String,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    filters: Vec<(String, String)>,
}

/// One aggregation of a query, as the API names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Measure {
    field: String,
    /// MEASURE or DIMENSION.
    field_type: &'static str,
    /// The API's function; a function it does not have (CUSTOM_SQL) is
    /// asked as COUNT, since rating answers 0 for it when any value exists.
    function: String,
}

impl Measure {
    fn key(&self) -> String {
        format!("{}:{}", self.field, self.function)
    }
}

const FUNCTIONS: &[&str] = &["SUM", "MIN", "MAX", "COUNT", "LATEST", "MEAN", "UNIQUE"];

/// The slice and measure of a rating question; None when the meter has no
/// such field (rating then uses the default without usage).
fn question(query: &FieldQuery<'_>) -> Option<(Slice, Measure, bool)> {
    let meter_id = query.meter.get("id").and_then(Value::as_str)?;
    let field = ["dataFields", "derivedFields"]
        .iter()
        .filter_map(|k| query.meter.get(*k).and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_object)
        .find(|f| f.get("code").and_then(Value::as_str) == Some(query.field))?;
    let category = field.get("category").and_then(Value::as_str);
    let numeric = field.get("calculation").is_some()
        || category.is_some_and(|c| NUMERIC_CATEGORIES.contains(&c));
    let native = FUNCTIONS.contains(&query.function);
    let mut filters: Vec<(String, String)> = query
        .segment
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .filter(|(_, v)| v != "*")
        .collect();
    filters.sort();
    let slice = Slice {
        meter_id: meter_id.to_owned(),
        from: query.window.from,
        to: query.window.to,
        filters,
    };
    let measure = Measure {
        field: query.field.to_owned(),
        field_type: if numeric { "MEASURE" } else { "DIMENSION" },
        function: if native {
            query.function.to_owned()
        } else {
            "COUNT".to_owned()
        },
    };
    Some((slice, measure, native))
}

/// Per slice, the accounts and the aggregations asked of it.
type Wanted = BTreeMap<Slice, (BTreeSet<String>, BTreeSet<Measure>)>;

/// The first pass: records what rating asks for and answers "no usage".
#[derive(Default)]
pub(crate) struct Recorder {
    wanted: RefCell<Wanted>,
}

impl Usage for Recorder {
    fn aggregate(&self, account_id: &str, query: &FieldQuery<'_>) -> Option<Decimal> {
        // An account or meter the plan creates has no usage yet.
        if account_id.starts_with(PLANNED) {
            return None;
        }
        if let Some((slice, measure, _)) =
            question(query).filter(|(s, ..)| !s.meter_id.starts_with(PLANNED))
        {
            let mut wanted = self.wanted.borrow_mut();
            let (accounts, measures) = wanted.entry(slice).or_default();
            accounts.insert(account_id.to_owned());
            measures.insert(measure);
        }
        None
    }
}

/// The fetched values, by account, slice and aggregation.
#[derive(Default)]
pub(crate) struct Answers {
    values: HashMap<(String, Slice, String), Decimal>,
    /// Usage queries sent (pages included).
    pub(crate) queries: usize,
}

impl Usage for Answers {
    fn aggregate(&self, account_id: &str, query: &FieldQuery<'_>) -> Option<Decimal> {
        let (slice, measure, native) = question(query)?;
        let v = *self
            .values
            .get(&(account_id.to_owned(), slice, measure.key()))?;
        // A function the API lacks was asked as COUNT: 0 when anything counted.
        Some(if native { v } else { Decimal::ZERO })
    }
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Recorder {
    /// Fetches everything recorded: one query per slice and page of accounts.
    pub(crate) async fn fetch(self, client: &Client) -> Result<Answers, ApiError> {
        let mut answers = Answers::default();
        for (slice, (accounts, measures)) in self.wanted.into_inner() {
            let accounts: Vec<String> = accounts.into_iter().collect();
            let measures: Vec<Measure> = measures.into_iter().collect();
            let mut pages: Vec<&[String]> = accounts.chunks(MAX_ROWS).collect();
            while let Some(page) = pages.pop() {
                let reply = query(client, &slice, page, &measures).await?;
                answers.queries += 1;
                let more = reply.get("hasMoreData").and_then(Value::as_bool) == Some(true);
                if more && page.len() > 1 {
                    // Cut short: ask again in two halves.
                    let (a, b) = page.split_at(page.len() / 2);
                    pages.push(a);
                    pages.push(b);
                    continue;
                }
                answers.read(&slice, &measures, &reply);
            }
        }
        Ok(answers)
    }
}

async fn query(
    client: &Client,
    slice: &Slice,
    accounts: &[String],
    measures: &[Measure],
) -> Result<Value, ApiError> {
    let aggregations: Vec<Value> = measures
        .iter()
        .map(|m| {
            json!({"meterId": slice.meter_id, "fieldCode": m.field,
                   "fieldType": m.field_type, "function": m.function})
        })
        .collect();
    let filters: Vec<Value> = slice
        .filters
        .iter()
        .map(|(field, value)| json!({"meterId": slice.meter_id, "fieldCode": field, "values": [value]}))
        .collect();
    let mut body = json!({
        "startDate": timestamp(slice.from),
        "endDate": timestamp(slice.to),
        "meterIds": [slice.meter_id],
        "accountIds": accounts,
        "aggregations": aggregations,
        "groups": [{"groupType": "ACCOUNT"}],
        "limit": MAX_ROWS,
    });
    if !filters.is_empty() {
        body["dimensionFilters"] = Value::Array(filters);
    }
    // A query changes nothing: retrying it is safe.
    client
        .request(Method::POST, "usage/query", &[], Some(&body))
        .await
}

impl Answers {
    fn read(&mut self, slice: &Slice, measures: &[Measure], reply: &Value) {
        let rows = reply.get("data").and_then(Value::as_array);
        for row in rows.into_iter().flatten().filter_map(Value::as_object) {
            if row.get("meterId").and_then(Value::as_str) != Some(&slice.meter_id) {
                continue;
            }
            let Some(account) = row.get("accountId").and_then(Value::as_str) else {
                continue;
            };
            let values: Option<&Object> = row.get("values").and_then(Value::as_object);
            for m in measures {
                let key = m.key();
                if let Some(v) = values.and_then(|vs| vs.get(&key)).and_then(money::decimal) {
                    self.values
                        .insert((account.to_owned(), slice.clone(), key), v);
                }
            }
        }
    }
}
