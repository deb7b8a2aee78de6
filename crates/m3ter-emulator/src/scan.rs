//! One scan of a meter's measurements, decoded and aggregated on every
//! core while it reads: the scan (one thread, under the database's lock)
//! hands the bodies in chunks to workers. Reading a million rows takes
//! SQLite about as long as decoding them does, so the two overlap.

use crate::db::{Db, StoreError};
use crate::rated::Bodies;

/// Which worker a body goes to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// Each account's bodies to one worker, in arrival order: a worker's
    /// state for an account never needs merging.
    ByAccount,
    /// Each chunk to whichever worker's turn it is: the load stays even
    /// with few accounts, and the caller merges the workers' states (the
    /// arrival numbers keep ties in arrival order).
    AnyWorker,
}

/// Bodies handed from the scan to a worker at a time.
const CHUNK: usize = 2048;
/// Chunks in flight per worker: they bound the memory of a scan.
const IN_FLIGHT: usize = 4;

/// Scans `meter_id`'s measurements with `ts` in `[from_ms, to_ms]` in
/// arrival order. `account(id)` names a body's account by index (None
/// skips it); each worker folds its bodies into its own state, made by
/// `init`, with `work(state, account, arrival, body)`, where `arrival`
/// counts the bodies the scan kept. Answers the workers' states.
pub(crate) fn scan<S: Send>(
    db: &Db,
    (meter_id, from_ms, to_ms): (&str, i64, i64),
    route: Route,
    mut account: impl FnMut(&str) -> Option<usize>,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, usize, u64, &str) + Sync,
) -> Result<Vec<S>, StoreError> {
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    std::thread::scope(|scope| {
        let (init, work) = (&init, &work);
        let mut senders = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        // Chunks done with come back to be filled again: the scan then
        // allocates a few buffers, not one per chunk.
        let (done_tx, done_rx) = std::sync::mpsc::channel::<Chunk>();
        for _ in 0..workers {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(IN_FLIGHT);
            senders.push(tx);
            let done = done_tx.clone();
            handles.push(scope.spawn(move || {
                let mut state = init();
                for mut chunk in rx {
                    for ((account, arrival), body) in chunk.iter() {
                        work(&mut state, account, arrival, body);
                    }
                    chunk.clear();
                    let _ = done.send(chunk);
                }
                state
            }));
        }
        drop(done_tx);
        let mut pending: Vec<Chunk> = (0..workers).map(|_| Chunk::default()).collect();
        let mut kept: u64 = 0;
        let mut turn = 0;
        let scanned = db.scan_measurements(meter_id, from_ms, to_ms, |id, body| {
            let Some(i) = account(id) else { return };
            let w = match route {
                Route::ByAccount => i % workers,
                Route::AnyWorker => turn,
            };
            pending[w].push((i, kept), body);
            kept += 1;
            if pending[w].accounts.len() >= CHUNK {
                // A worker stops only by a panic, which its join re-raises.
                let fresh = done_rx.try_recv().unwrap_or_default();
                let _ = senders[w].send(std::mem::replace(&mut pending[w], fresh));
                turn = (turn + 1) % workers;
            }
        });
        for (tx, chunk) in senders.iter().zip(pending) {
            let _ = tx.send(chunk);
        }
        drop(senders);
        let states: Vec<S> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect();
        scanned.map(|()| states)
    })
}

/// Stored bodies, each with its account's index and its arrival.
#[derive(Default)]
struct Chunk {
    bodies: Bodies,
    accounts: Vec<(usize, u64)>,
}

impl Chunk {
    fn push(&mut self, account: (usize, u64), body: &str) {
        self.bodies.push(body);
        self.accounts.push(account);
    }
    fn clear(&mut self) {
        self.bodies.clear();
        self.accounts.clear();
    }
    fn iter(&self) -> impl Iterator<Item = ((usize, u64), &str)> {
        self.accounts.iter().copied().zip(self.bodies.iter())
    }
}
