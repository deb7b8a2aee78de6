//! Bearer tokens: a pre-issued token, or OAuth2 client credentials with a
//! cache that renews before expiry.
//!
//! Renewal is single-flight: the cache's async mutex is held across the
//! token request, so when many tasks find the token stale at once, one
//! fetches and the others wait for its result.

use std::time::Duration;

use base64::Engine;
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::{ApiError, Secret};

/// How the client authenticates.
#[derive(Debug, Clone, PartialEq)]
pub enum Auth {
    /// A service user's access key id and API secret, exchanged for tokens
    /// at `POST {base}/oauth/token`.
    Credentials { key: Secret, secret: Secret },
    /// A pre-issued bearer token; `/oauth/token` is never called.
    Token(Secret),
}

/// A token and when to stop using it.
#[derive(Debug, Clone)]
struct Cached {
    token: Secret,
    renew_at: Instant,
}

/// Token source shared by every request of a client.
#[derive(Debug)]
pub(crate) struct TokenCache {
    auth: Auth,
    cached: Mutex<Option<Cached>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: i64,
}

/// Renew `min(300 s, ttl/2)` before the server's expiry: early enough that
/// a request in flight never carries a just-expired token, and for short
/// test TTLs still half of the lifetime.
fn renewal_margin(ttl: Duration) -> Duration {
    (ttl / 2).min(Duration::from_secs(300))
}

impl TokenCache {
    pub(crate) fn new(auth: Auth) -> Self {
        TokenCache {
            auth,
            cached: Mutex::new(None),
        }
    }

    /// Whether a rejected token can be replaced by asking for a new one.
    pub(crate) fn can_renew(&self) -> bool {
        matches!(self.auth, Auth::Credentials { .. })
    }

    /// A valid token, fetched with `fetch` when none is cached or the cached
    /// one is due for renewal.
    pub(crate) async fn token<F, Fut>(&self, fetch: F) -> Result<Secret, ApiError>
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = Result<TokenReply, ApiError>>,
    {
        let (key, secret) = match &self.auth {
            Auth::Token(t) => return Ok(t.clone()),
            Auth::Credentials { key, secret } => (key, secret),
        };
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && Instant::now() < c.renew_at
        {
            return Ok(c.token.clone());
        }
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            key.expose(),
            secret.expose()
        ));
        let fetched_at = Instant::now();
        let reply = fetch(format!("Basic {basic}")).await?;
        let ttl = Duration::from_secs(reply.expires_in.max(0) as u64);
        let token = reply.token;
        *cached = Some(Cached {
            token: token.clone(),
            renew_at: fetched_at + ttl - renewal_margin(ttl),
        });
        tracing::debug!(ttl_s = ttl.as_secs(), "obtained access token");
        Ok(token)
    }

    /// Drops `rejected` from the cache so the next [`TokenCache::token`]
    /// fetches a new one. A token another task already replaced is left
    /// alone, so a burst of 401s causes one renewal, not one each.
    pub(crate) async fn invalidate(&self, rejected: &Secret) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|c| &c.token == rejected) {
            *cached = None;
        }
    }
}

/// A parsed `/oauth/token` answer.
pub(crate) struct TokenReply {
    pub(crate) token: Secret,
    pub(crate) expires_in: i64,
}

impl TokenReply {
    /// Parses the token endpoint's JSON. The error never quotes the body:
    /// it holds the token.
    pub(crate) fn parse(bytes: &[u8]) -> Result<TokenReply, String> {
        let r: TokenResponse = serde_json::from_slice(bytes).map_err(|e| {
            format!(
                "token response is not {{\"access_token\", \"expires_in\"}} JSON ({:?} error at line {} column {})",
                e.classify(),
                e.line(),
                e.column()
            )
        })?;
        Ok(TokenReply {
            token: Secret::new(r.access_token),
            expires_in: r.expires_in,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_is_five_minutes_or_half_the_ttl() {
        assert_eq!(
            renewal_margin(Duration::from_secs(18_000)),
            Duration::from_secs(300)
        );
        assert_eq!(
            renewal_margin(Duration::from_secs(10)),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn token_parse_errors_do_not_quote_the_body() {
        let err = TokenReply::parse(br#"{"access_token": "sekrit-token", "expires_in": "x"}"#)
            .err()
            .unwrap_or_default();
        assert!(err.contains("line 1"), "{err}");
        assert!(!err.contains("sekrit"), "{err}");
    }
}
