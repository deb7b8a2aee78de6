//! Sending batches to the ingest API, several in flight at once.
//!
//! Each batch is retried by the client's [`RetryPolicy`](crate::client::RetryPolicy)
//! around [`Client::ingest_once`] with the very same body: ingest is
//! idempotent on `uid`, so a retry after a lost reply cannot count a
//! measurement twice. Pacing is the client's, shared by all batches.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::batch::{Batch, BatchError};
use crate::client::{ApiError, Client};

/// Batches in flight at once by default.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// What was accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestSummary {
    pub measurements: usize,
    pub batches: usize,
    pub elapsed: Duration,
}

impl IngestSummary {
    /// Measurements per second (over the whole run).
    pub fn per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.measurements as f64 / secs
        } else {
            self.measurements as f64
        }
    }

    /// `Ingested 1200 measurements in 2 batches (0.41 s, 2927/s).`
    pub fn line(&self) -> String {
        format!(
            "Ingested {} measurement{} in {} batch{} ({:.2} s, {:.0}/s).",
            self.measurements,
            if self.measurements == 1 { "" } else { "s" },
            self.batches,
            if self.batches == 1 { "" } else { "es" },
            self.elapsed.as_secs_f64(),
            self.per_second()
        )
    }
}

/// Why a batch did not get in.
#[derive(Debug, thiserror::Error)]
pub enum BatchFailure {
    /// The API refused it, or never answered, after the retries.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// A measurement too large for any request.
    #[error(transparent)]
    TooLarge(#[from] BatchError),
}

/// A batch failed for good. Batches already accepted stay accepted.
#[derive(Debug, thiserror::Error)]
#[error(
    "batch of measurements {from}..={to} failed: {source}; {accepted_measurements} measurement(s) in {accepted_batches} other batch(es) were accepted{skipped}. Ingest is idempotent on uid: sending the same measurements again is safe"
)]
pub struct IngestFailure {
    /// 1-based positions of the failed batch's first and last measurement.
    pub from: usize,
    pub to: usize,
    #[source]
    pub source: BatchFailure,
    pub accepted_measurements: usize,
    pub accepted_batches: usize,
    /// `"; the remaining batches were not sent"` or empty.
    skipped: String,
}

/// What became of one batch.
enum Outcome {
    /// Skipped: an earlier batch had failed.
    NotSent,
    /// Accepted, with this many measurements.
    Accepted(usize),
    /// Failed for good: 1-based first and last measurement, and why.
    Failed(usize, usize, BatchFailure),
}

/// Sends every batch, `concurrency` at a time, pulling them from `batches`
/// as slots free up; `progress` is called with the size of each accepted
/// batch. After the first failure no new batch is started (those in flight
/// finish) and no more are pulled; the first failure is returned.
pub async fn submit(
    client: &Client,
    batches: impl Iterator<Item = Result<Batch, BatchError>>,
    concurrency: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<IngestSummary, IngestFailure> {
    let started = Instant::now();
    let failed = AtomicBool::new(false);
    // Set when batches were left unpulled because of a failure.
    let cut = AtomicBool::new(false);
    let source = batches.take_while(|_| {
        let go_on = !failed.load(Ordering::SeqCst);
        if !go_on {
            cut.store(true, Ordering::SeqCst);
        }
        go_on
    });
    let results: Vec<Outcome> = futures_util::stream::iter(source)
        .map(|batch| {
            let failed = &failed;
            async move {
                let batch = match batch {
                    Ok(b) => b,
                    Err(e) => {
                        failed.store(true, Ordering::SeqCst);
                        return Outcome::Failed(e.index, e.index, e.into());
                    }
                };
                if failed.load(Ordering::SeqCst) {
                    return Outcome::NotSent;
                }
                let r = client
                    .retry_policy()
                    .run(|| client.ingest_once(&batch.body))
                    .await;
                match r {
                    Ok(_) => {
                        progress(batch.len);
                        Outcome::Accepted(batch.len)
                    }
                    Err(e) => {
                        failed.store(true, Ordering::SeqCst);
                        Outcome::Failed(batch.first + 1, batch.first + batch.len, e.into())
                    }
                }
            }
        })
        .buffered(concurrency.max(1))
        .collect()
        .await;
    let elapsed = started.elapsed();
    let (mut accepted, mut not_sent, mut first_error) = ((0, 0), false, None);
    for r in results {
        match r {
            Outcome::NotSent => not_sent = true,
            Outcome::Accepted(n) => accepted = (accepted.0 + n, accepted.1 + 1),
            Outcome::Failed(from, to, e) => {
                first_error.get_or_insert((from, to, e));
            }
        }
    }
    match first_error {
        None => Ok(IngestSummary {
            measurements: accepted.0,
            batches: accepted.1,
            elapsed,
        }),
        Some((from, to, source)) => Err(IngestFailure {
            from,
            to,
            source,
            accepted_measurements: accepted.0,
            accepted_batches: accepted.1,
            skipped: if not_sent || cut.load(Ordering::SeqCst) {
                "; the remaining batches were not sent".into()
            } else {
                String::new()
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_has_counts_and_throughput() {
        let s = IngestSummary {
            measurements: 1200,
            batches: 2,
            elapsed: Duration::from_millis(400),
        };
        assert_eq!(
            s.line(),
            "Ingested 1200 measurements in 2 batches (0.40 s, 3000/s)."
        );
        let one = IngestSummary {
            measurements: 1,
            batches: 1,
            elapsed: Duration::from_millis(500),
        };
        assert_eq!(
            one.line(),
            "Ingested 1 measurement in 1 batch (0.50 s, 2/s)."
        );
    }
}
