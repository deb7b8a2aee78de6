//! Request counters for `GET /_emulator/stats`, keyed by method and route
//! template (`GET /organizations/{orgId}/meters`).

use std::collections::HashMap;
use std::sync::Mutex;

/// Counts of requests since start or the last reset.
#[derive(Debug, Default)]
pub struct Stats {
    inner: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: u64,
    by_route: HashMap<String, u64>,
}

impl Stats {
    /// Counts one request; `template` is None when no route matched.
    pub fn count(&self, method: &str, template: Option<&str>) {
        let mut c = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        c.total += 1;
        let key = match template {
            Some(t) => format!("{method} {t}"),
            None => format!("{method} (unmatched)"),
        };
        *c.by_route.entry(key).or_default() += 1;
    }

    /// The JSON body of `GET /_emulator/stats`.
    pub fn snapshot(&self) -> serde_json::Value {
        let c = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut routes: Vec<_> = c.by_route.iter().collect();
        routes.sort();
        let requests: serde_json::Map<_, _> = routes
            .into_iter()
            .map(|(k, v)| (k.clone(), serde_json::json!(v)))
            .collect();
        serde_json::json!({ "total": c.total, "requests": requests })
    }

    /// Sets every counter back to zero.
    pub fn reset(&self) {
        let mut c = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *c = Counts::default();
    }
}
