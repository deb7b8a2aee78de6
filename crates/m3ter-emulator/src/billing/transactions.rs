//! Balance transactions (`/balances/{balanceId}/transactions`): the
//! amounts a balance holds. Rating draws a balance down from the sum of its
//! transactions ([`m3ter_rating::balance_amount`]); the balance's own
//! `amount` field is not kept.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use chrono::Utc;
use serde_json::json;

use m3ter_api::Kind;
use m3ter_api::schema::{Field, Type};

use super::{put, stamp, str_of};
use crate::Shared;
use crate::error::{ApiError, ApiResult};
use crate::extract::check_request;
use crate::extract::{JsonBody, Query, list_body, ok_json};
use crate::rules::timestamp;
use crate::store::{Object, Store, Table, page};

const fn opt(name: &'static str, ty: Type) -> Field {
    Field {
        name,
        ty,
        required: false,
    }
}

/// The BalanceTransactionRequest schema.
const TRANSACTION: &[Field] = &[
    Field {
        name: "amount",
        ty: Type::Number {
            min: None,
            exclusive_min: false,
        },
        required: true,
    },
    opt("description", Type::Text),
    opt(
        "paid",
        Type::Number {
            min: None,
            exclusive_min: false,
        },
    ),
    opt("currencyPaid", Type::Text),
    opt("transactionTypeId", Type::Str { min: 0, max: 36 }),
    opt("appliedDate", Type::DateTime),
    opt("transactionDate", Type::DateTime),
    opt(
        "version",
        Type::Integer {
            min: None,
            max: None,
            exclusive_min: false,
        },
    ),
];

fn balance_id(params: &[(String, String)]) -> String {
    params
        .iter()
        .find(|(k, _)| k == "balanceId")
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn balance_exists(store: &Store, id: &str) -> ApiResult<()> {
    match store.kind(Kind::Balance).get(id) {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found(format!("no balance with id {id}"))),
    }
}

/// `POST /balances/{balanceId}/transactions`.
pub(crate) async fn create_transaction(
    State(s): State<Arc<Shared>>,
    axum::extract::Path(params): axum::extract::Path<Vec<(String, String)>>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let id = balance_id(&params);
    check_request(TRANSACTION, &body, s.config.strict)?;
    let now = timestamp(Utc::now());
    let actor = s.actor.clone();
    let tx = s.commit(|store| {
        balance_exists(store, &id)?;
        let mut tx = Object::new();
        tx.insert("id".into(), json!(uuid::Uuid::new_v4().to_string()));
        tx.insert("version".into(), json!(1));
        tx.insert("balanceId".into(), json!(id));
        for f in TRANSACTION.iter().filter(|f| f.name != "version") {
            if let Some(v) = body.get(f.name).filter(|v| !v.is_null()) {
                tx.insert(f.name.into(), v.clone());
            }
        }
        tx.insert("entityType".into(), json!("SERVICE_USER"));
        tx.insert("entityId".into(), json!(actor));
        stamp(&mut tx, &now, &actor, true);
        let seq = store.next_seq();
        Ok((vec![put(Table::BalanceTransactions, seq, tx.clone())], tx))
    })?;
    Ok(ok_json(tx))
}

/// `GET /balances/{balanceId}/transactions` (newest first, `pageSize` ≤ 100).
pub(crate) async fn list_transactions(
    State(s): State<Arc<Shared>>,
    axum::extract::Path(params): axum::extract::Path<Vec<(String, String)>>,
    q: Query,
) -> ApiResult<Response> {
    let id = balance_id(&params);
    let size = q.page_size(100)?;
    let before = q.cursor()?;
    let store = s.read();
    balance_exists(&store, &id)?;
    let entries = store
        .table(Table::BalanceTransactions)
        .iter_before(before)
        .filter(|e| str_of(&e.value, "balanceId") == Some(id.as_str()));
    let (data, token) = page(entries, size);
    Ok(list_body(&data, token))
}
