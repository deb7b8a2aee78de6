//! A real S3 implementation on loopback for the remote-state tests: moto's
//! server (`.venv/bin/moto_server`, installed by `scripts/setup-python-sdk`),
//! started on a free port and killed on drop. No S3 mock in the process.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;

/// Credentials the tests hand to `m3ter` (moto accepts any unless auth is
/// on); distinctive, so a test can check they appear nowhere.
pub const ACCESS_KEY: &str = "AKIAM3TERTESTKEY0001";
pub const SECRET_KEY: &str = "m3ter-test-secret-d0-not-print-me";

/// A running moto server.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    port: u16,
}

fn moto_server() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server");
    // Loud, not a skip: ./scripts/test installs it.
    assert!(
        path.exists(),
        "{} is missing: run ./scripts/setup-python-sdk (./scripts/test does) to install moto[server]",
        path.display()
    );
    path
}

impl Moto {
    /// Starts moto accepting any credentials.
    pub fn start() -> Moto {
        Moto::spawn(false)
    }

    /// Starts moto checking signatures against its own IAM users, of which
    /// there are none: every request is refused as with wrong keys.
    pub fn start_with_auth() -> Moto {
        Moto::spawn(true)
    }

    fn spawn(auth: bool) -> Moto {
        let mut cmd = Command::new(moto_server());
        cmd.args(["-H", "127.0.0.1", "-p", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if auth {
            cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", "0");
        }
        let mut child = cmd.spawn().expect("moto_server starts");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        // werkzeug reports the port it bound: " * Running on http://127.0.0.1:PORT".
        let port = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("moto_server exited before reporting its port"))
                .expect("moto output");
            if let Some(rest) = line.split("http://127.0.0.1:").nth(1) {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                break digits.parse::<u16>().expect("port");
            }
        };
        // Keep draining: moto logs every request, and a full pipe would stall it.
        std::thread::spawn(move || for _ in lines {});
        Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
        }
    }

    /// Creates `bucket` (an unsigned PUT: moto without auth takes it).
    pub fn create_bucket(&self, bucket: &str) {
        let (status, body) = self.request("PUT", &format!("/{bucket}"), b"");
        assert_eq!(status, 200, "create bucket {bucket}: {body}");
    }

    /// Reads `bucket/key` (signed, through object_store): `None` when there
    /// is no such object.
    pub fn get(&self, bucket: &str, key: &str) -> Option<String> {
        let path = ObjectPath::from(key);
        self.with_store(bucket, |s| async move {
            match s.get(&path).await {
                Ok(r) => {
                    Some(String::from_utf8(r.bytes().await.expect("body").to_vec()).expect("UTF-8"))
                }
                Err(object_store::Error::NotFound { .. }) => None,
                Err(e) => panic!("GET {path}: {e}"),
            }
        })
    }

    /// Writes `bucket/key`.
    pub fn put(&self, bucket: &str, key: &str, body: &str) {
        let (path, body) = (ObjectPath::from(key), body.to_string());
        self.with_store(bucket, |s| async move {
            s.put(&path, body.into()).await.expect("PUT");
        });
    }

    /// Deletes `bucket/key`.
    pub fn delete(&self, bucket: &str, key: &str) {
        let path = ObjectPath::from(key);
        self.with_store(bucket, |s| async move {
            s.delete(&path).await.expect("DELETE");
        });
    }

    fn with_store<F, Fut, T>(&self, bucket: &str, f: F) -> T
    where
        F: FnOnce(std::sync::Arc<dyn ObjectStore>) -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        let store = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(SECRET_KEY)
            .build()
            .expect("S3 client");
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f(std::sync::Arc::new(store)))
    }

    /// One HTTP/1.1 request, `Connection: close`; (status, body).
    fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to moto");
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.port,
            body.len()
        );
        s.write_all(head.as_bytes()).expect("send");
        s.write_all(body).expect("send body");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).expect("response");
        let text = String::from_utf8_lossy(&raw).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP response: {text}"));
        let (headers, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let body = if headers
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(rest)
        } else {
            rest.to_string()
        };
        (status, body)
    }

    /// Sets the AWS variables for this server on `cmd` (and removes any
    /// from the outer environment).
    pub fn env<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        for (k, _) in std::env::vars() {
            if k.starts_with("AWS_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_REGION", "us-east-1")
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
