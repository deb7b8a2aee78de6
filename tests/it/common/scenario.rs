//! A scripted HTTP server on 127.0.0.1:0 that misbehaves on purpose.
//!
//! Tests queue canned responses per `METHOD /path`; every request is
//! recorded (method, path, query, headers, body) so a test asserts exactly
//! which calls the client made. A request with nothing queued gets a 599
//! naming it, so an unexpected call fails the test loudly. `/oauth/token`
//! can instead hand out numbered tokens (`tok-1`, `tok-2`, …) by itself.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Value, json};

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HashMap<String, String>,
    pub body: Option<Value>,
}

impl Recorded {
    /// A query parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `Authorization` header.
    pub fn auth(&self) -> Option<&str> {
        self.headers.get("authorization").map(String::as_str)
    }
}

/// A canned response.
#[derive(Debug, Clone)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
    pub delay: Duration,
}

impl Canned {
    pub fn json(status: u16, body: Value) -> Self {
        Canned {
            status,
            headers: vec![],
            body,
            delay: Duration::ZERO,
        }
    }
    pub fn ok(body: Value) -> Self {
        Self::json(200, body)
    }
    pub fn error(status: u16, message: &str) -> Self {
        Self::json(status, json!({ "message": message }))
    }
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
    pub fn delayed(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }
}

#[derive(Default)]
struct Inner {
    requests: Vec<Recorded>,
    queues: HashMap<String, VecDeque<Canned>>,
    /// When set, `/oauth/token` with nothing queued issues `tok-N` with
    /// this TTL (seconds) after this delay.
    auto_token: Option<(i64, Duration)>,
    tokens_issued: u32,
}

/// A running scenario server.
#[derive(Clone)]
pub struct Scenario {
    inner: Arc<Mutex<Inner>>,
    pub url: String,
}

impl Scenario {
    /// Starts a server on an ephemeral loopback port.
    pub async fn start() -> Scenario {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Scenario {
            inner,
            url: format!("http://{addr}"),
        }
    }

    /// Issue tokens automatically with this TTL.
    pub fn auto_token(&self, ttl_secs: i64) -> &Self {
        self.auto_token_delayed(ttl_secs, Duration::ZERO)
    }

    /// Issue tokens automatically, each answer after `delay`.
    pub fn auto_token_delayed(&self, ttl_secs: i64, delay: Duration) -> &Self {
        self.lock().auto_token = Some((ttl_secs, delay));
        self
    }

    /// Queues responses for `METHOD /path` (path without query), in order.
    pub fn on(
        &self,
        method: &str,
        path: &str,
        responses: impl IntoIterator<Item = Canned>,
    ) -> &Self {
        self.lock()
            .queues
            .entry(format!("{method} {path}"))
            .or_default()
            .extend(responses);
        self
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// Requests to one path (any method).
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let recorded = Recorded {
        method: method.to_string(),
        path: path.clone(),
        query,
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: serde_json::from_slice(&body).ok(),
    };
    let canned = {
        let mut g = inner.lock().unwrap_or_else(|e| e.into_inner());
        g.requests.push(recorded);
        let key = format!("{method} {path}");
        match g.queues.get_mut(&key).and_then(VecDeque::pop_front) {
            Some(c) => c,
            None => match g.auto_token {
                Some((ttl, delay)) if path == "/oauth/token" => {
                    g.tokens_issued += 1;
                    let n = g.tokens_issued;
                    Canned::ok(json!({"access_token": format!("tok-{n}"), "expires_in": ttl, "token_type": "Bearer"}))
                        .delayed(delay)
                }
                _ => Canned::error(599, &format!("scenario: nothing queued for {key}")),
            },
        }
    };
    if !canned.delay.is_zero() {
        tokio::time::sleep(canned.delay).await;
    }
    let mut resp = Response::builder()
        .status(StatusCode::from_u16(canned.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json");
    for (k, v) in &canned.headers {
        resp = resp.header(k.as_str(), v.as_str());
    }
    resp.body(Body::from(canned.body.to_string()))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}
