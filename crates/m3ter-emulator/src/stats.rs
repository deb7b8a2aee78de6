//! Request counters for `GET /_emulator/stats`, keyed by method and route
//! template (`GET /organizations/{orgId}/meters`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts of requests since start or the last reset.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    inner: Mutex<Counts>,
    /// Requests whose response is ready (`/_emulator/stats` not counted):
    /// with `--latency-ms`, `total - answered` are still being delayed, so a
    /// test can tell that a client gave up before any answer came.
    answered: AtomicU64,
}

#[derive(Debug, Default)]
struct Counts {
    total: u64,
    by_route: HashMap<String, u64>,
}

impl Stats {
    /// Counts one request; `template` is None when no route matched.
    pub(crate) fn count(&self, method: &str, template: Option<&str>) {
        // The key is built in a per-thread buffer so the hot path allocates
        // only the first time a route is seen.
        thread_local! {
            static KEY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        KEY.with_borrow_mut(|key| {
            key.clear();
            key.push_str(method);
            key.push(' ');
            key.push_str(template.unwrap_or("(unmatched)"));
            let mut c = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            c.total += 1;
            match c.by_route.get_mut(key.as_str()) {
                Some(n) => *n += 1,
                None => {
                    c.by_route.insert(key.clone(), 1);
                }
            }
        });
    }

    /// Counts one response (of a request other than `/_emulator/stats`).
    pub(crate) fn answered(&self) {
        self.answered.fetch_add(1, Ordering::Relaxed);
    }

    /// The JSON body of `GET /_emulator/stats`.
    pub(crate) fn snapshot(&self) -> serde_json::Value {
        let c = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut routes: Vec<_> = c.by_route.iter().collect();
        routes.sort();
        let requests: serde_json::Map<_, _> = routes
            .into_iter()
            .map(|(k, v)| (k.clone(), serde_json::json!(v)))
            .collect();
        let answered = self.answered.load(Ordering::Relaxed);
        serde_json::json!({ "total": c.total, "answered": answered, "requests": requests })
    }

    /// Sets every counter back to zero.
    pub(crate) fn reset(&self) {
        let mut c = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *c = Counts::default();
        self.answered.store(0, Ordering::Relaxed);
    }
}
