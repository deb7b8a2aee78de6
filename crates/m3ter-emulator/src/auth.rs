//! OAuth2 client credentials: `POST /oauth/token` and bearer token checks.
//! Tokens are opaque random strings kept in memory (never logged).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use rand::Rng;
use serde_json::{Value, json};

use super::Shared;
use super::error::{ApiError, ApiResult};
use super::extract::{content_type, read_body};

/// Issued tokens and their expiry.
#[derive(Debug)]
pub(crate) struct Tokens {
    ttl: Duration,
    issued: RwLock<HashMap<String, Instant>>,
}

impl Tokens {
    /// Tokens that live `ttl`.
    pub(crate) fn new(ttl: Duration) -> Self {
        Tokens {
            ttl,
            issued: RwLock::new(HashMap::new()),
        }
    }

    /// Issues a new token.
    pub(crate) fn issue(&self) -> String {
        let bytes: [u8; 32] = rand::rng().random();
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let now = Instant::now();
        let mut map = self.issued.write().unwrap_or_else(|e| e.into_inner());
        // Clients may fetch a token per request (the Python SDK does): drop
        // expired ones so the map stays bounded by the live ones.
        if map.len() >= 4096 {
            map.retain(|_, exp| *exp > now);
        }
        map.insert(token.clone(), now + self.ttl);
        token
    }

    /// Token lifetime in seconds (`expires_in`).
    pub(crate) fn ttl_secs(&self) -> u64 {
        self.ttl.as_secs()
    }

    /// Checks `Authorization: Bearer <token>`; any failure is a 403.
    pub(crate) fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ApiError::forbidden("missing `Authorization: Bearer <token>` header; get a token from POST /oauth/token")
            })?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| ApiError::forbidden("`Authorization` must be `Bearer <token>`"))?
            .trim();
        let map = self.issued.read().unwrap_or_else(|e| e.into_inner());
        match map.get(token) {
            Some(exp) if *exp > Instant::now() => Ok(()),
            Some(_) => Err(ApiError::forbidden(
                "the bearer token has expired; get a new one from POST /oauth/token",
            )),
            None => Err(ApiError::forbidden("the bearer token is not valid")),
        }
    }
}

/// Checks `Authorization: Basic base64(key:secret)` of a token request.
pub(crate) fn check_basic(headers: &HeaderMap, key: &str, secret: &str) -> Result<(), ApiError> {
    let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, m);
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            unauthorized("missing `Authorization: Basic ...` header with the API key and secret")
        })?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
        .ok_or_else(|| unauthorized("`Authorization` must be `Basic base64(key:secret)`"))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| unauthorized("`Authorization` Basic credentials are not valid base64"))?;
    match decoded.split_once(':') {
        Some((k, s)) if same(k, key) & same(s, secret) => Ok(()),
        _ => Err(unauthorized("invalid API key or secret")),
    }
}

/// Compares without stopping at the first difference, so response time
/// does not reveal how much of a guessed secret was right.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(!x));
    }
    diff == 0
}

/// `POST /oauth/token`: client credentials in Basic auth, a JSON or form body.
pub(crate) async fn token(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    req: Request,
) -> ApiResult<Response> {
    check_basic(&headers, &s.config.api_key, &s.config.api_secret)?;
    let bytes = read_body(req.into_body(), 64 * 1024).await?;
    let ctype = content_type(&headers);
    let grant = if ctype.starts_with("application/x-www-form-urlencoded") {
        form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "grant_type")
            .map(|(_, v)| v.into_owned())
    } else if ctype.starts_with("application/json") {
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("request body is not valid JSON: {e}")))?;
        v.get("grant_type")
            .and_then(Value::as_str)
            .map(str::to_owned)
    } else {
        return Err(ApiError::bad_request(
            "Content-Type must be application/json or application/x-www-form-urlencoded",
        ));
    };
    match grant.as_deref() {
        Some("client_credentials") => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "`grant_type` must be client_credentials (got \"{other}\")"
            )));
        }
        None => return Err(ApiError::bad_request("`grant_type` is required")),
    }
    let body = json!({
        "access_token": s.tokens.issue(),
        "expires_in": s.tokens.ttl_secs(),
        "token_type": "Bearer",
        "scope": null,
    });
    Ok(axum::Json(body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_compares_whole_strings() {
        assert!(same("local-secret", "local-secret"));
        assert!(!same("local-secret", "local-secreT"));
        assert!(!same("local", "local-secret"));
        assert!(!same("local-secret", "local"));
        assert!(same("", ""));
    }
}
