//! The router of the emulator and the gate every request passes (stats,
//! latency, rate limit, auth, faults). Dependencies point one way: the
//! router knows the handlers ([`crate::crud`], [`crate::ingest`],
//! [`crate::billing`], [`crate::auth`]); they read requests through
//! [`crate::extract`] and know nothing of the router.

use std::sync::Arc;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};

use m3ter_api::Kind;

use crate::error::ApiError;
use crate::faults::{Fault, dropped_connection};
use crate::surface::{NOT_SERVED, check_query};
use crate::{Shared, auth, billing, crud, events, ingest, members, usage};

/// Builds the router of the emulator.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let mut r = Router::new()
        .route("/oauth/token", post(auth::token))
        .route("/_emulator/stats", get(get_stats).delete(reset_stats));
    // Literal routes win over `{id}` ones: these answer "no route".
    for path in NOT_SERVED {
        r = r.route(path, any(not_found));
    }
    for kind in Kind::ALL {
        let mut coll = format!("/organizations/{{orgId}}/{}", kind.collection());
        if kind.typed().is_some() {
            // A typed kind's collections are one per type.
            coll.push_str("/{type}");
        }
        if kind.is_singleton() {
            // One per org: no list, create, id or delete.
            r = r.route(
                &coll,
                get(move |s| crud::get_singleton(s, kind))
                    .put(move |s, b| crud::put_singleton(s, kind, b)),
            );
            continue;
        }
        r = r
            .route(
                &coll,
                get(move |s, t, q| crud::list(s, kind, t, q))
                    .post(move |s, t, b| crud::create(s, kind, t, b)),
            )
            .route(
                &format!("{coll}/{{id}}"),
                get(move |s, t, p| crud::get_one(s, kind, t, p))
                    .put(move |s, t, p, b| crud::update(s, kind, t, p, b))
                    .delete(move |s, t, p| crud::delete(s, kind, t, p)),
            );
        if let Some(m) = kind.members() {
            r = r
                .route(
                    &format!("{coll}/{{id}}/{}", m.contents),
                    post(move |s, t, p, q| members::contents(s, kind, t, p, q)),
                )
                .route(
                    &format!("{coll}/{{id}}/{}", m.add),
                    post(move |s, t, p, b| members::add(s, kind, t, p, b)),
                )
                .route(
                    &format!("{coll}/{{id}}/{}", m.remove),
                    post(move |s, t, p, b| members::remove(s, kind, t, p, b)),
                );
        }
    }
    r.route(
        "/organizations/{orgId}/accounts/{id}/children",
        get(crud::list_children),
    )
    .route("/organizations/{orgId}/measurements", post(ingest::submit))
    .route("/organizations/{orgId}/usage/query", post(usage::query))
    .route("/organizations/{orgId}/events/types", get(events::types))
    .route("/organizations/{orgId}/events/fields", get(events::fields))
    .route(
        "/organizations/{orgId}/balances/{balanceId}/transactions",
        get(billing::transactions::list_transactions)
            .post(billing::transactions::create_transaction),
    )
    .route(
        "/organizations/{orgId}/billjobs",
        get(billing::list_jobs).post(billing::create_job),
    )
    .route(
        "/organizations/{orgId}/billjobs/recalculate",
        post(billing::recalculate_job),
    )
    .route(
        "/organizations/{orgId}/billjobs/{id}",
        get(billing::get_job),
    )
    .route(
        "/organizations/{orgId}/billjobs/{id}/cancel",
        post(billing::cancel_job),
    )
    .route(
        "/organizations/{orgId}/bills",
        get(billing::bills::list_bills),
    )
    .route(
        "/organizations/{orgId}/bills/approve",
        post(billing::bills::approve_bills),
    )
    .route(
        "/organizations/{orgId}/bills/{id}",
        get(billing::bills::get_bill).delete(billing::bills::delete_bill),
    )
    .route(
        "/organizations/{orgId}/bills/{id}/lineitems",
        get(billing::bills::list_line_items),
    )
    .route(
        "/organizations/{orgId}/bills/{id}/lineitems/{lineItemId}",
        get(billing::bills::get_line_item),
    )
    .route(
        "/organizations/{orgId}/bills/latest/{accountId}",
        get(billing::bills::latest_bill),
    )
    .route(
        "/organizations/{orgId}/bills/{id}/status",
        put(billing::bills::set_bill_status),
    )
    .route(
        "/organizations/{orgId}/bills/{id}/lock",
        put(billing::bills::lock_bill),
    )
    .fallback(not_found)
    .method_not_allowed_fallback(method_not_allowed)
    .layer(axum::middleware::from_fn_with_state(shared.clone(), gate))
    .with_state(shared)
}

async fn not_found(req: Request) -> ApiError {
    ApiError::not_found(format!(
        "no route for {} {}",
        req.method(),
        req.uri().path()
    ))
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "method {} is not allowed on {}",
            req.method(),
            req.uri().path()
        ),
    )
}

/// Every request passes here: it is counted and delayed; on org paths the
/// org id is checked, then the per-org rate limit, the token, and faults.
/// Its response is counted as answered (a stats request's is not).
async fn gate(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let counted = req.uri().path() != "/_emulator/stats";
    let resp = pass(&s, req, next).await;
    if counted {
        s.stats.answered();
    }
    resp
}

async fn pass(s: &Shared, req: Request, next: Next) -> Response {
    // Not-served paths count as unmatched, like any other "no route".
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str())
        .filter(|t| !NOT_SERVED.contains(t));
    s.stats.count(req.method().as_str(), template);
    let path = req.uri().path();
    if path != "/_emulator/stats" && !s.config.latency.is_zero() {
        tokio::time::sleep(s.config.latency).await;
    }
    if !path.starts_with("/organizations/") {
        return next.run(req).await;
    }
    let org = path.split('/').nth(2).unwrap_or_default();
    if org != s.config.org_id {
        return ApiError::forbidden(format!("unknown organization {org}")).into_response();
    }
    if let Err(secs) = s.rate.admit() {
        return ApiError::too_many(
            format!(
                "rate limit of {} requests per second exceeded; retry after {secs} s",
                s.config.max_rps.unwrap_or_default()
            ),
            std::time::Duration::from_secs(secs),
        )
        .into_response();
    }
    if let Err(e) = s.tokens.check(req.headers()) {
        return e.into_response();
    }
    if s.config.strict
        && let (Some(t), Some(q)) = (template, req.uri().query())
        && let Err(e) = check_query(req.method(), t, q)
    {
        return e.into_response();
    }
    match s.faults.decide() {
        None => next.run(req).await,
        Some(Fault::Internal) => {
            ApiError::internal("injected fault: internal error").into_response()
        }
        Some(Fault::Unavailable) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "injected fault: service unavailable",
        )
        .into_response(),
        Some(Fault::RateLimited) => {
            ApiError::too_many("injected fault: rate limited", s.config.retry_after).into_response()
        }
        Some(Fault::DropBefore) => dropped_connection(),
        Some(Fault::CommitThen500) => {
            let _ = next.run(req).await;
            ApiError::internal("injected fault: internal error after the change").into_response()
        }
        Some(Fault::CommitThenDrop) => {
            let _ = next.run(req).await;
            dropped_connection()
        }
    }
}

async fn get_stats(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(s.stats.snapshot()).into_response()
}

async fn reset_stats(State(s): State<Arc<Shared>>) -> Response {
    s.stats.reset();
    axum::Json(s.stats.snapshot()).into_response()
}
