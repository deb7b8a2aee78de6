//! Typed API failures. A failure is data: callers branch on the predicates
//! (`is_not_found`, `is_retryable`, …), never on message text.
//!
//! No variant ever holds a credential: messages are built from the method,
//! the path under the host, the status and the server's `message`.

use std::time::Duration;

/// A failed call to the m3ter API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The server answered with a non-success status.
    #[error("{method} {path} failed with HTTP {status}: {message}")]
    Status {
        status: u16,
        /// The server's `message`, or a short excerpt of a non-JSON body.
        message: String,
        method: String,
        path: String,
        /// The `Retry-After` header (seconds form), when the server sent one.
        retry_after: Option<Duration>,
    },
    /// The request never got an answer (connect, TLS, timeout, reset).
    #[error("{method} {path} failed: {source}")]
    Transport {
        method: String,
        path: String,
        #[source]
        source: reqwest::Error,
    },
    /// The answer was not the JSON we expected.
    #[error("{method} {path}: unexpected response: {message}")]
    Decode {
        method: String,
        path: String,
        message: String,
    },
    /// Credentials or token rejected, also after one re-authentication.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// The client was misconfigured or misused (bad URL, undocumented filter).
    #[error("{0}")]
    Config(String),
}

impl ApiError {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// HTTP 404.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// HTTP 409 (a stale `version` on PUT).
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }

    /// HTTP 429.
    pub fn is_rate_limited(&self) -> bool {
        self.status() == Some(429)
    }

    /// Worth another attempt: 429, any 5xx, or no answer at all.
    pub fn is_retryable(&self) -> bool {
        match self {
            ApiError::Status { status, .. } => *status == 429 || *status >= 500,
            ApiError::Transport { .. } => true,
            _ => false,
        }
    }

    /// Authentication failed for good.
    pub fn is_auth(&self) -> bool {
        matches!(self, ApiError::Auth(_))
    }

    /// How long the server asked us to wait before retrying.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
