//! The m3ter API client: auth, pacing, retries, pagination, typed errors.
//!
//! One [`Client`] is shared (cheaply cloned) by every task of a command.
//! Every HTTP attempt goes through one private function, `send`, which
//! paces, authenticates (re-authenticating once on 401/403), logs and turns
//! the answer into `Value` or [`ApiError`]. Reads wrap it in the one
//! [`RetryPolicy`]; writes are exposed as single attempts (`*_once`)
//! because only apply knows how to retry a write safely.

mod auth;
mod error;
mod pace;
mod retry;
mod secret;

pub use auth::Auth;
pub use error::ApiError;
pub use retry::RetryPolicy;
pub use secret::Secret;

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Method, Url};
use serde_json::{Map, Value};

use auth::{TokenCache, TokenReply};
use m3ter_api::Kind;
use pace::Pacer;

/// Default Config API host.
pub const DEFAULT_BASE_URL: &str = "https://api.m3ter.com";

/// Everything needed to reach one org.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    /// Config API base, e.g. `https://api.m3ter.com` (also serves `/oauth/token`).
    pub base_url: String,
    /// Ingest API base (only `POST .../measurements` goes there).
    pub ingest_url: String,
    pub org_id: String,
    pub auth: Auth,
    /// Requests per second across all tasks; `None` or 0 = unlimited.
    pub rate_limit: Option<f64>,
    pub retry: RetryPolicy,
    pub user_agent: String,
}

impl ClientConfig {
    /// A configuration with the defaults: ingest URL derived from the base
    /// URL, no pacing, the default retry policy.
    pub fn new(base_url: &str, org_id: &str, auth: Auth) -> Self {
        ClientConfig {
            base_url: base_url.to_string(),
            ingest_url: default_ingest_url(base_url),
            org_id: org_id.to_string(),
            auth,
            rate_limit: None,
            retry: RetryPolicy::default(),
            user_agent: concat!("m3ter-reconcile/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

/// The base URL with a leading `api.` of the host replaced by `ingest.`;
/// any other base URL (an emulator on `127.0.0.1`) is used as it is, since
/// the emulator serves ingest on the same port.
pub fn default_ingest_url(base_url: &str) -> String {
    let Ok(mut url) = Url::parse(base_url) else {
        return base_url.to_string();
    };
    let Some(rest) = url.host_str().and_then(|h| h.strip_prefix("api.")) else {
        return base_url.to_string();
    };
    let host = format!("ingest.{rest}");
    if url.set_host(Some(&host)).is_err() {
        return base_url.to_string();
    }
    let s = url.to_string();
    // Keep the caller's spelling: no trailing slash added by `Url`.
    if !base_url.ends_with('/') {
        s.trim_end_matches('/').to_string()
    } else {
        s
    }
}

/// An m3ter API client for one org. Clones share the connection pool, the
/// token cache and the pacer.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    base: Url,
    ingest: Url,
    org_id: String,
    tokens: TokenCache,
    pacer: Pacer,
    retry: RetryPolicy,
}

/// One request to send (rebuilt for each attempt).
struct Req<'a> {
    method: Method,
    url: Url,
    query: &'a [(&'a str, String)],
    body: Option<&'a Value>,
}

fn parse_base(what: &str, s: &str) -> Result<Url, ApiError> {
    let url =
        Url::parse(s).map_err(|e| ApiError::Config(format!("{what} `{s}` is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(ApiError::Config(format!(
            "{what} `{s}` must be an http:// or https:// URL"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // Credentials in a URL end up in logs and errors; refuse them.
        return Err(ApiError::Config(format!(
            "{what} must not contain credentials; use --api-key/--api-secret or --token"
        )));
    }
    Ok(url)
}

impl Client {
    /// Builds a client. Fails on a malformed URL or org id, before any request.
    pub fn new(cfg: ClientConfig) -> Result<Client, ApiError> {
        let base = parse_base("base URL", &cfg.base_url)?;
        let ingest = parse_base("ingest URL", &cfg.ingest_url)?;
        if cfg.org_id.is_empty() || cfg.org_id.contains(['/', '?', '#']) {
            return Err(ApiError::Config(format!(
                "org id `{}` is not an organization id (expected a UUID)",
                cfg.org_id
            )));
        }
        let http = reqwest::Client::builder()
            .user_agent(cfg.user_agent.clone())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| ApiError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                ingest,
                org_id: cfg.org_id,
                tokens: TokenCache::new(cfg.auth),
                pacer: Pacer::new(cfg.rate_limit),
                retry: cfg.retry,
            }),
        })
    }

    /// The org this client talks to.
    pub fn org_id(&self) -> &str {
        &self.inner.org_id
    }

    /// The policy reads use; apply builds its write retries on it.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    /// Every entity of a kind: follows `nextToken` at the kind's largest
    /// page size; each page is retried on its own. `filters` must be list
    /// filters the API documents for the kind (several values comma-joined).
    pub async fn list_all(
        &self,
        kind: Kind,
        filters: &[(&str, String)],
    ) -> Result<Vec<Value>, ApiError> {
        self.list_all_with(kind, filters, |v| v).await
    }

    /// [`Client::list_all`] with each entity passed through `keep` as its
    /// page is read (after its secrets are hidden), so what a caller does
    /// not keep is freed page by page.
    pub async fn list_all_with(
        &self,
        kind: Kind,
        filters: &[(&str, String)],
        keep: impl Fn(Value) -> Value,
    ) -> Result<Vec<Value>, ApiError> {
        if let Some((p, _)) = filters.iter().find(|(p, _)| {
            !kind.filters().iter().any(|f| f.param == *p)
                && kind.typed().is_none_or(|t| t.field != *p)
        }) {
            // The real API ignores unknown parameters, so using one would
            // silently return the whole collection.
            return Err(ApiError::Config(format!(
                "`{p}` is not a documented list filter of {kind}"
            )));
        }
        let Some(typed) = kind.typed() else {
            return self
                .list_url(kind, self.kind_url(kind, None, None), filters, &keep)
                .await;
        };
        // A typed collection is one list per type (or the one its field's
        // "filter" names), each entity marked with its type.
        let (wanted, filters): (Vec<_>, Vec<_>) = filters
            .iter()
            .cloned()
            .partition(|(p, _)| *p == typed.field);
        let mut all = Vec::new();
        for name in typed.names() {
            if !wanted.is_empty() && !wanted.iter().any(|(_, v)| v == name) {
                continue;
            }
            let url = self.kind_url(kind, Some(name), None);
            let listed = self.list_url(kind, url, &filters, &keep).await?;
            all.extend(listed.into_iter().map(|e| typed_entity(kind, e, name)));
        }
        Ok(all)
    }

    /// Every entity of one collection URL of `kind`, page after page.
    async fn list_url(
        &self,
        kind: Kind,
        url: Url,
        filters: &[(&str, String)],
        keep: &impl Fn(Value) -> Value,
    ) -> Result<Vec<Value>, ApiError> {
        let mut query: Vec<(&str, String)> = filters.to_vec();
        query.push(("pageSize", kind.max_page_size().to_string()));
        self.pages(Method::GET, url, query, "a list page", &|e| {
            keep(hidden(kind, e))
        })
        .await
    }

    /// Every page of `method url?query`, following `nextToken`, each page
    /// retried on its own and each entity passed through `keep` as it is
    /// read. `what` names the page in a decode error.
    async fn pages(
        &self,
        method: Method,
        url: Url,
        mut query: Vec<(&str, String)>,
        what: &str,
        keep: &impl Fn(Value) -> Value,
    ) -> Result<Vec<Value>, ApiError> {
        let mut all = Vec::new();
        loop {
            let page = self
                .retrying(method.clone(), url.clone(), &query, None)
                .await?;
            let (data, next) = split_page(page).ok_or_else(|| ApiError::Decode {
                method: method.to_string(),
                path: url.path().to_string(),
                message: format!("{what} must be an object with a `data` array"),
            })?;
            let empty = data.is_empty();
            all.extend(data.into_iter().map(keep));
            // A missing or empty token ends the listing, and so does an empty
            // page (as the official SDKs do), so a server that keeps handing
            // out tokens cannot loop us forever.
            match next {
                Some(token) if !token.is_empty() && !empty => {
                    query.retain(|(p, _)| *p != "nextToken");
                    query.push(("nextToken", token));
                }
                _ => return Ok(all),
            }
        }
    }

    /// The one entity of a singleton kind (`GET /<collection>`, retried),
    /// or `None` when the org has never written it: the API answers 404,
    /// or an answer without an `id`.
    pub async fn get_singleton(&self, kind: Kind) -> Result<Option<Value>, ApiError> {
        let url = self.org_url(&self.inner.base, &[kind.collection()]);
        match self.retrying(Method::GET, url, &[], None).await {
            Ok(v) if v.get("id").and_then(Value::as_str).is_some() => Ok(Some(v)),
            Ok(_) => Ok(None),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `PUT` the one entity of a singleton kind (on the collection path;
    /// the body carries the live `version` unless it was never written):
    /// ONE attempt.
    pub async fn put_singleton_once(
        &self,
        kind: Kind,
        body: &Map<String, Value>,
    ) -> Result<Value, ApiError> {
        let url = self.org_url(&self.inner.base, &[kind.collection()]);
        let body = Value::Object(body.clone());
        self.send(Req {
            method: Method::PUT,
            url,
            query: &[],
            body: Some(&body),
        })
        .await
    }

    /// One entity by id (retried).
    pub async fn get(&self, kind: Kind, id: &str) -> Result<Value, ApiError> {
        self.get_in(kind, None, id).await
    }

    /// One entity by id, in the `segment` collection of a typed kind
    /// ([`m3ter_api::kinds::Typed`]; `None` for other kinds).
    pub async fn get_in(
        &self,
        kind: Kind,
        segment: Option<&str>,
        id: &str,
    ) -> Result<Value, ApiError> {
        let segment = typed_segment(kind, segment)?;
        let url = self.kind_url(kind, segment, Some(id));
        let v = self.retrying(Method::GET, url, &[], None).await?;
        Ok(typed_entity(
            kind,
            hidden(kind, v),
            segment.unwrap_or_default(),
        ))
    }

    /// `POST` a new entity: ONE attempt (plus one re-authentication).
    pub async fn create_once(
        &self,
        kind: Kind,
        body: &Map<String, Value>,
    ) -> Result<Value, ApiError> {
        let (segment, body) = typed_body(kind, body)?;
        let url = self.kind_url(kind, segment.as_deref(), None);
        let body = Value::Object(unsealed(kind, &body)?);
        let v = self
            .send(Req {
                method: Method::POST,
                url,
                query: &[],
                body: Some(&body),
            })
            .await?;
        Ok(typed_entity(
            kind,
            hidden(kind, v),
            segment.as_deref().unwrap_or_default(),
        ))
    }

    /// `PUT` a full entity (the body carries `version`): ONE attempt.
    pub async fn update_once(
        &self,
        kind: Kind,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<Value, ApiError> {
        let (segment, body) = typed_body(kind, body)?;
        let url = self.kind_url(kind, segment.as_deref(), Some(id));
        let body = Value::Object(unsealed(kind, &body)?);
        let v = self
            .send(Req {
                method: Method::PUT,
                url,
                query: &[],
                body: Some(&body),
            })
            .await?;
        Ok(typed_entity(
            kind,
            hidden(kind, v),
            segment.as_deref().unwrap_or_default(),
        ))
    }

    /// `DELETE` an entity (in the `segment` collection of a typed kind):
    /// ONE attempt. Answers the deleted entity.
    pub async fn delete_once(
        &self,
        kind: Kind,
        segment: Option<&str>,
        id: &str,
    ) -> Result<Value, ApiError> {
        let url = self.kind_url(kind, typed_segment(kind, segment)?, Some(id));
        let v = self
            .send(Req {
                method: Method::DELETE,
                url,
                query: &[],
                body: None,
            })
            .await?;
        Ok(hidden(kind, v))
    }

    /// The members of one entity of a kind with a member set
    /// ([`m3ter_api::kinds::Members`]): every `{targetType, targetId}` of
    /// its paginated contents list (`POST`, retried: it only reads).
    pub async fn members(
        &self,
        kind: Kind,
        segment: Option<&str>,
        id: &str,
    ) -> Result<Vec<Value>, ApiError> {
        let Some(m) = kind.members() else {
            return Ok(Vec::new());
        };
        let segment = typed_segment(kind, segment)?;
        let mut url = self.kind_url(kind, segment, Some(id));
        if let Ok(mut path) = url.path_segments_mut() {
            path.push(m.contents);
        }
        let query = vec![("pageSize", m.max_page_size.to_string())];
        self.pages(Method::POST, url, query, "a contents page", &|v| v)
            .await
    }

    /// Adds (`add`) or removes one member of an entity: ONE attempt.
    pub async fn member_once(
        &self,
        kind: Kind,
        segment: Option<&str>,
        id: &str,
        add: bool,
        target: &Value,
    ) -> Result<Value, ApiError> {
        let Some(m) = kind.members() else {
            return Err(ApiError::Config(format!("a {kind} has no members")));
        };
        let segment = typed_segment(kind, segment)?;
        let mut url = self.kind_url(kind, segment, Some(id));
        if let Ok(mut path) = url.path_segments_mut() {
            path.push(if add { m.add } else { m.remove });
        }
        self.send(Req {
            method: Method::POST,
            url,
            query: &[],
            body: Some(target),
        })
        .await
    }

    /// Any call under `/organizations/{orgId}/` (bill jobs, bills, line
    /// items), retried by the policy. `path_under_org` is like
    /// `bills/{id}/lineitems`; its segments are percent-encoded. Retries
    /// apply to every method: for a POST that must not run twice (creating
    /// a bill job) use [`Client::request_once`].
    pub async fn request(
        &self,
        method: Method,
        path_under_org: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let url = self.org_path_url(path_under_org);
        self.retrying(method, url, query, body).await
    }

    /// [`Client::request`] with ONE attempt (plus one re-authentication).
    pub async fn request_once(
        &self,
        method: Method,
        path_under_org: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let url = self.org_path_url(path_under_org);
        self.send(Req {
            method,
            url,
            query,
            body,
        })
        .await
    }

    /// The config-host URL of a path under `/organizations/{orgId}/`.
    fn org_path_url(&self, path_under_org: &str) -> reqwest::Url {
        let segments: Vec<&str> = path_under_org
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        self.org_url(&self.inner.base, &segments)
    }

    /// Submits one batch of measurements to the ingest host: ONE attempt.
    /// The caller retries a batch with the same `uid`s (ingest is idempotent
    /// on them).
    pub async fn ingest_once(&self, body: &Value) -> Result<Value, ApiError> {
        let url = self.org_url(&self.inner.ingest, &["measurements"]);
        self.send(Req {
            method: Method::POST,
            url,
            query: &[],
            body: Some(body),
        })
        .await
    }

    /// `{root}/organizations/{orgId}/{segments...}`, segments encoded.
    /// The URL of a kind's collection, or of one entity in it. A collection
    /// may be several segments (`picklists/currency`): each is pushed on its
    /// own, so its `/` stays a separator while an id's is encoded.
    /// A typed kind's collection has its type's segment after it.
    fn kind_url(&self, kind: Kind, segment: Option<&str>, id: Option<&str>) -> Url {
        let segments: Vec<&str> = kind
            .collection()
            .split('/')
            .chain(segment)
            .chain(id)
            .collect();
        self.org_url(&self.inner.base, &segments)
    }

    fn org_url(&self, root: &Url, segments: &[&str]) -> Url {
        let mut url = root.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty()
                .push("organizations")
                .push(&self.inner.org_id)
                .extend(segments);
        }
        url
    }

    async fn retrying(
        &self,
        method: Method,
        url: Url,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        self.inner
            .retry
            .run(|| {
                self.send(Req {
                    method: method.clone(),
                    url: url.clone(),
                    query,
                    body,
                })
            })
            .await
    }

    /// One attempt, re-authenticating once if the token is rejected.
    async fn send(&self, req: Req<'_>) -> Result<Value, ApiError> {
        let token = self.token().await?;
        match self.attempt(&req, &token).await {
            Err(e) if is_auth_status(&e) => {
                if !self.inner.tokens.can_renew() {
                    return Err(auth_failure(
                        &e,
                        "the given token (--token / M3TER_API_TOKEN) was rejected",
                    ));
                }
                tracing::debug!("token rejected; authenticating again");
                self.inner.tokens.invalidate(&token).await;
                let token = self.token().await?;
                match self.attempt(&req, &token).await {
                    Err(e) if is_auth_status(&e) => Err(auth_failure(
                        &e,
                        "rejected again after a fresh token; check the org id and that the service user has permission",
                    )),
                    other => other,
                }
            }
            other => other,
        }
    }

    async fn token(&self) -> Result<Secret, ApiError> {
        self.inner
            .tokens
            .token(|basic| self.fetch_token(basic))
            .await
    }

    /// `POST {base}/oauth/token` with Basic auth (one attempt; it runs inside
    /// the caller's retry loop).
    async fn fetch_token(&self, basic: String) -> Result<TokenReply, ApiError> {
        let mut url = self.inner.base.clone();
        if let Ok(mut p) = url.path_segments_mut() {
            p.pop_if_empty().extend(["oauth", "token"]);
        }
        let path = url.path().to_string();
        self.inner.pacer.wait().await;
        let started = Instant::now();
        let resp = self
            .inner
            .http
            .post(url)
            .header(AUTHORIZATION, basic)
            .json(&serde_json::json!({"grant_type": "client_credentials"}))
            .send()
            .await
            .map_err(|source| ApiError::Transport {
                method: "POST".into(),
                path: path.clone(),
                source: source.without_url(),
            })?;
        let status = resp.status();
        let retry_after = retry_after(resp.headers());
        let bytes = resp.bytes().await.map_err(|source| ApiError::Transport {
            method: "POST".into(),
            path: path.clone(),
            source: source.without_url(),
        })?;
        tracing::debug!(method = "POST", %path, status = status.as_u16(), ms = started.elapsed().as_millis() as u64, "http");
        if status.is_success() {
            return TokenReply::parse(&bytes).map_err(|message| ApiError::Decode {
                method: "POST".into(),
                path,
                message,
            });
        }
        if matches!(status.as_u16(), 400 | 401 | 403) {
            return Err(ApiError::Auth(format!(
                "the token endpoint answered HTTP {} ({}); check the API key and secret (--api-key/--api-secret, M3TER_API_KEY/M3TER_API_SECRET)",
                status.as_u16(),
                error_message(&bytes)
            )));
        }
        Err(ApiError::Status {
            status: status.as_u16(),
            message: error_message(&bytes),
            method: "POST".into(),
            path,
            retry_after,
        })
    }

    /// A single HTTP exchange with a given token.
    async fn attempt(&self, req: &Req<'_>, token: &Secret) -> Result<Value, ApiError> {
        let method = req.method.as_str().to_string();
        let path = req.url.path().to_string();
        let transport = |source: reqwest::Error| ApiError::Transport {
            method: method.clone(),
            path: path.clone(),
            source: source.without_url(),
        };
        self.inner.pacer.wait().await;
        let started = Instant::now();
        let mut builder = self
            .inner
            .http
            .request(req.method.clone(), req.url.clone())
            .bearer_auth(token.expose());
        if !req.query.is_empty() {
            builder = builder.query(req.query);
        }
        if let Some(body) = req.body {
            builder = builder.json(body);
        }
        let resp = builder.send().await.map_err(transport)?;
        let status = resp.status();
        let retry_after = retry_after(resp.headers());
        let is_json = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("json"));
        let bytes = resp.bytes().await.map_err(transport)?;
        tracing::debug!(method = %method, path = %path, status = status.as_u16(), ms = started.elapsed().as_millis() as u64, "http");
        if !status.is_success() {
            return Err(ApiError::Status {
                status: status.as_u16(),
                message: error_message(&bytes),
                method,
                path,
                retry_after,
            });
        }
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| ApiError::Decode {
            message: if is_json {
                format!("invalid JSON: {e}")
            } else {
                format!("expected JSON, got: {}", excerpt(&bytes))
            },
            method,
            path,
        })
    }
}

/// A response of `kind` with its secrets hidden: what the API returns for
/// them is never kept (`crate::sensitive`).
/// The segment of a typed kind's collection (`None` for other kinds): a
/// typed kind cannot be addressed without one.
fn typed_segment(kind: Kind, segment: Option<&str>) -> Result<Option<&str>, ApiError> {
    match (kind.typed(), segment) {
        (None, _) => Ok(None),
        (Some(t), Some(s)) if t.kind_of(s).is_some() => Ok(Some(s)),
        (Some(t), s) => Err(ApiError::Config(format!(
            "a {kind} needs its `{}` (one of {}), got {s:?}",
            t.field,
            t.names().collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// A typed kind's body without its path field, and that field's value.
fn typed_body(
    kind: Kind,
    body: &Map<String, Value>,
) -> Result<(Option<String>, Map<String, Value>), ApiError> {
    let mut body = body.clone();
    // A member set is managed by calls of its own ([`Client::member_once`]).
    if let Some(m) = kind.members() {
        body.remove(m.field);
    }
    let Some(t) = kind.typed() else {
        return Ok((None, body));
    };
    let segment = body.remove(t.field);
    let segment = typed_segment(kind, segment.as_ref().and_then(Value::as_str))?;
    Ok((segment.map(str::to_owned), body))
}

/// A live entity of a typed kind, marked with the type it was read under
/// (the API's responses do not carry it), so it compares with the desired.
fn typed_entity(kind: Kind, mut v: Value, segment: &str) -> Value {
    if let (Some(t), Some(o)) = (kind.typed(), v.as_object_mut()) {
        o.insert(t.field.into(), Value::String(segment.into()));
    }
    v
}

fn hidden(kind: Kind, mut v: Value) -> Value {
    crate::sensitive::hide_live(kind, &mut v);
    v
}

/// A request body of `kind` with its secrets' values in place of their
/// markers: the last step before the wire, after anything that logs.
fn unsealed(kind: Kind, body: &Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    crate::sensitive::unseal(kind, body).map_err(|e| ApiError::Config(e.to_string()))
}

fn is_auth_status(e: &ApiError) -> bool {
    matches!(e.status(), Some(401 | 403))
}

fn auth_failure(e: &ApiError, why: &str) -> ApiError {
    match e {
        ApiError::Status {
            status,
            message,
            method,
            path,
            ..
        } => ApiError::Auth(format!(
            "{method} {path} answered HTTP {status} ({message}): {why}"
        )),
        other => ApiError::Auth(format!("{other}: {why}")),
    }
}

/// `Retry-After` in its seconds form (the HTTP-date form is not used by
/// m3ter and is ignored: the back-off still applies).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let secs: f64 = v.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

/// The server's `{"message": ...}`, or an excerpt of whatever it sent.
fn error_message(bytes: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(bytes)
        && let Some(m) = v.get("message").and_then(Value::as_str)
    {
        // A server may echo what it was sent, secrets included.
        return crate::sensitive::scrub(m).into_owned();
    }
    if bytes.is_empty() {
        "no message".to_string()
    } else {
        excerpt(bytes)
    }
}

fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = crate::sensitive::scrub(text.trim()).into_owned();
    let text = text.as_str();
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// `(data, nextToken)` of a list page, moved out of it: the entities are
/// not copied, so a page is never held twice.
fn split_page(page: Value) -> Option<(Vec<Value>, Option<String>)> {
    let Value::Object(mut page) = page else {
        return None;
    };
    let Some(Value::Array(data)) = page.remove("data") else {
        return None;
    };
    let next = match page.remove("nextToken") {
        Some(Value::String(t)) => Some(t),
        _ => None,
    };
    Some((data, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingest_url_replaces_a_leading_api_only() {
        assert_eq!(
            default_ingest_url("https://api.m3ter.com"),
            "https://ingest.m3ter.com"
        );
        assert_eq!(
            default_ingest_url("https://api.eu.m3ter.com/"),
            "https://ingest.eu.m3ter.com/"
        );
        assert_eq!(
            default_ingest_url("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            default_ingest_url("https://myapi.example.com"),
            "https://myapi.example.com"
        );
    }

    #[test]
    fn org_urls_encode_segments_and_keep_a_base_path() {
        let cfg = ClientConfig::new(
            "http://127.0.0.1:1/prefix/",
            "org-1",
            Auth::Token(Secret::new("t")),
        );
        let c = Client::new(cfg).expect("valid config");
        let url = c.org_url(&c.inner.base, &["products", "a b/c"]);
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:1/prefix/organizations/org-1/products/a%20b%2Fc"
        );
    }

    #[test]
    fn picklist_urls_keep_the_collection_slash() {
        let cfg = ClientConfig::new("http://127.0.0.1:1", "org-1", Auth::Token(Secret::new("t")));
        let c = Client::new(cfg).expect("valid config");
        assert_eq!(
            c.kind_url(Kind::Currency, None, Some("a/b")).as_str(),
            "http://127.0.0.1:1/organizations/org-1/picklists/currency/a%2Fb"
        );
        assert_eq!(
            c.kind_url(Kind::Product, None, None).as_str(),
            "http://127.0.0.1:1/organizations/org-1/products"
        );
    }

    #[test]
    fn bad_configs_are_refused_without_echoing_credentials() {
        let cfg = ClientConfig::new(
            "https://user:pw@api.m3ter.com",
            "org",
            Auth::Token(Secret::new("t")),
        );
        let err = Client::new(cfg).expect_err("credentials in URL");
        assert!(!err.to_string().contains("pw"), "{err}");
        let cfg = ClientConfig::new("ftp://x", "org", Auth::Token(Secret::new("t")));
        assert!(Client::new(cfg).is_err());
    }

    #[test]
    fn error_messages_prefer_the_json_message() {
        assert_eq!(error_message(br#"{"message":"bad code"}"#), "bad code");
        assert_eq!(error_message(b"<html>oops</html>"), "<html>oops</html>");
        assert_eq!(error_message(b""), "no message");
    }
}
