//! What handlers read requests with and answer through: body and query
//! extractors that fail with m3ter's JSON `{"message"}` errors (never a
//! framework's text), and the response helpers. Handlers depend on this
//! module; it depends on no handler and not on the router.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, RawQuery, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use m3ter_api::schema::{Field, Type};
use m3ter_api::validate::{RefMode, Rule, check_value};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::store::{Object, decode_token};

/// Largest config request body read (bigger → 413).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// The lower-cased `Content-Type` (empty when absent).
pub(crate) fn content_type(headers: &HeaderMap) -> String {
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
pub(crate) async fn read_body(body: Body, limit: usize) -> ApiResult<axum::body::Bytes> {
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
pub(crate) fn parse_object(headers: &HeaderMap, bytes: &[u8]) -> ApiResult<Object> {
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
pub(crate) struct JsonBody(pub(crate) Object);

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
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    /// Parses a raw query string. An empty value (`pageSize=`) counts as
    /// absent: m3ter's OpenAPI document marks its parameters `allowEmptyValue`.
    pub(crate) fn parse(raw: Option<&str>) -> Query {
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
    pub(crate) fn one(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// All values of a parameter, repeated or comma-joined; None if absent.
    pub(crate) fn many(&self, name: &str) -> Option<Vec<&str>> {
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
    pub(crate) fn flag(&self, name: &str) -> ApiResult<Option<bool>> {
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
    pub(crate) fn page_size(&self, max: u32) -> ApiResult<usize> {
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
    pub(crate) fn cursor(&self) -> ApiResult<u64> {
        match self.one("nextToken").filter(|t| !t.is_empty()) {
            None => Ok(u64::MAX),
            Some(t) => decode_token(t),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let RawQuery(raw) = RawQuery::from_request_parts(parts, state)
            .await
            .unwrap_or(RawQuery(None));
        Ok(Query::parse(raw.as_deref()))
    }
}

/// The `{id}` path segment (the last `{…}` parameter of the route).
pub(crate) struct PathId(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
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

/// The `{type}` segment of a typed kind's routes
/// ([`m3ter_api::kinds::Typed`]); absent from other kinds' routes, which
/// take it as an `Option`.
pub(crate) struct PathSegment(pub(crate) String);

impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for PathSegment {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let axum::extract::Path(params) =
            <axum::extract::Path<Vec<(String, String)>> as FromRequestParts<S>>::from_request_parts(
                parts, state,
            )
            .await
            .map_err(|_| ApiError::not_found("the path holds an invalid segment"))?;
        Ok(params
            .into_iter()
            .find(|(k, _)| k == "type")
            .map(|(_, v)| PathSegment(v)))
    }
}

/// Answers a JSON value with 200.
pub(crate) fn ok_json(v: impl serde::Serialize) -> Response {
    axum::Json(v).into_response()
}

/// The `{"data": [...], "nextToken": "..."}` body of a list (the token is
/// omitted on the last page).
pub(crate) fn list_body(data: &[&Object], token: Option<String>) -> Response {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Page<'a> {
        data: &'a [&'a Object],
        #[serde(skip_serializing_if = "Option::is_none")]
        next_token: Option<String>,
    }
    ok_json(Page {
        data,
        next_token: token,
    })
}

/// Checks a request body against `schema`: 400 with every violation. An
/// unknown field counts only in strict mode, as for config entities.
pub(crate) fn check_request(
    schema: &'static [Field],
    body: &Object,
    strict: bool,
) -> ApiResult<()> {
    let mut violations = Vec::new();
    check_value(
        &Type::Object(schema),
        &Value::Object(body.clone()),
        "",
        RefMode::Uuid,
        &mut violations,
    );
    let msgs: Vec<String> = violations
        .into_iter()
        .filter(|v| strict || v.rule != Rule::Unknown)
        // Top-level paths come out as "`.field`".
        .map(|v| v.message.replace("`.", "`"))
        .collect();
    if msgs.is_empty() {
        Ok(())
    } else {
        Err(ApiError::bad_request(msgs.join("; ")))
    }
}
