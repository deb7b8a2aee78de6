//! OAuth2 client credentials: `POST /oauth/token` and bearer token checks.
//! Tokens are opaque random strings kept in memory (never logged).

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine as _;
use rand::Rng;

use super::error::ApiError;

/// Issued tokens and their expiry.
#[derive(Debug)]
pub struct Tokens {
    ttl: Duration,
    issued: RwLock<HashMap<String, Instant>>,
}

impl Tokens {
    /// Tokens that live `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Tokens {
            ttl,
            issued: RwLock::new(HashMap::new()),
        }
    }

    /// Issues a new token.
    pub fn issue(&self) -> String {
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
    pub fn ttl_secs(&self) -> u64 {
        self.ttl.as_secs()
    }

    /// Checks `Authorization: Bearer <token>`; any failure is a 403.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
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
pub fn check_basic(headers: &HeaderMap, key: &str, secret: &str) -> Result<(), ApiError> {
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
        Some((k, s)) if k == key && s == secret => Ok(()),
        _ => Err(unauthorized("invalid API key or secret")),
    }
}
