//! Bill endpoints: list, get, delete, line items, approve, status, lock.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use chrono::{NaiveDate, Utc};
use serde_json::{Value, json};

use super::{bump, date_of, put, stamp, str_of};
use crate::Shared;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, PathId, Query, list_body, ok_json};
use crate::rules::timestamp;
use crate::store::{Change, Object, Store, Table, encode_token, page};

/// `GET /bills` with the documented filters.
pub(crate) async fn list_bills(State(s): State<Arc<Shared>>, q: Query) -> ApiResult<Response> {
    let size = q.page_size(100)?;
    let before = q.cursor()?;
    let locked = q.flag("locked")?;
    let exclude_lines = q.flag("excludeLineItems")?.unwrap_or(false);
    let ids = q.many("ids");
    let eq: Vec<(&str, Option<&str>)> = vec![
        ("accountId", q.one("accountId")),
        ("billJobId", q.one("billJobId")),
        ("status", q.one("status")),
        ("billingFrequency", q.one("billingFrequency")),
        ("billDate", q.one("billDate")),
    ];
    let date_param = |name: &str| -> ApiResult<Option<NaiveDate>> {
        q.one(name)
            .map(|d| {
                NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                    ApiError::bad_request(format!(
                        "`{name}` must be a date like 2024-12-01 (got \"{d}\")"
                    ))
                })
            })
            .transpose()
    };
    let (from, to) = (date_param("billDateStart")?, date_param("billDateEnd")?);
    let store = s.read();
    let entries = store.table(Table::Bills).iter_before(before).filter(|e| {
        let b = &e.value;
        let date = date_of(b, "billDate");
        eq.iter()
            .all(|(k, v)| v.is_none_or(|v| str_of(b, k) == Some(v)))
            && ids
                .as_ref()
                .is_none_or(|ids| str_of(b, "id").is_some_and(|id| ids.contains(&id)))
            && locked.is_none_or(|l| b.get("locked").and_then(Value::as_bool) == Some(l))
            && from.is_none_or(|f| date.is_some_and(|d| d >= f))
            && to.is_none_or(|t| date.is_some_and(|d| d < t))
    });
    let (data, token) = page(entries, size);
    if exclude_lines {
        let trimmed: Vec<Object> = data
            .into_iter()
            .map(|b| {
                let mut b = b.clone();
                b.remove("lineItems");
                b
            })
            .collect();
        let refs: Vec<&Object> = trimmed.iter().collect();
        return Ok(list_body(&refs, token));
    }
    Ok(list_body(&data, token))
}

fn bill_missing(id: &str) -> ApiError {
    ApiError::not_found(format!("no bill with id {id}"))
}

/// `GET /bills/{id}`.
pub(crate) async fn get_bill(
    State(s): State<Arc<Shared>>,
    PathId(id): PathId,
) -> ApiResult<Response> {
    let store = s.read();
    let e = store
        .table(Table::Bills)
        .get(&id)
        .ok_or_else(|| bill_missing(&id))?;
    Ok(ok_json(&e.value))
}

/// `DELETE /bills/{id}`: refused for a locked bill.
pub(crate) async fn delete_bill(
    State(s): State<Arc<Shared>>,
    PathId(id): PathId,
) -> ApiResult<Response> {
    let bill = s.commit(|store| {
        let e = store
            .table(Table::Bills)
            .get(&id)
            .ok_or_else(|| bill_missing(&id))?;
        if e.value.get("locked").and_then(Value::as_bool) == Some(true) {
            return Err(ApiError::bad_request(format!(
                "bill {id} is locked and cannot be deleted"
            )));
        }
        let change = Change::Delete {
            table: Table::Bills.name().into(),
            id: id.clone(),
        };
        Ok((vec![change], e.value.clone()))
    })?;
    Ok(ok_json(bill))
}

/// The line items of a bill, each with its `billId` (the standalone
/// line-item endpoints answer BillLineItemResponse, which carries it).
fn line_items(bill: &Object) -> Vec<Object> {
    bill.get("lineItems")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_object)
                .cloned()
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .map(|mut l: Object| {
            l.insert(
                "billId".into(),
                bill.get("id").cloned().unwrap_or(Value::Null),
            );
            l
        })
        .collect()
}

/// `GET /bills/{id}/lineitems` (paginated, in bill order).
pub(crate) async fn list_line_items(
    State(s): State<Arc<Shared>>,
    PathId(id): PathId,
    q: Query,
) -> ApiResult<Response> {
    let size = q.page_size(100)?;
    let before = q.cursor()?;
    let store = s.read();
    let bill = store
        .table(Table::Bills)
        .get(&id)
        .ok_or_else(|| bill_missing(&id))?;
    let lines = line_items(&bill.value);
    // Cursor = index of the next line item.
    let first = if before == u64::MAX {
        0
    } else {
        before as usize
    };
    let rest: Vec<&Object> = lines.iter().skip(first).collect();
    let data: Vec<&Object> = rest.iter().take(size).copied().collect();
    let token = (rest.len() > size).then(|| encode_token((first + size) as u64));
    Ok(list_body(&data, token))
}

/// `GET /bills/{id}/lineitems/{lineItemId}`.
pub(crate) async fn get_line_item(
    State(s): State<Arc<Shared>>,
    axum::extract::Path(params): axum::extract::Path<Vec<(String, String)>>,
) -> ApiResult<Response> {
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let (bill_id, line_id) = (param("id"), param("lineItemId"));
    let store = s.read();
    let bill = store
        .table(Table::Bills)
        .get(&bill_id)
        .ok_or_else(|| bill_missing(&bill_id))?;
    let line = line_items(&bill.value)
        .into_iter()
        .find(|l| str_of(l, "id") == Some(line_id.as_str()))
        .ok_or_else(|| ApiError::not_found(format!("bill {bill_id} has no line item {line_id}")))?;
    Ok(ok_json(line))
}

/// `GET /bills/latest/{accountId}`: the account's most recently created bill.
pub(crate) async fn latest_bill(
    State(s): State<Arc<Shared>>,
    axum::extract::Path(params): axum::extract::Path<Vec<(String, String)>>,
) -> ApiResult<Response> {
    let account = params
        .iter()
        .find(|(k, _)| k == "accountId")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    let store = s.read();
    let bill = store
        .table(Table::Bills)
        .iter_newest_first()
        .find(|e| str_of(&e.value, "accountId") == Some(account))
        .ok_or_else(|| ApiError::not_found(format!("account {account} has no bills")))?;
    Ok(ok_json(&bill.value))
}

/// Applies `change` to bill `id` unless it is locked.
fn change_bill(
    store: &Store,
    id: &str,
    now: &str,
    actor: &str,
    change: impl FnOnce(&mut Object) -> ApiResult<()>,
) -> ApiResult<(u64, Object)> {
    let e = store
        .table(Table::Bills)
        .get(id)
        .ok_or_else(|| bill_missing(id))?;
    if e.value.get("locked").and_then(Value::as_bool) == Some(true) {
        return Err(ApiError::bad_request(format!(
            "bill {id} is locked and cannot change"
        )));
    }
    let mut bill = e.value.clone();
    change(&mut bill)?;
    bump(&mut bill);
    stamp(&mut bill, now, actor, false);
    Ok((e.seq, bill))
}

fn set_status(bill: &mut Object, status: &str, now: &str, actor: &str) {
    bill.insert("status".into(), json!(status));
    if status == "APPROVED" {
        bill.insert("dtApproved".into(), json!(now));
        bill.insert("approvedBy".into(), json!(actor));
    } else {
        bill.remove("dtApproved");
        bill.remove("approvedBy");
    }
}

/// `POST /bills/approve` with `{"billIds": [...]}`.
pub(crate) async fn approve_bills(
    State(s): State<Arc<Shared>>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let ids = super::bill_ids(&body, usize::MAX)?;
    let now = timestamp(Utc::now());
    let actor = s.actor.clone();
    let n = ids.len();
    s.commit(|store| {
        let mut changes = Vec::new();
        for id in &ids {
            let (seq, bill) = change_bill(store, id, &now, &actor, |b| {
                set_status(b, "APPROVED", &now, &actor);
                Ok(())
            })?;
            changes.push(put(Table::Bills, seq, bill));
        }
        Ok((changes, ()))
    })?;
    Ok(ok_json(json!({"message": format!("{n} bill(s) approved")})))
}

/// `PUT /bills/{id}/status` with `{"status": "PENDING"|"APPROVED"}`.
pub(crate) async fn set_bill_status(
    State(s): State<Arc<Shared>>,
    PathId(id): PathId,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let status = match body.get("status").and_then(Value::as_str) {
        Some(st @ ("PENDING" | "APPROVED")) => st.to_owned(),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "`status` must be one of PENDING, APPROVED (got \"{other}\")"
            )));
        }
        None => {
            return Err(ApiError::bad_request(
                "`status` is required (PENDING or APPROVED)",
            ));
        }
    };
    let now = timestamp(Utc::now());
    let actor = s.actor.clone();
    let bill = s.commit(|store| {
        let (seq, bill) = change_bill(store, &id, &now, &actor, |b| {
            set_status(b, &status, &now, &actor);
            Ok(())
        })?;
        Ok((vec![put(Table::Bills, seq, bill.clone())], bill))
    })?;
    Ok(ok_json(bill))
}

/// `PUT /bills/{id}/lock`: only an APPROVED bill can be locked.
pub(crate) async fn lock_bill(
    State(s): State<Arc<Shared>>,
    PathId(id): PathId,
) -> ApiResult<Response> {
    let now = timestamp(Utc::now());
    let actor = s.actor.clone();
    let bill = s.commit(|store| {
        let (seq, bill) = change_bill(store, &id, &now, &actor, |b| {
            if str_of(b, "status") != Some("APPROVED") {
                return Err(ApiError::bad_request(format!(
                    "bill {id} is {} and must be APPROVED before it can be locked",
                    str_of(b, "status").unwrap_or("PENDING")
                )));
            }
            b.insert("locked".into(), json!(true));
            b.insert("dtLocked".into(), json!(now));
            b.insert("lockedBy".into(), json!(actor));
            Ok(())
        })?;
        Ok((vec![put(Table::Bills, seq, bill.clone())], bill))
    })?;
    Ok(ok_json(bill))
}
