//! Handlers of the nine config kinds: list, create, get, update, delete.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::Value;

use m3ter_api::Kind;
use m3ter_api::validate::parse_date_time;

use super::Shared;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, PathId, Query, list_body, ok_json};
use super::rules::{self, Stamp};
use super::store::{Change, Object, Store, page};

/// `GET /organizations/{orgId}/<collection>`.
pub(crate) async fn list(
    State(s): State<Arc<Shared>>,
    kind: Kind,
    q: Query,
) -> ApiResult<Response> {
    let size = q.page_size(kind.max_page_size())?;
    let before = q.cursor()?;
    let store = s.read();
    let filter = Filter::parse(kind, &q)?;
    let entries = store
        .kind(kind)
        .iter_before(before)
        .filter(|e| filter.matches(&e.value, &store));
    let (data, token) = page(entries, size);
    Ok(list_body(&data, token))
}

/// `POST /organizations/{orgId}/<collection>`.
pub(crate) async fn create(
    State(s): State<Arc<Shared>>,
    kind: Kind,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let now = rules::timestamp(Utc::now());
    let stamp = Stamp {
        actor: &s.actor,
        now: &now,
    };
    let strict = s.config.strict;
    let entity = s.commit(|store| {
        let entity = rules::prepare(store, kind, &body, None, strict, &stamp)?;
        let seq = store.next_seq();
        let change = Change::Put {
            table: kind.collection().into(),
            seq,
            value: entity.clone(),
        };
        Ok((vec![change], entity))
    })?;
    Ok(ok_json(entity))
}

/// `GET /organizations/{orgId}/<collection>/{id}`.
pub(crate) async fn get_one(
    State(s): State<Arc<Shared>>,
    kind: Kind,
    PathId(id): PathId,
) -> ApiResult<Response> {
    let store = s.read();
    let e = store
        .kind(kind)
        .get(&id)
        .ok_or_else(|| missing(kind, &id))?;
    Ok(ok_json(&e.value))
}

/// `PUT /organizations/{orgId}/<collection>/{id}`: full replacement with
/// optimistic locking on `version`.
pub(crate) async fn update(
    State(s): State<Arc<Shared>>,
    kind: Kind,
    PathId(id): PathId,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let now = rules::timestamp(Utc::now());
    let stamp = Stamp {
        actor: &s.actor,
        now: &now,
    };
    let strict = s.config.strict;
    let entity = s.commit(|store| {
        let old = store.kind(kind).get(&id).ok_or_else(|| missing(kind, &id))?;
        let current = old.value.get("version").and_then(Value::as_i64).unwrap_or(0);
        match body.get("version") {
            None | Some(Value::Null) => {
                return Err(ApiError::conflict(format!(
                    "`version` is required on update; the {kind}'s current version is {current}"
                )));
            }
            Some(v) if v.as_i64().is_none() => {
                return Err(ApiError::bad_request(format!(
                    "`version` must be an integer (got {v})"
                )));
            }
            Some(v) if v.as_i64() != Some(current) => {
                return Err(ApiError::conflict(format!(
                    "`version` {v} is stale: {kind} {id} is at version {current}; read it again and retry"
                )));
            }
            Some(_) => {}
        }
        let entity = rules::prepare(store, kind, &body, Some(&old.value), strict, &stamp)?;
        let change = Change::Put {
            table: kind.collection().into(),
            seq: old.seq,
            value: entity.clone(),
        };
        Ok((vec![change], entity))
    })?;
    Ok(ok_json(entity))
}

/// `DELETE /organizations/{orgId}/<collection>/{id}`: answers the deleted
/// entity; refused while other entities reference it.
pub(crate) async fn delete(
    State(s): State<Arc<Shared>>,
    kind: Kind,
    PathId(id): PathId,
) -> ApiResult<Response> {
    let entity = s.commit(|store| {
        let old = store
            .kind(kind)
            .get(&id)
            .ok_or_else(|| missing(kind, &id))?;
        if let Some(dep) = rules::first_dependent(store, kind, &id) {
            return Err(ApiError::bad_request(format!(
                "cannot delete {kind} {id}: {dep} references it; delete or change that first"
            )));
        }
        let value = old.value.clone();
        let change = Change::Delete {
            table: kind.collection().into(),
            id: id.clone(),
        };
        Ok((vec![change], value))
    })?;
    Ok(ok_json(entity))
}

fn missing(kind: Kind, id: &str) -> ApiError {
    ApiError::not_found(format!("no {kind} with id {id}"))
}

/// The documented list filters of a kind, parsed from the query.
#[derive(Debug, Default)]
struct Filter {
    /// (field, accepted values) equality checks.
    equals: Vec<(&'static str, HashSet<String>)>,
    /// Aggregations: product ids, matched through the meter.
    meter_products: Option<HashSet<String>>,
    /// Active at this instant (startDate ≤ t < endDate).
    active_at: Option<DateTime<Utc>>,
}

impl Filter {
    fn parse(kind: Kind, q: &Query) -> ApiResult<Filter> {
        let mut f = Filter::default();
        let set = |v: Vec<&str>| v.into_iter().map(str::to_owned).collect::<HashSet<_>>();
        let mut eq = |field: &'static str, param: &str, multi: bool| {
            let vals = if multi {
                q.many(param)
            } else {
                q.one(param).map(|v| vec![v])
            };
            if let Some(v) = vals {
                f.equals.push((field, set(v)));
            }
        };
        if kind.filters().iter().any(|x| x.param == "ids") {
            eq("id", "ids", true);
        }
        if kind.filters().iter().any(|x| x.param == "codes") {
            eq("code", "codes", true);
        }
        match kind {
            Kind::Meter | Kind::CompoundAggregation => eq("productId", "productId", true),
            Kind::PlanTemplate => eq("productId", "productId", false),
            Kind::Plan => {
                eq("productId", "productId", false);
                eq("accountId", "accountId", true);
            }
            Kind::Pricing => {
                eq("planId", "planId", false);
                eq("planTemplateId", "planTemplateId", false);
                eq("aggregationId", "aggregationId", false);
            }
            Kind::AccountPlan => {
                eq("accountId", "account", false);
                eq("planId", "plan", false);
                eq("contractId", "contract", false);
                if q.one("product").is_some() {
                    if q.one("account").is_none() {
                        return Err(ApiError::bad_request(
                            "the `product` filter must be combined with `account`",
                        ));
                    }
                    eq("productId", "product", false);
                }
            }
            Kind::Aggregation => {
                if let Some(p) = q.many("productId") {
                    f.meter_products = Some(set(p));
                }
            }
            Kind::Product | Kind::Account => {}
        }
        if matches!(kind, Kind::Pricing | Kind::AccountPlan)
            && let Some(d) = q.one("date")
        {
            f.active_at = Some(parse_filter_date(d)?);
        }
        if kind == Kind::AccountPlan && f.active_at.is_none() {
            let include_all = q.flag("includeall")?.unwrap_or(false);
            if q.one("account").is_some() && !include_all {
                f.active_at = Some(Utc::now());
            }
        }
        Ok(f)
    }

    fn matches(&self, o: &Object, store: &Store) -> bool {
        let via_meter = || {
            let products = self.meter_products.as_ref()?;
            let meter = store.kind(Kind::Meter).get(o.get("meterId")?.as_str()?)?;
            let product = meter.value.get("productId")?.as_str()?;
            Some(products.contains(product))
        };
        if self.meter_products.is_some() && via_meter() != Some(true) {
            return false;
        }
        self.equals.iter().all(|(field, vals)| {
            o.get(*field)
                .and_then(Value::as_str)
                .is_some_and(|v| vals.contains(v))
        }) && self.active_at.is_none_or(|t| rules::active_at(o, t))
    }
}

/// A `date` filter value: a date-time, or a date meaning its midnight UTC.
fn parse_filter_date(d: &str) -> ApiResult<DateTime<Utc>> {
    parse_date_time(d)
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .ok()
                .and_then(|n| n.and_hms_opt(0, 0, 0))
                .map(|n| n.and_utc())
        })
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "`date` must be a date (2024-12-01) or date-time (got \"{d}\")"
            ))
        })
}

/// `GET /organizations/{orgId}/accounts/{id}/children`: the accounts whose
/// `parentAccountId` is `id`, newest first (`pageSize` ≤ 200).
pub(crate) async fn list_children(
    State(s): State<Arc<Shared>>,
    PathId(id): PathId,
    q: Query,
) -> ApiResult<Response> {
    let size = q.page_size(200)?;
    let before = q.cursor()?;
    let store = s.read();
    let accounts = store.kind(Kind::Account);
    if accounts.get(&id).is_none() {
        return Err(missing(Kind::Account, &id));
    }
    let entries = accounts
        .iter_before(before)
        .filter(|e| e.value.get("parentAccountId").and_then(Value::as_str) == Some(id.as_str()));
    let (data, token) = page(entries, size);
    Ok(list_body(&data, token))
}
