//! Bill jobs and bills: create a job once, wait for it, read its bills, and
//! render bills with their line items for people.
//!
//! Bills and bill jobs are not configuration [`Kind`]s, so they are read
//! through [`Client::request`] with their own paging here.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::client::{ApiError, Client};
use m3ter_api::Kind;

/// Largest page of the bill endpoints.
const PAGE_SIZE: usize = 100;
/// Most accounts one bill job may name (API limit).
pub const MAX_JOB_ACCOUNTS: usize = 100;

/// A billing command failed.
#[derive(Debug, thiserror::Error)]
pub enum BillError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("no account with code {} in the org", .0.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", "))]
    UnknownAccounts(Vec<String>),
    #[error("a bill job takes at most {MAX_JOB_ACCOUNTS} accounts (got {0}); run several jobs")]
    TooManyAccounts(usize),
    /// The create's outcome is unknown (no answer, or a server error): the
    /// job may exist, so it is not retried.
    #[error(
        "creating the bill job failed and it may have been created anyway; check with `m3ter bill list` before running billing again"
    )]
    CreateUncertain(#[source] ApiError),
    #[error("the API answered a bill job without an `id`: {0}")]
    NoJobId(String),
    #[error("bill job {0} was cancelled")]
    Cancelled(String),
    #[error(
        "bill job {id} did not complete within {} s (last status {status}); it may still finish: check later with `m3ter bill list`", .waited.as_secs()
    )]
    Timeout {
        id: String,
        status: String,
        waited: Duration,
    },
    #[error("no bill with id {0}")]
    NoSuchBill(String),
}

/// Every item of a paged list under the org (`bills`, `bills/{id}/lineitems`).
pub async fn list_pages(
    client: &Client,
    path: &str,
    filters: &[(&str, String)],
) -> Result<Vec<Value>, ApiError> {
    let mut query: Vec<(&str, String)> = filters.to_vec();
    query.push(("pageSize", PAGE_SIZE.to_string()));
    let mut all = Vec::new();
    loop {
        let page = client.request(Method::GET, path, &query, None).await?;
        let data = page
            .get("data")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let empty = data.is_empty();
        all.extend(data);
        // As the client's own listing: a missing or empty token, or an empty
        // page, ends the list.
        match page.get("nextToken").and_then(Value::as_str) {
            Some(t) if !t.is_empty() && !empty => {
                let t = t.to_string();
                query.retain(|(p, _)| *p != "nextToken");
                query.push(("nextToken", t));
            }
            _ => return Ok(all),
        }
    }
}

/// Resolves account codes to ids, in the order given; every unknown code
/// is named in one error.
pub async fn account_ids(client: &Client, codes: &[String]) -> Result<Vec<String>, BillError> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    let found = client
        .list_all(Kind::Account, &[("codes", codes.join(","))])
        .await?;
    let id_of = |code: &str| {
        found
            .iter()
            .find(|a| a.get("code").and_then(Value::as_str) == Some(code))
            .and_then(|a| a.get("id").and_then(Value::as_str))
            .map(str::to_string)
    };
    let mut ids = Vec::new();
    let mut unknown = Vec::new();
    for code in codes {
        match id_of(code) {
            Some(id) if !ids.contains(&id) => ids.push(id),
            Some(_) => {}
            None => unknown.push(code.clone()),
        }
    }
    if unknown.is_empty() {
        Ok(ids)
    } else {
        Err(BillError::UnknownAccounts(unknown))
    }
}

/// What to bill.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRequest {
    pub bill_date: NaiveDate,
    /// Last day (inclusive) of the billing period.
    pub last_date_in_period: NaiveDate,
    /// Empty: every account the API chooses to bill.
    pub account_ids: Vec<String>,
}

impl JobRequest {
    /// The `POST billjobs` body.
    pub fn body(&self) -> Value {
        let mut b = Map::new();
        b.insert("billDate".into(), json!(self.bill_date.to_string()));
        b.insert(
            "lastDateInBillingPeriod".into(),
            json!(self.last_date_in_period.to_string()),
        );
        if !self.account_ids.is_empty() {
            b.insert("accountIds".into(), json!(self.account_ids));
        }
        Value::Object(b)
    }
}

/// How to wait for a job: every `first` while it has run less than
/// `steady` (most jobs are short, and each poll is a cheap GET), then
/// backing off, doubling up to `max`, for at most `timeout`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Polling {
    pub first: Duration,
    pub steady: Duration,
    pub max: Duration,
    pub timeout: Duration,
}

impl Default for Polling {
    fn default() -> Self {
        Polling {
            first: Duration::from_millis(100),
            steady: Duration::from_secs(1),
            max: Duration::from_secs(1),
            timeout: Duration::from_secs(300),
        }
    }
}

/// Creates the bill job with ONE `POST` (a retried create could start two
/// jobs), then polls it until `COMPLETE`; answers the completed job.
pub async fn run_job(
    client: &Client,
    req: &JobRequest,
    polling: Polling,
) -> Result<Value, BillError> {
    if req.account_ids.len() > MAX_JOB_ACCOUNTS {
        return Err(BillError::TooManyAccounts(req.account_ids.len()));
    }
    let job = client
        .request_once(Method::POST, "billjobs", &[], Some(&req.body()))
        .await
        .map_err(|e| match e.status() {
            // A 4xx (429 included) is a refusal: nothing was created.
            Some(400..500) => BillError::Api(e),
            _ if e.is_auth() => BillError::Api(e),
            _ => BillError::CreateUncertain(e),
        })?;
    let id = job
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| BillError::NoJobId(job.to_string()))?
        .to_string();
    tracing::info!(job = %id, "bill job created");
    wait_for_job(client, job, &id, polling).await
}

async fn wait_for_job(
    client: &Client,
    mut job: Value,
    id: &str,
    polling: Polling,
) -> Result<Value, BillError> {
    let started = Instant::now();
    let mut wait = polling.first;
    loop {
        let status = job
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("UNKNOWN")
            .to_string();
        match status.as_str() {
            "COMPLETE" => return Ok(job),
            "CANCELLED" => return Err(BillError::Cancelled(id.to_string())),
            _ => {}
        }
        if started.elapsed() >= polling.timeout {
            return Err(BillError::Timeout {
                id: id.to_string(),
                status,
                waited: started.elapsed(),
            });
        }
        tokio::time::sleep(wait).await;
        if started.elapsed() >= polling.steady {
            wait = (wait * 2).min(polling.max);
        }
        job = client
            .request(Method::GET, &format!("billjobs/{id}"), &[], None)
            .await?;
    }
}

/// The bills a job produced.
pub async fn job_bills(client: &Client, job_id: &str) -> Result<Vec<Value>, ApiError> {
    list_pages(client, "bills", &[("billJobId", job_id.to_string())]).await
}

/// Bills of the given accounts (all bills when `account_ids` is empty),
/// newest first per account, as the API lists them.
pub async fn list_bills(client: &Client, account_ids: &[String]) -> Result<Vec<Value>, ApiError> {
    if account_ids.is_empty() {
        return list_pages(client, "bills", &[]).await;
    }
    let mut all = Vec::new();
    for id in account_ids {
        all.extend(list_pages(client, "bills", &[("accountId", id.clone())]).await?);
    }
    Ok(all)
}

/// One bill with its line items (read from `bills/{id}/lineitems` when the
/// bill does not embed them).
pub async fn get_bill(client: &Client, id: &str) -> Result<Value, BillError> {
    let mut bill = match client
        .request(Method::GET, &format!("bills/{id}"), &[], None)
        .await
    {
        Err(e) if e.is_not_found() => return Err(BillError::NoSuchBill(id.to_string())),
        other => other?,
    };
    if bill.get("lineItems").is_none()
        && let Some(obj) = bill.as_object_mut()
    {
        let items = list_pages(client, &format!("bills/{id}/lineitems"), &[]).await?;
        obj.insert("lineItems".into(), Value::Array(items));
    }
    Ok(bill)
}

/// A JSON scalar as text: strings bare, absent as `-`, numbers through
/// [`amount`].
fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => amount(n),
        Some(other) => other.to_string(),
    }
}

/// A quantity for people (money goes through [`money`]): integers as they
/// are; fractions rounded to 10 decimals with trailing zeros dropped, so float noise such as
/// `0.00008800000000000001` reads `0.000088` (`--json` keeps the API's
/// exact value). A negative zero reads `0`.
pub fn amount(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let Some(f) = n.as_f64() else {
        return n.to_string();
    };
    let s = format!("{f:.10}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

/// Digits after the decimal point of a currency's minor unit (ISO 4217),
/// for display. A small table of the common currencies that do not use 2;
/// every other code (USD, EUR, GBP, …, and unknown ones) gets 2.
pub fn minor_unit_digits(currency: &str) -> usize {
    const ZERO: &[&str] = &[
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
        "VUV", "XAF", "XOF", "XPF",
    ];
    const THREE: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
    const FOUR: &[&str] = &["CLF", "UYW"];
    let code = currency.trim().to_ascii_uppercase();
    let code = code.as_str();
    if ZERO.contains(&code) {
        0
    } else if THREE.contains(&code) {
        3
    } else if FOUR.contains(&code) {
        4
    } else {
        2
    }
}

/// A money amount for people, rounded to the currency's minor unit
/// (`106.4712215253` USD reads `106.47`, JPY `106`); `--json` keeps the
/// API's exact value. A negative zero reads as zero.
pub fn money(v: Option<&Value>, currency: &str) -> String {
    let Some(f) = v.and_then(Value::as_f64) else {
        return cell(v);
    };
    let s = format!("{f:.*}", minor_unit_digits(currency));
    match s.strip_prefix('-') {
        Some(abs) if abs.chars().all(|c| c == '0' || c == '.') => abs.to_string(),
        _ => s,
    }
}

/// The billing period of a bill as people say it: the first and the last
/// day, both inclusive. m3ter's `endDate` is exclusive (a December bill
/// ends `2025-01-01`), so the day before it is shown; an end that is not a
/// plain date is shown as it is, after "until".
fn period(bill: &Value) -> String {
    let start = cell(bill.get("startDate"));
    let end = bill.get("endDate").and_then(Value::as_str);
    let last = end
        .and_then(|e| NaiveDate::parse_from_str(e, "%Y-%m-%d").ok())
        .and_then(|e| e.pred_opt());
    match (last, end) {
        (Some(last), _) => format!("{start} \u{2013} {last}"),
        (None, Some(end)) => format!("{start} until {end}"),
        (None, None) => format!("{start} until -"),
    }
}

/// A bill for people: a heading line, then its line items as a table.
/// Money is rounded to the currency's minor unit ([`money`]); quantities
/// keep their fractions ([`amount`]).
///
/// ```text
/// Bill 5d0c…  account acme  period 2024-12-01 – 2024-12-31  total 12.50 USD  (bill date 2025-01-01, PENDING)
///   TYPE   DESCRIPTION        QUANTITY  UNITS  SUBTOTAL
///   USAGE  Requests                400    400     12.50
/// ```
pub fn render_bill(bill: &Value) -> String {
    let g = |k: &str| cell(bill.get(k));
    let account = bill
        .get("accountCode")
        .filter(|v| v.is_string())
        .or_else(|| bill.get("accountId"));
    let currency = bill
        .get("currency")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut out = format!(
        "Bill {}  account {}  period {}  total {} {}  (bill date {}, {})\n",
        g("id"),
        cell(account),
        period(bill),
        money(bill.get("billTotal"), currency),
        g("currency"),
        g("billDate"),
        g("status"),
    );
    let items = bill
        .get("lineItems")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if items.is_empty() {
        out.push_str("  (no line items)\n");
        return out;
    }
    let mut rows = vec![[
        "TYPE".to_string(),
        "DESCRIPTION".into(),
        "QUANTITY".into(),
        "UNITS".into(),
        "SUBTOTAL".into(),
    ]];
    for li in items {
        let c = |k: &str| cell(li.get(k));
        let units = match li.get("unit").and_then(Value::as_str) {
            Some(u) if !u.is_empty() => format!("{} {u}", c("units")),
            _ => c("units"),
        };
        rows.push([
            c("lineItemType"),
            c("description"),
            c("quantity"),
            units,
            // A line item names its own currency; the bill's otherwise.
            money(
                li.get("subtotal"),
                li.get("currency")
                    .and_then(Value::as_str)
                    .unwrap_or(currency),
            ),
        ]);
    }
    let mut widths = [0usize; 5];
    for row in &rows {
        for (w, s) in widths.iter_mut().zip(row) {
            *w = (*w).max(s.chars().count());
        }
    }
    for row in &rows {
        let line = format!(
            "  {:<w0$}  {:<w1$}  {:>w2$}  {:>w3$}  {:>w4$}",
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4],
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_body_leaves_out_what_was_not_asked() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
        let mut r = JobRequest {
            bill_date: d("2025-01-01"),
            last_date_in_period: d("2024-12-31"),
            account_ids: vec![],
        };
        assert_eq!(
            r.body(),
            json!({"billDate": "2025-01-01", "lastDateInBillingPeriod": "2024-12-31"})
        );
        r.account_ids = vec!["a1".into()];
        assert_eq!(r.body()["accountIds"], json!(["a1"]));
    }

    #[test]
    fn bills_render_with_aligned_line_items() {
        let bill = json!({
            "id": "b1", "accountCode": "acme", "startDate": "2024-12-01", "endDate": "2025-01-01",
            "billTotal": 12.5, "currency": "USD", "billDate": "2025-01-01", "status": "PENDING",
            "lineItems": [
                {"lineItemType": "USAGE", "description": "Requests", "quantity": 400,
                 "units": 400, "unit": "req", "subtotal": 12.5},
                {"lineItemType": "STANDING_CHARGE", "description": "Standing charge",
                 "quantity": 1, "units": 1, "subtotal": 0}
            ]
        });
        let text = render_bill(&bill);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "Bill b1  account acme  period 2024-12-01 \u{2013} 2024-12-31  total 12.50 USD  (bill date 2025-01-01, PENDING)"
        );
        assert_eq!(lines.len(), 4);
        assert!(
            lines[1].starts_with("  TYPE             DESCRIPTION"),
            "{text}"
        );
        assert!(
            lines[2].contains("USAGE") && lines[2].ends_with("400 req     12.50"),
            "{text}"
        );
        assert!(lines[3].ends_with("1      0.00"), "{text}");
    }

    #[test]
    fn a_bill_without_line_items_says_so() {
        let text = render_bill(&json!({"id": "b2", "accountId": "x", "billTotal": -0.0}));
        assert!(text.contains("account x"), "{text}");
        assert!(text.contains("total 0.00 "), "{text}");
        assert!(text.contains("period - until -"), "{text}");
        assert!(text.ends_with("  (no line items)\n"), "{text}");
    }

    #[test]
    fn amounts_drop_float_noise_but_keep_integers() {
        let n = |v: Value| v.as_number().map(amount).unwrap_or_default();
        assert_eq!(n(json!(0.00008800000000000001)), "0.000088");
        assert_eq!(n(json!(1064.50963534817)), "1064.5096353482");
        assert_eq!(n(json!(400.0)), "400");
        assert_eq!(n(json!(12)), "12");
        assert_eq!(n(json!(-0.0)), "0");
        assert_eq!(n(json!(-2.5)), "-2.5");
    }

    #[test]
    fn money_is_rounded_to_the_currency_minor_unit() {
        let m = |v: Value, c: &str| money(Some(&v), c);
        assert_eq!(m(json!(106.4712215253), "USD"), "106.47");
        assert_eq!(m(json!(106.4712215253), "eur"), "106.47");
        assert_eq!(m(json!(106.5), "JPY"), "106");
        assert_eq!(m(json!(1.23456), "KWD"), "1.235");
        assert_eq!(m(json!(12), "XYZ"), "12.00");
        assert_eq!(m(json!(-0.001), "USD"), "0.00");
        assert_eq!(m(json!(-2.5), "GBP"), "-2.50");
        assert_eq!(money(None, "USD"), "-");
    }

    #[test]
    fn the_period_shows_its_last_day() {
        let p = |v: Value| period(&v);
        assert_eq!(
            p(json!({"startDate": "2024-12-01", "endDate": "2025-01-01"})),
            "2024-12-01 \u{2013} 2024-12-31"
        );
        assert_eq!(
            p(json!({"startDate": "2024-12-01", "endDate": "2025-01-01T00:00:00Z"})),
            "2024-12-01 until 2025-01-01T00:00:00Z"
        );
    }
}
