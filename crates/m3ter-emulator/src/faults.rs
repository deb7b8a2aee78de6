//! Fault injection (`--fault-rate`, `--fault-seed`) and the per-org request
//! rate limit (`--max-rps`).

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::response::Response;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One injected failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Answer 500 without running the request.
    Internal,
    /// Answer 503 without running the request.
    Unavailable,
    /// Answer 429 with `Retry-After` (`--retry-after`, default 1 s) without
    /// running the request.
    RateLimited,
    /// Close the connection without a response, before the change.
    DropBefore,
    /// Run the request (the change is stored), then answer 500.
    CommitThen500,
    /// Run the request (the change is stored), then close the connection.
    CommitThenDrop,
}

/// The seeded decision sequence: one RNG behind a mutex, so the same
/// arrival order gives the same faults.
#[derive(Debug)]
pub(crate) struct Faults {
    rate: f64,
    rng: Mutex<StdRng>,
}

impl Faults {
    /// Faults with probability `rate` per request, from `seed`.
    pub(crate) fn new(rate: f64, seed: u64) -> Self {
        Faults {
            rate: rate.clamp(0.0, 1.0),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        }
    }

    /// Decides the fate of one `/organizations/...` request.
    pub(crate) fn decide(&self) -> Option<Fault> {
        if self.rate <= 0.0 {
            return None;
        }
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        if rng.random::<f64>() >= self.rate {
            return None;
        }
        // Five kinds evenly; "commit then fail" picks its failure mode too.
        Some(match rng.random_range(0..5u8) {
            0 => Fault::Internal,
            1 => Fault::Unavailable,
            2 => Fault::RateLimited,
            3 => Fault::DropBefore,
            _ if rng.random::<bool>() => Fault::CommitThen500,
            _ => Fault::CommitThenDrop,
        })
    }
}

/// A response whose body fails on the first read, so hyper aborts the
/// connection before anything is written: the client sees a dropped
/// connection and no status line.
pub(crate) fn dropped_connection() -> Response {
    let failing = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("fault injection: connection dropped"))
    });
    Response::new(Body::from_stream(failing))
}

/// Fixed one-second windows of at most `max` requests.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    max: Option<u32>,
    window: Mutex<(u64, u32)>,
}

impl RateLimiter {
    /// A limiter of `max` requests per second (None = unlimited).
    pub(crate) fn new(max: Option<u32>) -> Self {
        RateLimiter {
            max,
            window: Mutex::new((0, 0)),
        }
    }

    /// Admits a request, or returns the seconds until the window ends.
    pub(crate) fn admit(&self) -> Result<(), u64> {
        let Some(max) = self.max else { return Ok(()) };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let sec = now.as_secs();
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        if w.0 != sec {
            *w = (sec, 0);
        }
        if w.1 >= max {
            // Ceiling of the time left in this window: at least one second.
            let left_ms = 1000 - u64::from(now.subsec_millis());
            return Err(left_ms.div_ceil(1000).max(1));
        }
        w.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let a = Faults::new(0.5, 7);
        let b = Faults::new(0.5, 7);
        let sa: Vec<_> = (0..200).map(|_| a.decide()).collect();
        let sb: Vec<_> = (0..200).map(|_| b.decide()).collect();
        assert_eq!(sa, sb);
        assert!(sa.iter().any(Option::is_some) && sa.iter().any(Option::is_none));
    }

    #[test]
    fn zero_rate_never_faults() {
        let f = Faults::new(0.0, 1);
        assert!((0..100).all(|_| f.decide().is_none()));
    }
}
