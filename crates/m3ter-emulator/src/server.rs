//! The router, the gate every request passes (stats, latency, rate limit,
//! auth, faults), and request-body and query parsing that answer JSON errors.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequest, MatchedPath, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use serde_json::Value;

use m3ter_api::Kind;

use super::error::{ApiError, ApiResult};
use super::faults::{Fault, dropped_connection};
use super::store::Object;
use super::surface::{NOT_SERVED, check_query};
use super::{Shared, billing, crud, ingest};

/// Largest config request body read (bigger → 413).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// Builds the router of the emulator.
pub fn router(shared: Arc<Shared>) -> Router {
    let mut r = Router::new()
        .route("/oauth/token", post(super::auth::token))
        .route("/_emulator/stats", get(get_stats).delete(reset_stats));
    // Literal routes win over `{id}` ones: these answer "no route".
    for path in NOT_SERVED {
        r = r.route(path, any(not_found));
    }
    for kind in Kind::ALL {
        let coll = format!("/organizations/{{orgId}}/{}", kind.collection());
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
                get(move |s, q| crud::list(s, kind, q)).post(move |s, b| crud::create(s, kind, b)),
            )
            .route(
                &format!("{coll}/{{id}}"),
                get(move |s, p| crud::get_one(s, kind, p))
                    .put(move |s, p, b| crud::update(s, kind, p, b))
                    .delete(move |s, p| crud::delete(s, kind, p)),
            );
    }
    r.route(
        "/organizations/{orgId}/accounts/{id}/children",
        get(crud::list_children),
    )
    .route("/organizations/{orgId}/measurements", post(ingest::submit))
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

/// The lower-cased `Content-Type` (empty when absent).
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Bodies are read (drained) up to this size even when over their limit:
/// answering before the client finished sending makes it see a reset.
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;

/// Reads a whole body; more than `limit` bytes → 413.
pub async fn read_body(body: Body, limit: usize) -> ApiResult<axum::body::Bytes> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is larger than {limit} bytes"),
        )
    };
    let bytes = axum::body::to_bytes(body, limit.max(DRAIN_LIMIT))
        .await
        .map_err(|_| too_large())?;
    if bytes.len() > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Parses a JSON object body after checking the content type.
pub fn parse_object(headers: &HeaderMap, bytes: &[u8]) -> ApiResult<Object> {
    if !content_type(headers).starts_with("application/json") {
        return Err(ApiError::bad_request(
            "Content-Type must be application/json",
        ));
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("request body is not valid JSON: {e}")))?;
    match value {
        Value::Object(o) => Ok(o),
        _ => Err(ApiError::bad_request("request body must be a JSON object")),
    }
}

/// A JSON object request body; failures answer 400 `{"message"}`.
pub struct JsonBody(pub Object);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = read_body(body, MAX_BODY).await?;
        parse_object(&parts.headers, &bytes).map(JsonBody)
    }
}

/// Query parameters, in order; repeated and comma-joined values both count.
#[derive(Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Parses a raw query string. An empty value (`pageSize=`) counts as
    /// absent: m3ter's OpenAPI document marks its parameters `allowEmptyValue`.
    pub fn parse(raw: Option<&str>) -> Query {
        Query(
            raw.map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default(),
        )
    }

    /// The first value of a parameter.
    pub fn one(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// All values of a parameter, repeated or comma-joined; None if absent.
    pub fn many(&self, name: &str) -> Option<Vec<&str>> {
        let vals: Vec<&str> = self
            .0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect();
        self.0.iter().any(|(k, _)| k == name).then_some(vals)
    }

    /// A boolean parameter (`true`/`false`); other values are a 400.
    pub fn flag(&self, name: &str) -> ApiResult<Option<bool>> {
        match self.one(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(ApiError::bad_request(format!(
                "`{name}` must be true or false (got \"{v}\")"
            ))),
        }
    }

    /// `pageSize` (default 10) checked against `max`.
    pub fn page_size(&self, max: u32) -> ApiResult<usize> {
        let Some(raw) = self.one("pageSize") else {
            return Ok(10);
        };
        match raw.trim().parse::<u32>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n as usize),
            _ => Err(ApiError::bad_request(format!(
                "`pageSize` must be an integer from 1 to {max} (got \"{raw}\")"
            ))),
        }
    }

    /// The sequence number a `nextToken` points after (u64::MAX = first page).
    pub fn cursor(&self) -> ApiResult<u64> {
        match self.one("nextToken").filter(|t| !t.is_empty()) {
            None => Ok(u64::MAX),
            Some(t) => super::store::decode_token(t),
        }
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Query {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let RawQuery(raw) = RawQuery::from_request_parts(parts, state)
            .await
            .unwrap_or(RawQuery(None));
        Ok(Query::parse(raw.as_deref()))
    }
}

/// The `{id}` path segment (the last `{…}` parameter of the route).
pub struct PathId(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(params) =
            axum::extract::Path::<Vec<(String, String)>>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::not_found("the path holds an invalid id"))?;
        params
            .into_iter()
            .find(|(k, _)| k == "id")
            .map(|(_, v)| PathId(v))
            .ok_or_else(|| ApiError::not_found("the path holds no id"))
    }
}

/// Answers a JSON value with 200.
pub fn ok_json(v: impl serde::Serialize) -> Response {
    axum::Json(v).into_response()
}
