//! `POST /organizations/{orgId}/measurements`: validated, idempotent on
//! `uid`, auto-creating unknown accounts, dropping unknown meters.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use chrono::Utc;
use rand::Rng;
use serde_json::{Value, json};

use m3ter_api::Kind;
use m3ter_api::validate::{general_code, parse_date_time};

use super::Shared;
use super::error::{ApiError, ApiResult};
use super::extract::{ok_json, parse_object, read_body};
use super::rules::timestamp;
use super::store::{Change, Object};

/// Bodies of this many bytes or more are refused with 403.
pub(crate) const MAX_INGEST_BYTES: usize = 512_000;
/// Most measurements per request.
pub(crate) const MAX_MEASUREMENTS: usize = 1000;

const NUMBER_MAPS: &[&str] = &["measure", "cost", "income"];
const STRING_MAPS: &[&str] = &["who", "what", "where", "other", "metadata"];

/// Handles one ingest request.
pub(crate) async fn submit(State(s): State<Arc<Shared>>, req: Request) -> ApiResult<Response> {
    let too_big = || {
        ApiError::forbidden(format!(
            "measurements payload must be smaller than {MAX_INGEST_BYTES} bytes; send smaller batches"
        ))
    };
    // read_body drains oversized bodies too, so the client sees the 403.
    let (parts, body) = req.into_parts();
    let bytes = read_body(body, MAX_INGEST_BYTES)
        .await
        .map_err(|_| too_big())?;
    if bytes.len() >= MAX_INGEST_BYTES {
        return Err(too_big());
    }
    let mut body = parse_object(&parts.headers, &bytes)?;
    let items = match body.get("measurements") {
        Some(Value::Array(items)) => items,
        Some(_) => return Err(ApiError::bad_request("`measurements` must be a list")),
        None => return Err(ApiError::bad_request("`measurements` is required")),
    };
    if items.is_empty() || items.len() > MAX_MEASUREMENTS {
        return Err(ApiError::bad_request(format!(
            "`measurements` must hold 1 to {MAX_MEASUREMENTS} items (got {})",
            items.len()
        )));
    }
    let strict = s.config.strict;
    if strict && let Some(k) = body.keys().find(|k| *k != "measurements") {
        return Err(ApiError::bad_request(format!(
            "`{k}` is not a field of this request"
        )));
    }
    // Taken out of the body: the kept fields move, not copy.
    let Some(Value::Array(items)) = body.remove("measurements") else {
        unreachable!("checked above: `measurements` is a list");
    };
    let mut checked = Vec::with_capacity(items.len());
    for (i, m) in items.into_iter().enumerate() {
        checked.push(check_measurement(i, m, strict)?);
    }
    let now = timestamp(Utc::now());
    let actor = s.actor.clone();
    s.commit(|store| {
        let mut changes = Vec::new();
        let mut seen: HashSet<String> = HashSet::with_capacity(checked.len());
        let mut new_accounts: std::collections::HashMap<String, String> = Default::default();
        for mut m in checked {
            let uid = m.get("uid").and_then(Value::as_str).map(str::to_owned);
            if let Some(uid) = &uid
                && !seen.insert(uid.clone())
            {
                continue; // idempotent: first wins
            }
            // A uid already stored is skipped by the database's insert
            // (`INSERT OR IGNORE`); it is looked up here only where it
            // would otherwise create an account.
            let meter_code = m.get("meter").and_then(Value::as_str).unwrap_or_default();
            let Some(meter_id) = store.kind(Kind::Meter).id_by_code(meter_code) else {
                continue; // unknown meter: accepted and dropped, as m3ter does
            };
            let meter_id = meter_id.to_owned();
            let account_code = m
                .get("account")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let account_id = match store.kind(Kind::Account).id_by_code(&account_code) {
                Some(id) => id.to_owned(),
                None => match new_accounts.get(&account_code) {
                    Some(id) => id.clone(),
                    None => {
                        if let Some(uid) = &uid
                            && store.db().has_uid(uid).map_err(|e| {
                                ApiError::internal(format!("cannot read the store: {e}"))
                            })?
                        {
                            continue;
                        }
                        let (id, change) =
                            auto_account(store.next_seq(), &account_code, &now, &actor);
                        changes.push(change);
                        new_accounts.insert(account_code.clone(), id.clone());
                        id
                    }
                },
            };
            m.insert("meterId".into(), json!(meter_id));
            m.insert("accountId".into(), json!(account_id));
            changes.push(Change::Measurement { value: m });
        }
        Ok((changes, ()))
    })?;
    Ok(ok_json(json!({"result": "accepted"})))
}

/// The skeleton account m3ter creates for an unknown account code.
fn auto_account(seq: u64, code: &str, now: &str, actor: &str) -> (String, Change) {
    let id = uuid::Uuid::new_v4().to_string();
    let random: u64 = rand::rng().random();
    let value = json!({
        "id": id,
        "version": 1,
        "name": format!("{code}-autocreated"),
        "code": code,
        "emailAddress": format!("{random:016x}-autocreated@example.com"),
        "dtCreated": now,
        "dtLastModified": now,
        "createdBy": actor,
        "lastModifiedBy": actor,
    });
    let value = value.as_object().cloned().unwrap_or_default();
    let change = Change::Put {
        table: Kind::Account.collection().into(),
        seq,
        value,
    };
    (id, change)
}

/// Every field a measurement may carry.
const FIELDS: &[&str] = &[
    "uid", "meter", "account", "ts", "ets", "measure", "cost", "income", "who", "what", "where",
    "other", "metadata",
];

/// Validates measurement `i`; returns the fields we keep. Unknown fields
/// are dropped, or with `strict` a 400 naming them.
fn check_measurement(i: usize, m: Value, strict: bool) -> ApiResult<Object> {
    let at = |f: &str| format!("measurements[{i}].{f}");
    let bad = |f: &str, why: &str| ApiError::bad_request(format!("`{}` {why}", at(f)));
    let Value::Object(mut obj) = m else {
        return Err(ApiError::bad_request(format!(
            "`measurements[{i}]` must be an object"
        )));
    };
    if strict && let Some(k) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(bad(k, "is not a field of a measurement"));
    }
    for key in ["meter", "account"] {
        match obj.get(key) {
            None | Some(Value::Null) => return Err(bad(key, "is required")),
            Some(Value::String(s)) => general_code(s).map_err(|why| bad(key, &why))?,
            Some(_) => return Err(bad(key, "must be a string")),
        }
    }
    for key in ["ts", "ets"] {
        match obj.get(key) {
            None | Some(Value::Null) if key == "ts" => return Err(bad(key, "is required")),
            None | Some(Value::Null) => {}
            Some(v) => {
                if v.as_str().and_then(parse_date_time).is_none() {
                    return Err(bad(
                        key,
                        "must be an ISO-8601 date-time like 2024-12-01T00:00:00Z",
                    ));
                }
            }
        }
    }
    match obj.get("uid") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.chars().count() <= 50 => {}
        Some(Value::String(_)) => return Err(bad("uid", "must be at most 50 characters long")),
        Some(_) => return Err(bad("uid", "must be a string")),
    }
    for key in NUMBER_MAPS.iter().chain(STRING_MAPS) {
        let numeric = NUMBER_MAPS.contains(key);
        match obj.get(*key) {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (k, v) in map {
                    let field = format!("{key}.{k}");
                    if numeric && !v.is_number() {
                        return Err(bad(&field, "must be a number"));
                    }
                    if !numeric {
                        let Some(s) = v.as_str() else {
                            return Err(bad(&field, "must be a string"));
                        };
                        if *key == "metadata" && s.chars().count() > 256 {
                            return Err(bad(&field, "must be at most 256 characters long"));
                        }
                    }
                }
            }
            Some(_) => {
                let kind = if numeric { "numbers" } else { "strings" };
                return Err(bad(
                    key,
                    &format!("must be an object of field codes to {kind}"),
                ));
            }
        }
    }
    // In FIELDS order, as stored before (the body text stays the same).
    let mut keep = Object::new();
    for key in FIELDS {
        if let Some(v) = obj.remove(*key).filter(|v| !v.is_null()) {
            keep.insert((*key).to_owned(), v);
        }
    }
    Ok(keep)
}
