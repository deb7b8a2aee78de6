//! The one retry policy of the tool: which failures are retried (see
//! [`ApiError::is_retryable`]) and how long to wait between attempts.
//!
//! Reads retry inside the client. Writes are retried by apply on the same
//! policy, because a retried create must first look the entity up (its
//! reply may have been lost after the server stored it).

use std::future::Future;
use std::time::Duration;

use rand::Rng;

use super::ApiError;

/// Longest wait we accept from a `Retry-After` header, so a misbehaving
/// server cannot park a run for hours.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// Jittered exponential back-off honouring `Retry-After`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in total, the first one included.
    pub max_attempts: u32,
    /// Back-off before the second attempt; doubles for each further one.
    pub base: Duration,
    /// Upper bound of the back-off (not of `Retry-After`).
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// How long to wait after failed attempt number `attempt` (1-based).
    ///
    /// The exponential step is `base · 2^(attempt-1)` capped at `cap`, and
    /// the wait is drawn uniformly from its upper half ("equal jitter"), so
    /// concurrent clients spread out yet never retry at once. A server's
    /// `Retry-After` is a floor: we never come back earlier than asked.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let step = self
            .base
            .checked_mul(1u32 << exp)
            .unwrap_or(self.cap)
            .min(self.cap);
        let half = step / 2;
        let jitter = if half.is_zero() {
            Duration::ZERO
        } else {
            rand::rng().random_range(Duration::ZERO..=half)
        };
        let backoff = half + jitter;
        match retry_after {
            Some(ra) => ra.min(MAX_RETRY_AFTER).max(backoff),
            None => backoff,
        }
    }

    /// Runs `op` until it succeeds, fails with a non-retryable error, or the
    /// attempts are used up (the last error is returned).
    pub async fn run<T, F, Fut>(&self, mut op: F) -> Result<T, ApiError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let mut attempt = 1;
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) if e.is_retryable() && attempt < self.max_attempts.max(1) => {
                    let wait = self.delay(attempt, e.retry_after());
                    tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, error = %e, "retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_under_the_cap() {
        let p = RetryPolicy::default();
        for attempt in 1..=12 {
            let step = (p.base * (1 << (attempt - 1).min(20))).min(p.cap);
            for _ in 0..50 {
                let d = p.delay(attempt, None);
                assert!(
                    d >= step / 2 && d <= step,
                    "attempt {attempt}: {d:?} vs {step:?}"
                );
            }
        }
        assert!(p.delay(40, None) <= p.cap);
    }

    #[test]
    fn retry_after_is_a_floor() {
        let p = RetryPolicy::default();
        assert!(p.delay(1, Some(Duration::from_secs(3))) >= Duration::from_secs(3));
        // A silly header is bounded.
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(86_400))),
            MAX_RETRY_AFTER
        );
    }
}
