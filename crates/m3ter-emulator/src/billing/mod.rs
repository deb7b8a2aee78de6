//! Bill jobs and bills. A job runs asynchronously (PENDING → RUNNING →
//! COMPLETE) and writes one bill per account with an account plan active
//! in the billed period. Rating is the `m3ter-rating` crate, reached
//! through [`crate::rating`] (line items and their exact total); the bill
//! endpoints are in [`bills`].

pub(crate) mod bills;
pub(crate) mod transactions;
mod usage;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::Response;
use chrono::{Days, Months, NaiveDate, Utc};
use serde_json::{Value, json};

use m3ter_api::Kind;
use m3ter_api::schema::{Field, Type};
use m3ter_api::validate::parse_date_time;

use super::Shared;
use super::db::StoreError;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, PathId, Query, check_request, list_body, ok_json};
use super::money;
use super::rating::{AccountBill, Window};
use super::rules::{overlaps, timestamp};
use super::store::{Change, Object, Store, Table, page};

/// Most bill jobs that may be pending or running at once (m3ter's limit).
pub(crate) const MAX_RUNNING_JOBS: usize = 10;
/// Time a job spends PENDING (it is RUNNING while it rates).
const STEP: Duration = Duration::from_millis(100);

const JOB_FREQUENCIES: &[&str] = &["DAILY", "WEEKLY", "MONTHLY", "ANNUALLY", "AD_HOC"];
const fn opt(name: &'static str, ty: Type) -> Field {
    Field {
        name,
        ty,
        required: false,
    }
}
const CONVERSION: &[Field] = &[
    Field {
        name: "from",
        ty: Type::Str { min: 1, max: 3 },
        required: true,
    },
    Field {
        name: "to",
        ty: Type::Str { min: 1, max: 3 },
        required: true,
    },
    opt(
        "multiplier",
        Type::Number {
            min: Some(0.0),
            exclusive_min: false,
        },
    ),
];
/// The BillJobRequest schema (m3ter-api.md §5.1); nothing is required.
const BILL_JOB: &[Field] = &[
    opt("lastDateInBillingPeriod", Type::Date),
    opt("billingFrequency", Type::Enum(JOB_FREQUENCIES)),
    opt(
        "billFrequencyInterval",
        Type::Integer {
            min: Some(1),
            max: Some(365),
            exclusive_min: false,
        },
    ),
    opt("billDate", Type::Date),
    opt("externalInvoiceDate", Type::Date),
    opt("dueDate", Type::Date),
    opt(
        "accountIds",
        Type::Array {
            item: &Type::Uuid,
            min: 1,
            max: Some(100),
        },
    ),
    opt("targetCurrency", Type::Str { min: 3, max: 3 }),
    opt(
        "currencyConversions",
        Type::Array {
            item: &Type::Object(CONVERSION),
            min: 0,
            max: Some(250),
        },
    ),
    opt("timezone", Type::Text),
    opt("yearEpoch", Type::Date),
    opt("monthEpoch", Type::Date),
    opt("weekEpoch", Type::Date),
    opt("dayEpoch", Type::Date),
    opt(
        "version",
        Type::Integer {
            min: None,
            max: None,
            exclusive_min: false,
        },
    ),
];

pub(super) fn str_of<'a>(o: &'a Object, key: &str) -> Option<&'a str> {
    o.get(key).and_then(Value::as_str)
}

fn is_active_job(o: &Object) -> bool {
    matches!(
        str_of(o, "status"),
        Some("PENDING" | "INITIALIZING" | "RUNNING")
    )
}

pub(super) fn put(table: Table, seq: u64, value: Object) -> Change {
    Change::Put {
        table: table.name().into(),
        seq,
        value,
    }
}

/// `POST /billjobs`.
pub(crate) async fn create_job(
    State(s): State<Arc<Shared>>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    check_request(BILL_JOB, &body, s.config.strict)?;
    let accounts = body.get("accountIds").and_then(Value::as_array).cloned();
    let job = enqueue(&s, &body, "CREATE", |store| {
        for (i, id) in accounts.iter().flatten().enumerate() {
            let id = id.as_str().unwrap_or_default();
            if store.kind(Kind::Account).get(id).is_none() {
                return Err(ApiError::bad_request(format!(
                    "`accountIds[{i}]` refers to no account with id {id}"
                )));
            }
        }
        Ok(Vec::new())
    })?;
    Ok(ok_json(job))
}

/// `POST /billjobs/recalculate` with `{"billIds": [1–100 bill ids]}`.
pub(crate) async fn recalculate_job(
    State(s): State<Arc<Shared>>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let ids = bill_ids(&body, 100)?;
    if s.config.strict
        && let Some(k) = body
            .keys()
            .find(|k| !matches!(k.as_str(), "billIds" | "version"))
    {
        return Err(ApiError::bad_request(format!(
            "`{k}` is not a field of this request"
        )));
    }
    let job = enqueue(&s, &Object::new(), "RECALCULATE", |store| {
        for (i, id) in ids.iter().enumerate() {
            if store.table(Table::Bills).get(id).is_none() {
                return Err(ApiError::bad_request(format!(
                    "`billIds[{i}]` refers to no bill with id {id}"
                )));
            }
        }
        Ok(ids.iter().map(|id| json!(id)).collect())
    })?;
    Ok(ok_json(job))
}

/// Stores a new PENDING job of type `ty` with the request fields of `body`
/// and starts it. `check` validates references under the store lock and
/// returns the job's initial `billIds`.
fn enqueue(
    s: &Arc<Shared>,
    body: &Object,
    ty: &str,
    check: impl FnOnce(&Store) -> ApiResult<Vec<Value>>,
) -> ApiResult<Object> {
    let now = timestamp(Utc::now());
    let actor = s.actor.clone();
    let job = s.commit(|store| {
        let bill_ids = check(store)?;
        let running = store
            .table(Table::BillJobs)
            .iter_newest_first()
            .filter(|e| is_active_job(&e.value))
            .count();
        if running >= MAX_RUNNING_JOBS {
            return Err(ApiError::too_many(
                format!(
                    "at most {MAX_RUNNING_JOBS} bill jobs may run at once; retry when one completes"
                ),
                Duration::from_secs(1),
            ));
        }
        let mut job = Object::new();
        job.insert("id".into(), json!(uuid::Uuid::new_v4().to_string()));
        job.insert("version".into(), json!(1));
        for f in BILL_JOB.iter().filter(|f| f.name != "version") {
            if let Some(v) = body.get(f.name).filter(|v| !v.is_null()) {
                job.insert(f.name.into(), v.clone());
            }
        }
        job.entry("timezone").or_insert_with(|| json!("UTC"));
        job.insert("type".into(), json!(ty));
        job.insert("status".into(), json!("PENDING"));
        job.insert("billIds".into(), Value::Array(bill_ids));
        job.insert("total".into(), json!(0));
        job.insert("pending".into(), json!(0));
        stamp(&mut job, &now, &actor, true);
        let seq = store.next_seq();
        Ok((vec![put(Table::BillJobs, seq, job.clone())], job))
    })?;
    if let Some(id) = str_of(&job, "id") {
        spawn_job(s.clone(), id.to_owned());
    }
    Ok(job)
}

pub(super) fn stamp(o: &mut Object, now: &str, actor: &str, created: bool) {
    if created {
        o.insert("dtCreated".into(), json!(now));
        o.insert("createdBy".into(), json!(actor));
    }
    o.insert("dtLastModified".into(), json!(now));
    o.insert("lastModifiedBy".into(), json!(actor));
}

pub(super) fn bump(o: &mut Object) {
    let v = o.get("version").and_then(Value::as_i64).unwrap_or(0);
    o.insert("version".into(), json!(v + 1));
}

/// Restarts jobs left pending or running by a previous process.
pub(crate) fn resume_jobs(s: &Arc<Shared>) {
    let ids: Vec<String> = s
        .read()
        .table(Table::BillJobs)
        .iter_newest_first()
        .filter(|e| is_active_job(&e.value))
        .filter_map(|e| str_of(&e.value, "id").map(str::to_owned))
        .collect();
    for id in ids {
        spawn_job(s.clone(), id);
    }
}

fn spawn_job(s: Arc<Shared>, id: String) {
    tokio::spawn(async move {
        tokio::time::sleep(STEP).await;
        if advance(&s, &id, |_, job| {
            job.insert("status".into(), json!("RUNNING"));
            Ok(Vec::new())
        })
        .is_err()
        {
            return;
        }
        // RUNNING while it rates, under the read lock (requests keep
        // flowing) and off the runtime's threads (rating a million
        // measurements takes a while); the bills are stored in one commit
        // if the job was not cancelled meanwhile.
        let rating = Arc::clone(&s);
        let job_id = id.clone();
        let rated = tokio::task::spawn_blocking(move || {
            let store = rating.read();
            let job = store
                .table(Table::BillJobs)
                .get(&job_id)
                .filter(|job| is_active_job(&job.value))?;
            // A read error means the database closed (the emulator stops);
            // a restarted emulator resumes the job.
            if str_of(&job.value, "type") == Some("RECALCULATE") {
                recalculate_bills(&store, &job.value, &rating.actor)
                    .map(Rated::Recalculated)
                    .ok()
            } else {
                make_bills(&store, &job.value, &rating.actor)
                    .map(Rated::Fresh)
                    .ok()
            }
        })
        .await;
        // A panic in rating is re-raised here, as it was when it ran inline.
        let Some(rated) = rated.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
        else {
            return;
        };
        // An error here means the job was cancelled or the emulator stopped
        // (its database closed); a restarted emulator resumes the job.
        let _ = advance(&s, &id, |store, job| {
            // Which bills already exist is decided under the write lock, so
            // two jobs for one period cannot both add a bill.
            let run = match rated {
                Rated::Recalculated(run) => run,
                Rated::Fresh(bills) => reuse_existing(store, bills),
            };
            let ids: Vec<Value> = run
                .bills
                .iter()
                .filter_map(|(_, b)| b.get("id").cloned())
                .collect();
            job.insert("total".into(), json!(ids.len()));
            job.insert("pending".into(), json!(0));
            job.insert("billIds".into(), Value::Array(ids));
            if !run.locked.is_empty() {
                job.insert("lockedBillIds".into(), Value::Array(run.locked));
            }
            job.insert("status".into(), json!("COMPLETE"));
            Ok(run
                .bills
                .into_iter()
                .map(|(seq, b)| {
                    let seq = seq.unwrap_or_else(|| store.next_seq());
                    put(Table::Bills, seq, b)
                })
                .collect())
        });
    });
}

/// A job's bills as rated under the read lock.
enum Rated {
    /// A CREATE job's bills, not yet matched against existing ones.
    Fresh(Vec<Object>),
    /// A RECALCULATE job's bills, already in place.
    Recalculated(Run),
}

/// What a finished job stores and reports.
#[derive(Default)]
struct Run {
    /// Bills to store: `Some(seq)` replaces the bill stored at `seq`.
    bills: Vec<(Option<u64>, Object)>,
    /// Ids of locked bills the job left alone (the job's `lockedBillIds`).
    locked: Vec<Value>,
}

/// The identity of a bill: its account and billed period.
fn bill_key(bill: &Object) -> Option<(&str, &str, &str)> {
    Some((
        str_of(bill, "accountId")?,
        str_of(bill, "startDateTimeUTC")?,
        str_of(bill, "endDateTimeUTC")?,
    ))
}

fn is_locked(bill: &Object) -> bool {
    bill.get("locked").and_then(Value::as_bool) == Some(true)
}

/// Matches a CREATE job's fresh bills with the bills already stored for the
/// same account and period (the newest one counts): an unlocked bill is
/// recalculated in place (same id, [`carry_over`]), a locked one is left
/// alone and reported; without one the fresh bill is added.
fn reuse_existing(store: &Store, fresh: Vec<Object>) -> Run {
    let mut newest: HashMap<(&str, &str, &str), (u64, &Object)> = HashMap::new();
    for e in store.table(Table::Bills).iter_newest_first() {
        if let Some(key) = bill_key(&e.value) {
            newest.entry(key).or_insert((e.seq, &e.value));
        }
    }
    let mut run = Run::default();
    for bill in fresh {
        match bill_key(&bill).and_then(|k| newest.get(&k)).copied() {
            None => run.bills.push((None, bill)),
            Some((_, old)) if is_locked(old) => {
                run.locked
                    .push(old.get("id").cloned().unwrap_or(Value::Null));
            }
            Some((seq, old)) => run.bills.push((Some(seq), carry_over(old, bill))),
        }
    }
    run
}

/// Fields a recalculated bill keeps from the stored one: its identity,
/// creation and approval (everything else comes from the new calculation).
const KEPT_ON_RECALCULATION: &[&str] = &[
    "id",
    "version",
    "createdDate",
    "dtCreated",
    "createdBy",
    "status",
    "dtApproved",
    "approvedBy",
];

/// `fresh` as the next version of the stored bill `old`.
fn carry_over(old: &Object, mut fresh: Object) -> Object {
    for &k in KEPT_ON_RECALCULATION {
        match old.get(k) {
            Some(v) => fresh.insert(k.into(), v.clone()),
            None => fresh.remove(k),
        };
    }
    bump(&mut fresh);
    fresh
}

/// Moves an active job on; fails (and changes nothing) if it was cancelled.
fn advance(
    s: &Shared,
    id: &str,
    step: impl FnOnce(&mut Store, &mut Object) -> ApiResult<Vec<Change>>,
) -> ApiResult<()> {
    let now = timestamp(Utc::now());
    s.commit(|store| {
        let entry = store
            .table(Table::BillJobs)
            .get(id)
            .ok_or_else(|| ApiError::not_found("bill job gone"))?;
        if !is_active_job(&entry.value) {
            return Err(ApiError::bad_request("bill job no longer active"));
        }
        let seq = entry.seq;
        let mut job = entry.value.clone();
        let mut changes = step(store, &mut job)?;
        bump(&mut job);
        stamp(&mut job, &now, "system", false);
        changes.push(put(Table::BillJobs, seq, job));
        Ok((changes, ()))
    })
}

pub(super) fn date_of(o: &Object, key: &str) -> Option<NaiveDate> {
    str_of(o, key).and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
}

/// The billed period `[start, end)` of a job (design §7): it ends after
/// `lastDateInBillingPeriod` (or the day before the bill date) and starts
/// one bill-frequency interval earlier.
pub(crate) fn period(job: &Object) -> (NaiveDate, NaiveDate, NaiveDate) {
    let today = Utc::now().date_naive();
    let bill_date = date_of(job, "billDate");
    let last = date_of(job, "lastDateInBillingPeriod")
        .or_else(|| bill_date.and_then(|d| d.checked_sub_days(Days::new(1))))
        .unwrap_or_else(|| today.checked_sub_days(Days::new(1)).unwrap_or(today));
    let end = last.checked_add_days(Days::new(1)).unwrap_or(last);
    let n = job
        .get("billFrequencyInterval")
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .clamp(1, 365) as u32;
    let start = match str_of(job, "billingFrequency") {
        Some("DAILY") => end.checked_sub_days(Days::new(n.into())),
        Some("WEEKLY") => end.checked_sub_days(Days::new(7 * u64::from(n))),
        Some("ANNUALLY") => end.checked_sub_months(Months::new(12 * n)),
        _ => end.checked_sub_months(Months::new(n)),
    }
    .unwrap_or(last);
    (start, end, bill_date.unwrap_or(end))
}

/// Computes a job's bills from a read view of the store.
fn make_bills(store: &Store, job: &Object, actor: &str) -> Result<Vec<Object>, StoreError> {
    let (start, end, bill_date) = period(job);
    let from = start.and_time(chrono::NaiveTime::MIN).and_utc();
    let to = end.and_time(chrono::NaiveTime::MIN).and_utc();
    let requested: Option<Vec<String>> = job.get("accountIds").and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    });
    let mut accounts: Vec<String> = Vec::new();
    for e in store.kind(Kind::AccountPlan).iter_newest_first() {
        if !overlaps(&e.value, from, Some(to)) {
            continue;
        }
        if let Some(a) = str_of(&e.value, "accountId")
            && !accounts.iter().any(|x| x == a)
        {
            accounts.push(a.to_owned());
        }
    }
    if let Some(req) = requested {
        // One bill per account, even if the request names it twice.
        let mut seen = std::collections::HashSet::new();
        accounts = req.into_iter().filter(|a| seen.insert(a.clone())).collect();
    }
    // Accounts that exist, with their entities.
    let (accounts, objects): (Vec<String>, Vec<Object>) = accounts
        .into_iter()
        .filter_map(|id| {
            let account = store.kind(Kind::Account).get(&id)?.value.clone();
            Some((id, account))
        })
        .unzip();
    let rated = usage::bills(store, &objects, Window { from, to })?;
    let now = timestamp(Utc::now());
    let mut out = Vec::new();
    for ((account_id, account), bill) in accounts.into_iter().zip(objects).zip(rated) {
        let AccountBill {
            lines,
            total,
            currency,
        } = bill;
        let mut bill = Object::new();
        bill.insert("id".into(), json!(uuid::Uuid::new_v4().to_string()));
        bill.insert("version".into(), json!(1));
        bill.insert("accountId".into(), json!(account_id));
        bill.insert(
            "accountCode".into(),
            account.get("code").cloned().unwrap_or(Value::Null),
        );
        bill.insert(
            "billJobId".into(),
            job.get("id").cloned().unwrap_or(Value::Null),
        );
        bill.insert("startDate".into(), json!(start.to_string()));
        bill.insert("endDate".into(), json!(end.to_string()));
        bill.insert("startDateTimeUTC".into(), json!(timestamp(from)));
        bill.insert("endDateTimeUTC".into(), json!(timestamp(to)));
        bill.insert("billDate".into(), json!(bill_date.to_string()));
        let due = date_of(job, "dueDate").unwrap_or(bill_date);
        bill.insert("dueDate".into(), json!(due.to_string()));
        bill.insert(
            "billingFrequency".into(),
            job.get("billingFrequency")
                .cloned()
                .unwrap_or(json!("MONTHLY")),
        );
        bill.insert(
            "billFrequencyInterval".into(),
            job.get("billFrequencyInterval")
                .cloned()
                .unwrap_or(json!(1)),
        );
        bill.insert(
            "timezone".into(),
            job.get("timezone").cloned().unwrap_or(json!("UTC")),
        );
        bill.insert("currency".into(), json!(currency));
        if let Some(c) = job.get("currencyConversions") {
            bill.insert("currencyConversions".into(), c.clone());
        }
        if let Some(d) = job.get("externalInvoiceDate") {
            bill.insert("externalInvoiceDate".into(), d.clone());
        }
        if let Some(po) = account.get("purchaseOrderNumber") {
            bill.insert("purchaseOrderNumber".into(), po.clone());
        }
        bill.insert("billTotal".into(), money::number(total));
        bill.insert("locked".into(), json!(false));
        bill.insert("status".into(), json!("PENDING"));
        bill.insert("createdDate".into(), json!(now));
        bill.insert("lastCalculatedDate".into(), json!(now));
        bill.insert(
            "lineItems".into(),
            Value::Array(lines.into_iter().map(Value::Object).collect()),
        );
        stamp(&mut bill, &now, actor, true);
        out.push(bill);
    }
    Ok(out)
}

/// Recomputes the bills a RECALCULATE job names (deleted ones are skipped,
/// locked ones skipped and reported): same account and period, fresh line items.
fn recalculate_bills(store: &Store, job: &Object, actor: &str) -> Result<Run, StoreError> {
    let now = timestamp(Utc::now());
    let ids = job
        .get("billIds")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut out = Run::default();
    for id in ids.iter().filter_map(Value::as_str) {
        let Some(entry) = store.table(Table::Bills).get(id) else {
            continue;
        };
        let bill = &entry.value;
        if is_locked(bill) {
            out.locked.push(json!(id));
            continue;
        }
        let account = str_of(bill, "accountId").and_then(|a| store.kind(Kind::Account).get(a));
        let from = str_of(bill, "startDateTimeUTC").and_then(parse_date_time);
        let to = str_of(bill, "endDateTimeUTC").and_then(parse_date_time);
        let (Some(account), Some(from), Some(to)) = (account, from, to) else {
            continue;
        };
        let Some(AccountBill {
            lines,
            total,
            currency,
        }) = usage::bills(
            store,
            std::slice::from_ref(&account.value),
            Window { from, to },
        )?
        .pop()
        else {
            continue; // one bill per account given: never
        };
        let mut bill = bill.clone();
        let lines = lines.into_iter().map(Value::Object).collect();
        bill.insert("lineItems".into(), Value::Array(lines));
        bill.insert("billTotal".into(), money::number(total));
        bill.insert("currency".into(), json!(currency));
        bill.insert("lastCalculatedDate".into(), json!(now));
        bump(&mut bill);
        stamp(&mut bill, &now, actor, false);
        out.bills.push((Some(entry.seq), bill));
    }
    Ok(out)
}

/// `GET /billjobs` (filters `active`, `status`).
pub(crate) async fn list_jobs(State(s): State<Arc<Shared>>, q: Query) -> ApiResult<Response> {
    let size = q.page_size(100)?;
    let before = q.cursor()?;
    let active = q.flag("active")?;
    let status = q.one("status").map(str::to_owned);
    let store = s.read();
    let entries = store
        .table(Table::BillJobs)
        .iter_before(before)
        .filter(|e| active.is_none_or(|a| is_active_job(&e.value) == a))
        .filter(|e| {
            status
                .as_deref()
                .is_none_or(|st| str_of(&e.value, "status") == Some(st))
        });
    let (data, token) = page(entries, size);
    Ok(list_body(&data, token))
}

/// `GET /billjobs/{id}`.
pub(crate) async fn get_job(
    State(s): State<Arc<Shared>>,
    PathId(id): PathId,
) -> ApiResult<Response> {
    let store = s.read();
    let e = store
        .table(Table::BillJobs)
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("no bill job with id {id}")))?;
    Ok(ok_json(&e.value))
}

/// `POST /billjobs/{id}/cancel`.
pub(crate) async fn cancel_job(
    State(s): State<Arc<Shared>>,
    PathId(id): PathId,
) -> ApiResult<Response> {
    let now = timestamp(Utc::now());
    let actor = s.actor.clone();
    let job = s.commit(|store| {
        let e = store
            .table(Table::BillJobs)
            .get(&id)
            .ok_or_else(|| ApiError::not_found(format!("no bill job with id {id}")))?;
        if !is_active_job(&e.value) {
            return Err(ApiError::bad_request(format!(
                "bill job {id} is {} and can no longer be cancelled",
                str_of(&e.value, "status").unwrap_or("finished")
            )));
        }
        let mut job = e.value.clone();
        job.insert("status".into(), json!("CANCELLED"));
        bump(&mut job);
        stamp(&mut job, &now, &actor, false);
        Ok((vec![put(Table::BillJobs, e.seq, job.clone())], job))
    })?;
    Ok(ok_json(job))
}

/// The `billIds` of a request body: a list of 1 to `max` bill id strings.
pub(super) fn bill_ids(body: &Object, max: usize) -> ApiResult<Vec<String>> {
    match body.get("billIds") {
        Some(Value::Array(a)) if (1..=max).contains(&a.len()) => a
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    ApiError::bad_request(format!("`billIds[{i}]` must be a string"))
                })
            })
            .collect(),
        Some(_) if max == usize::MAX => Err(ApiError::bad_request(
            "`billIds` must be a non-empty list of bill ids",
        )),
        Some(_) => Err(ApiError::bad_request(format!(
            "`billIds` must be a list of 1 to {max} bill ids"
        ))),
        None => Err(ApiError::bad_request("`billIds` is required")),
    }
}
