//! State in an S3 bucket (or an S3-compatible store), through `object_store`.
//!
//! - Credentials, region and endpoint come from the standard AWS variables
//!   (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
//!   `AWS_REGION`, `AWS_ENDPOINT_URL`, and the other credential sources
//!   `object_store` reads); `http://` is allowed only when `AWS_ENDPOINT_URL`
//!   says so.
//! - The lock is the object `KEY.lock`, created only if absent
//!   (`If-None-Match: *`); it names its holder and is deleted at the end of
//!   the run. A killed run leaves it: `m3ter force-unlock ID` removes it.
//! - Every write of `KEY` is conditional on the ETag last read or written
//!   (`If-Match`), so a run whose lock was broken cannot overwrite what the
//!   new holder wrote: the state it could not write goes to a local file.
//! - The previous version is kept as `KEY.backup`.
//!
//! The store API is synchronous (the engine saves from a blocking thread);
//! the requests run on a small runtime of their own, so a store can be used
//! from any thread, and dropped (deleting its lock) after the command's
//! runtime is gone.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use object_store::aws::{AmazonS3Builder, S3ConditionalPut};
use object_store::path::Path as ObjectPath;
use object_store::{
    ClientOptions, ObjectStore, PutMode, PutOptions, PutPayload, RetryConfig, UpdateVersion,
};

use super::StateError;
use super::location::{Location, ObjectUrl, Place};
use super::lock::LockInfo;

/// The variables whose values never appear in a message.
const SECRET_VARS: [&str; 3] = [
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ACCESS_KEY_ID",
];

/// A connection to one state object's bucket.
pub(crate) struct Remote {
    store: Arc<dyn ObjectStore>,
    url: ObjectUrl,
    /// For messages: the endpoint URL, or "AWS S3".
    endpoint: String,
}

impl std::fmt::Debug for Remote {
    // Never the store's own Debug: it holds the credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Remote({} via {})", self.url, self.endpoint)
    }
}

/// Runs `fut` on the state runtime and waits for it; from a worker of a
/// multi-thread runtime the wait is announced with `block_in_place`.
pub(crate) fn run<F>(fut: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let rt = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("m3ter-state-io")
            .enable_all()
            .build()
            .expect("a runtime for state requests")
    });
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    rt.spawn(async move {
        let _ = tx.send(fut.await);
    });
    wait_blocking(move || rx.recv().expect("the state runtime outlives its tasks"))
}

/// Runs blocking `f` (a wait), telling a multi-thread runtime first so its
/// other tasks move to another worker.
pub(crate) fn wait_blocking<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Replaces the values of the AWS secrets in `text` (an error from the
/// store may quote a request or response).
pub(crate) fn scrub(text: &str) -> String {
    let mut out = text.to_string();
    for var in SECRET_VARS {
        if let Ok(v) = std::env::var(var)
            && v.len() >= 4
        {
            out = out.replace(&v, "***");
        }
    }
    out
}

impl Remote {
    /// Configures the client for `url` from the environment. Makes no
    /// request.
    pub fn connect(url: &ObjectUrl) -> Result<Remote, StateError> {
        let endpoint = std::env::var("AWS_ENDPOINT_URL")
            .ok()
            .or_else(|| std::env::var("AWS_ENDPOINT").ok())
            .filter(|e| !e.trim().is_empty());
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&url.bucket)
            // Not from the environment: the lock and the ETag checks
            // depend on it.
            .with_conditional_put(S3ConditionalPut::ETagMatch)
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(20),
                ..RetryConfig::default()
            });
        let http = endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://"));
        // Replaces any client options from the environment: `http://` only
        // when the endpoint itself says so.
        builder = builder.with_client_options(
            ClientOptions::new()
                .with_connect_timeout(Duration::from_secs(10))
                .with_timeout(Duration::from_secs(60))
                .with_allow_http(http),
        );
        if std::env::var("AWS_REGION").is_err() && std::env::var("AWS_DEFAULT_REGION").is_err() {
            builder = builder.with_region("us-east-1");
        }
        if let Some(e) = &endpoint {
            builder = builder.with_endpoint(e);
        }
        let endpoint_text = endpoint.clone().unwrap_or_else(|| "AWS S3".to_string());
        let store = builder.build().map_err(|e| StateError::Remote {
            url: url.to_string(),
            endpoint: endpoint_text.clone(),
            what: "configure access to".into(),
            message: scrub(&e.to_string()),
        })?;
        Ok(Remote {
            store: Arc::new(store),
            url: url.clone(),
            endpoint: endpoint_text,
        })
    }

    fn location(&self) -> Location {
        Location {
            place: Box::new(Place::Object(self.url.clone())),
            lock_timeout: Duration::ZERO,
        }
    }

    fn error(&self, url: &ObjectUrl, what: &str, e: &object_store::Error) -> StateError {
        let hint = match e {
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => {
                "access denied: check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) and the bucket's policy; "
            }
            _ => "",
        };
        StateError::Remote {
            url: url.to_string(),
            endpoint: self.endpoint.clone(),
            what: what.to_string(),
            message: format!("{hint}{}", scrub(&e.to_string())),
        }
    }

    /// Reads the state object: its bytes and version, `None` when there is
    /// none yet (in a bucket that exists).
    pub fn read(&self) -> Result<Option<(Vec<u8>, UpdateVersion)>, StateError> {
        let (store, path) = (self.store.clone(), ObjectPath::from(self.url.key.as_str()));
        let got = run(async move {
            let r = store.get(&path).await?;
            let version = UpdateVersion {
                e_tag: r.meta.e_tag.clone(),
                version: r.meta.version.clone(),
            };
            let bytes = r.bytes().await?;
            Ok::<_, object_store::Error>((bytes.to_vec(), version))
        });
        match got {
            Ok(found) => Ok(Some(found)),
            Err(object_store::Error::NotFound { .. }) => {
                self.check_bucket()?;
                Ok(None)
            }
            Err(e) => Err(self.error(&self.url, "read state", &e)),
        }
    }

    /// A missing bucket also answers "not found" for an object: list it to
    /// tell the two apart.
    fn check_bucket(&self) -> Result<(), StateError> {
        use futures_util::StreamExt;
        let (store, prefix) = (self.store.clone(), ObjectPath::from(self.url.key.as_str()));
        let listed = run(async move { store.list(Some(&prefix)).next().await.transpose() });
        match listed {
            Ok(_) => Ok(()),
            Err(e) if is_no_such_bucket(&e) => Err(StateError::NoBucket {
                url: self.url.to_string(),
                bucket: self.url.bucket.clone(),
                endpoint: self.endpoint.clone(),
            }),
            Err(e) => Err(self.error(&self.url, "list the bucket of", &e)),
        }
    }

    /// Writes the state object if it is still at `expected` (`None`: if
    /// there is none). Returns the new version, or `Ok(Err(()))` when
    /// someone else wrote it in between.
    pub fn write(
        &self,
        bytes: Vec<u8>,
        expected: Option<UpdateVersion>,
    ) -> Result<Result<UpdateVersion, ()>, StateError> {
        let mode = match expected {
            Some(v) => PutMode::Update(v),
            None => PutMode::Create,
        };
        let (store, path) = (self.store.clone(), ObjectPath::from(self.url.key.as_str()));
        let put = run(async move {
            store
                .put_opts(&path, PutPayload::from(bytes), PutOptions::from(mode))
                .await
        });
        match put {
            Ok(r) => Ok(Ok(UpdateVersion {
                e_tag: r.e_tag,
                version: r.version,
            })),
            Err(
                object_store::Error::Precondition { .. }
                | object_store::Error::AlreadyExists { .. },
            ) => Ok(Err(())),
            Err(e) if is_no_such_bucket(&e) => Err(StateError::NoBucket {
                url: self.url.to_string(),
                bucket: self.url.bucket.clone(),
                endpoint: self.endpoint.clone(),
            }),
            Err(e) => Err(self.error(&self.url, "write state", &e)),
        }
    }

    /// Writes `KEY.backup` (unconditionally: only the lock holder writes it).
    pub fn write_backup(&self, bytes: Vec<u8>) -> Result<(), StateError> {
        let url = self.url.with_suffix(".backup");
        let (store, path) = (self.store.clone(), ObjectPath::from(url.key.as_str()));
        run(async move { store.put(&path, PutPayload::from(bytes)).await })
            .map(|_| ())
            .map_err(|e| self.error(&url, "write the backup", &e))
    }

    /// Takes the lock `KEY.lock`, waiting up to `timeout` while another run
    /// holds it.
    pub fn lock(&self, info: LockInfo, timeout: Duration) -> Result<RemoteLock, StateError> {
        let url = self.url.with_suffix(".lock");
        let text = serde_json::to_vec_pretty(&info).unwrap_or_default();
        let start = Instant::now();
        let mut pause = Duration::from_millis(100);
        loop {
            let (store, path, body) = (
                self.store.clone(),
                ObjectPath::from(url.key.as_str()),
                text.clone(),
            );
            let put = run(async move {
                store
                    .put_opts(
                        &path,
                        PutPayload::from(body),
                        PutOptions::from(PutMode::Create),
                    )
                    .await
            });
            match put {
                Ok(_) => {
                    return Ok(RemoteLock {
                        store: self.store.clone(),
                        path: ObjectPath::from(url.key.as_str()),
                        id: info.id,
                    });
                }
                Err(
                    object_store::Error::AlreadyExists { .. }
                    | object_store::Error::Precondition { .. },
                ) => {}
                Err(e) if is_no_such_bucket(&e) => {
                    return Err(StateError::NoBucket {
                        url: self.url.to_string(),
                        bucket: self.url.bucket.clone(),
                        endpoint: self.endpoint.clone(),
                    });
                }
                Err(e) => return Err(self.error(&url, "create the lock", &e)),
            }
            // Held: by whom? Gone in between: try again at once.
            let Some(holder) = self.read_lock()? else {
                continue;
            };
            if start.elapsed() >= timeout {
                return Err(StateError::Locked {
                    path: self.location().lock().with_lock_timeout(timeout),
                    holder: holder.as_ref().map_or_else(
                        || "another process (the lock object does not name it)".to_string(),
                        LockInfo::describe,
                    ),
                    id: holder.map(|h| h.id).filter(|id| !id.is_empty()),
                });
            }
            let left = timeout.saturating_sub(start.elapsed());
            wait_blocking(|| std::thread::sleep(pause.min(left)));
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// The lock object: `None` when there is none, `Some(None)` when it does
    /// not name its holder.
    pub fn read_lock(&self) -> Result<Option<Option<LockInfo>>, StateError> {
        let url = self.url.with_suffix(".lock");
        let (store, path) = (self.store.clone(), ObjectPath::from(url.key.as_str()));
        let got = run(async move { store.get(&path).await?.bytes().await });
        match got {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).ok())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(&url, "read the lock", &e)),
        }
    }

    /// Deletes the lock object.
    pub fn delete_lock(&self) -> Result<(), StateError> {
        let url = self.url.with_suffix(".lock");
        let (store, path) = (self.store.clone(), ObjectPath::from(url.key.as_str()));
        match run(async move { store.delete(&path).await }) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error(&url, "delete the lock", &e)),
        }
    }
}

fn is_no_such_bucket(e: &object_store::Error) -> bool {
    e.to_string().contains("NoSuchBucket")
}

/// A held remote lock; dropping it deletes the lock object if it is still
/// ours (a lock broken by `force-unlock` and taken by another run is left
/// to that run).
pub(crate) struct RemoteLock {
    store: Arc<dyn ObjectStore>,
    path: ObjectPath,
    id: String,
}

impl std::fmt::Debug for RemoteLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RemoteLock({}, id {})", self.path, self.id)
    }
}

impl Drop for RemoteLock {
    fn drop(&mut self) {
        let (store, path, id) = (self.store.clone(), self.path.clone(), self.id.clone());
        let released = run(async move {
            let bytes = store.get(&path).await?.bytes().await?;
            let ours = serde_json::from_slice::<LockInfo>(&bytes).is_ok_and(|h| h.id == id);
            if ours {
                store.delete(&path).await?;
            }
            Ok::<_, object_store::Error>(ours)
        });
        match released {
            Ok(true) | Err(object_store::Error::NotFound { .. }) => {}
            Ok(false) => tracing::warn!(
                "the state lock {} was broken and is now another run's; left alone",
                self.path
            ),
            Err(e) => tracing::warn!(
                "cannot release the state lock {}: {}; remove it with `m3ter force-unlock {}`",
                self.path,
                scrub(&e.to_string()),
                self.id
            ),
        }
    }
}

/// The write side of a remote store, shared with the pending writes that
/// run on a blocking thread.
#[derive(Debug)]
pub(crate) struct RemoteWriter {
    pub remote: Remote,
    /// Version last read or written; `None`: no object yet.
    pub version: Mutex<Option<UpdateVersion>>,
    /// The bytes of that version, kept as `KEY.backup` by the next write.
    pub previous: Mutex<Option<Vec<u8>>>,
}

impl RemoteWriter {
    /// Writes `bytes` on top of the version last seen; when the object
    /// changed behind our back, saves `bytes` to a local file and fails
    /// naming it.
    pub fn write(&self, bytes: Vec<u8>, serial: u64) -> Result<(), StateError> {
        let expected = self.version.lock().map(|v| v.clone()).unwrap_or_default();
        match self.remote.write(bytes.clone(), expected)? {
            Ok(version) => {
                if let Ok(mut v) = self.version.lock() {
                    *v = Some(version);
                }
                let previous = self.previous.lock().ok().and_then(|mut p| p.replace(bytes));
                if let Some(previous) = previous
                    && let Err(e) = self.remote.write_backup(previous)
                {
                    // The state itself is saved; only the spare copy is missing.
                    tracing::warn!("{e}");
                }
                Ok(())
            }
            Err(()) => Err(self.conflict(&bytes, serial)),
        }
    }

    fn conflict(&self, bytes: &[u8], serial: u64) -> StateError {
        let name = format!(
            "m3ter-state-unsaved-{}-serial-{serial}.json",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        );
        let rescued = std::path::PathBuf::from(&name);
        let saved = std::fs::write(&rescued, bytes)
            .map(|()| rescued.clone())
            .or_else(|_| {
                let tmp = std::env::temp_dir().join(&name);
                std::fs::write(&tmp, bytes).map(|()| tmp)
            });
        StateError::Conflict {
            path: self.remote.location(),
            rescued: saved.map_err(|e| e.to_string()),
        }
    }
}
