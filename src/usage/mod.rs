//! Usage and billing (design §5): measurements to ingest (generated or read
//! from a file), their batching and concurrent submission, and reading and
//! rendering bills.
//!
//! The CLI commands `ingest` and `bill` are thin glue over this module; the
//! pieces here are plain values and functions so they can be tested without
//! a server.

pub mod batch;
pub mod bills;
pub mod file;
pub mod generate;
pub mod submit;
pub mod uids;

pub use batch::{Batch, BatchError, Batcher, batches};
pub use bills::{BillError, JobRequest, Polling};
pub use file::{FileError, Measurements, open_measurements, read_measurements};
pub use generate::{GenerateSpec, MeasureRange, Window, generate};
pub use submit::{IngestFailure, IngestSummary, submit};
