//! Client-side pacing: at most `rate` requests per second across every task
//! that shares the client, so a concurrent apply stays under m3ter's
//! 50 req/s per-org limit instead of bouncing off 429s.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// Hands out send slots `1/rate` apart. The lock is held only to book a
/// slot, never while waiting for it.
#[derive(Debug)]
pub(crate) struct Pacer {
    interval: Option<Duration>,
    next_slot: Mutex<Option<Instant>>,
}

impl Pacer {
    /// `None`, zero or a non-finite rate means unlimited.
    pub(crate) fn new(rate: Option<f64>) -> Self {
        let interval = rate
            .filter(|r| r.is_finite() && *r > 0.0)
            .map(|r| Duration::from_secs_f64(1.0 / r));
        Pacer {
            interval,
            next_slot: Mutex::new(None),
        }
    }

    /// Waits for the next free slot.
    pub(crate) async fn wait(&self) {
        let Some(interval) = self.interval else {
            return;
        };
        let slot = {
            let mut next = self.next_slot.lock().await;
            let now = Instant::now();
            // A slot in the past is not banked: idle time does not buy a burst.
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}
