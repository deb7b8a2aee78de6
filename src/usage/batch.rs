//! Splitting measurements into ingest requests that the API accepts: at
//! most [`MAX_MEASUREMENTS`] each, and a serialized body strictly under
//! [`MAX_BODY_BYTES`] (m3ter answers 403 at 512,000 bytes and more).

use serde_json::Value;

/// Most measurements in one request (API limit).
pub const MAX_MEASUREMENTS: usize = 1000;
/// A request body must be smaller than this many bytes (API limit).
pub const MAX_BODY_BYTES: usize = 512_000;

/// `{"measurements":[` and `]}` around the comma-joined items.
pub const ENVELOPE_BYTES: usize = r#"{"measurements":[]}"#.len();

/// One request body, ready to send (and to resend unchanged on a retry, so
/// the server sees the same `uid`s).
#[derive(Debug, Clone)]
pub struct Batch {
    /// `{"measurements": [...]}`.
    pub body: Value,
    /// Index of the batch's first measurement in the whole submission.
    pub first: usize,
    pub len: usize,
    /// Size of the serialized body.
    pub bytes: usize,
}

/// A measurement that cannot go out in any batch.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "measurement #{index} alone serializes to {bytes} bytes; an ingest request must stay under {MAX_BODY_BYTES} bytes"
)]
pub struct BatchError {
    /// 1-based position in the submission.
    pub index: usize,
    pub bytes: usize,
}

/// Greedy batching in input order under both limits (`max_len`,
/// `max_bytes` are parameters for tests; callers pass the API limits).
/// Everything is batched up front, so an oversized measurement fails
/// before anything is sent; see [`Batcher`] for lazy batching.
pub fn batches(
    measurements: Vec<Value>,
    max_len: usize,
    max_bytes: usize,
) -> Result<Vec<Batch>, BatchError> {
    Batcher::new(measurements.into_iter(), max_len, max_bytes).collect()
}

/// Lazy batching: pulls measurements from `I` one batch at a time, so a
/// large generated submission is never held in memory as a whole. After
/// an error it yields nothing more.
#[derive(Debug)]
pub struct Batcher<I> {
    source: I,
    max_len: usize,
    max_bytes: usize,
    /// Index the next measurement pulled from `source` gets.
    pulled: usize,
    /// A measurement that did not fit the previous batch: (value, size, index).
    carry: Option<(Value, usize, usize)>,
    failed: bool,
}

impl<I: Iterator<Item = Value>> Batcher<I> {
    /// Batches `source` under `max_len` measurements and `max_bytes`.
    pub fn new(source: I, max_len: usize, max_bytes: usize) -> Self {
        Batcher {
            source,
            max_len: max_len.max(1),
            max_bytes,
            pulled: 0,
            carry: None,
            failed: false,
        }
    }

    fn pull(&mut self) -> Option<(Value, usize, usize)> {
        if let Some(c) = self.carry.take() {
            return Some(c);
        }
        let m = self.source.next()?;
        let index = self.pulled;
        self.pulled += 1;
        // serde_json writes compactly, exactly as the client sends the body.
        let size = serde_json::to_vec(&m)
            .map(|v| v.len())
            .unwrap_or(usize::MAX / 2);
        Some((m, size, index))
    }
}

impl<I: Iterator<Item = Value>> Iterator for Batcher<I> {
    type Item = Result<Batch, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let mut items: Vec<Value> = Vec::new();
        let mut first = 0;
        let mut bytes = ENVELOPE_BYTES;
        while let Some((m, size, index)) = self.pull() {
            if ENVELOPE_BYTES + size >= self.max_bytes {
                if items.is_empty() {
                    self.failed = true;
                    return Some(Err(BatchError {
                        index: index + 1,
                        bytes: ENVELOPE_BYTES + size,
                    }));
                }
                // Send what we have; the error comes with the next call.
                self.carry = Some((m, size, index));
                break;
            }
            let comma = usize::from(!items.is_empty());
            if items.len() == self.max_len || bytes + comma + size >= self.max_bytes {
                self.carry = Some((m, size, index));
                break;
            }
            if items.is_empty() {
                first = index;
            }
            bytes += comma + size;
            items.push(m);
        }
        if items.is_empty() {
            return None;
        }
        let len = items.len();
        Some(Ok(Batch {
            body: serde_json::json!({ "measurements": items }),
            first,
            len,
            bytes,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(i: usize, pad: usize) -> Value {
        json!({"uid": format!("u{i}"), "meter": "m", "account": "a",
               "ts": "2024-12-01T00:00:00Z", "metadata": {"pad": "x".repeat(pad)}})
    }

    #[test]
    fn counts_are_capped_and_order_is_kept() {
        let b = batches((0..2500).map(|i| m(i, 0)).collect(), 1000, MAX_BODY_BYTES).expect("ok");
        let lens: Vec<usize> = b.iter().map(|b| b.len).collect();
        assert_eq!(lens, [1000, 1000, 500]);
        assert_eq!(
            b.iter().map(|b| b.first).collect::<Vec<_>>(),
            [0, 1000, 2000]
        );
        assert_eq!(b[1].body["measurements"][0]["uid"], "u1000");
    }

    #[test]
    fn sizes_are_exact_and_stay_under_the_limit() {
        let all: Vec<Value> = (0..400).map(|i| m(i, 3000)).collect();
        let b = batches(all, 1000, MAX_BODY_BYTES).expect("ok");
        assert!(b.len() >= 3, "{} batches", b.len());
        for batch in &b {
            let real = serde_json::to_vec(&batch.body).expect("json").len();
            assert_eq!(real, batch.bytes);
            assert!(real < MAX_BODY_BYTES);
        }
        assert_eq!(b.iter().map(|b| b.len).sum::<usize>(), 400);
    }

    #[test]
    fn an_oversized_measurement_is_named() {
        let all = vec![m(0, 10), m(1, MAX_BODY_BYTES)];
        let err = batches(all, 1000, MAX_BODY_BYTES).unwrap_err();
        assert_eq!(err.index, 2);
        assert!(err.to_string().contains("measurement #2"), "{err}");
    }

    #[test]
    fn lazy_batches_send_what_fits_before_an_oversized_measurement() {
        let all = vec![m(0, 10), m(1, 10), m(2, MAX_BODY_BYTES), m(3, 10)];
        let mut it = Batcher::new(all.into_iter(), 1000, MAX_BODY_BYTES);
        let first = it.next().expect("a batch").expect("fits");
        assert_eq!((first.first, first.len), (0, 2));
        assert_eq!(it.next().expect("the error").unwrap_err().index, 3);
        assert!(it.next().is_none(), "nothing after an error");
    }
}
