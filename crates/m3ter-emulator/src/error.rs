//! API errors of the emulator and their JSON form: every failure answers
//! `{"message": "..."}` like the real m3ter API, never a framework's text.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An error answered to the client as `status` + `{"message"}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    /// The `Retry-After` header (429s), in seconds, fractions kept.
    pub(crate) retry_after: Option<Duration>,
}

impl ApiError {
    /// An error with the given status and message.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            retry_after: None,
        }
    }
    /// 400: the request is invalid; the message names the field and rule.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    /// 403: missing/wrong/expired token, unknown org, oversized ingest.
    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    /// 404: an unknown id in the path, or an unknown route.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    /// 409: stale or missing `version` on an update.
    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
    /// 429 with `Retry-After: <after in seconds>`.
    pub(crate) fn too_many(message: impl Into<String>, after: Duration) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, message);
        e.retry_after = Some(after);
        e
    }
    /// 500: something failed on our side (e.g. the database could not be written).
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "message": self.message });
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(after) = self.retry_after {
            // Whole seconds as an integer (the HTTP form); `--retry-after
            // 0.05` as a decimal, which m3ter's clients and ours accept.
            let value = match after.subsec_nanos() {
                0 => HeaderValue::from(after.as_secs()),
                _ => HeaderValue::try_from(after.as_secs_f64().to_string())
                    .unwrap_or_else(|_| HeaderValue::from(after.as_secs())),
            };
            resp.headers_mut().insert(header::RETRY_AFTER, value);
        }
        resp
    }
}

/// Result of a handler.
pub(crate) type ApiResult<T> = Result<T, ApiError>;
