//! Running the real `m3ter` binary against an emulator process over
//! loopback: the way a user (or CI) drives the tool.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

/// The emulator's default org and credentials (design §6).
pub const ORG: &str = "00000000-0000-4000-8000-000000000001";
pub const KEY: &str = "local-key";
pub const SECRET: &str = "local-secret";

/// Path of the binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_m3ter"))
}

/// An `m3ter emulator` child process on 127.0.0.1:0; killed on drop.
pub struct EmulatorProcess {
    pub child: Child,
    pub base_url: String,
}

impl EmulatorProcess {
    /// Starts `m3ter emulator --listen 127.0.0.1:0 ARGS...` and waits for
    /// its `listening on` line.
    pub fn start(args: &[&str]) -> EmulatorProcess {
        let mut child = Command::new(bin())
            .args(["emulator", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("emulator starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("first line");
        let base_url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        EmulatorProcess { child, base_url }
    }

    /// `GET /_emulator/stats`.
    pub fn stats(&self) -> Value {
        blocking_json(
            "GET",
            &format!("{}/_emulator/stats", self.base_url),
            None,
            None,
        )
    }

    /// A bearer token for direct API calls (out-of-band changes in tests).
    pub fn token(&self) -> String {
        let v = blocking_json(
            "POST",
            &format!("{}/oauth/token", self.base_url),
            Some(serde_json::json!({"grant_type": "client_credentials"})),
            Some(("basic", format!("{KEY}:{SECRET}"))),
        );
        v["access_token"].as_str().expect("token").to_string()
    }

    /// An authenticated call to `/organizations/{ORG}/<path>`; returns
    /// (status, body).
    pub fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}/organizations/{ORG}/{path}", self.base_url);
        blocking_call(method, &url, body, Some(("bearer", self.token())))
    }

    /// Every entity of a collection (follows `nextToken`). A singleton's
    /// collection answers its one entity, or none while the org has never
    /// written it (404).
    pub fn list_all(&self, collection: &str) -> Vec<Value> {
        if m3ter_api::Kind::from_list_path(collection).is_some_and(|k| k.is_singleton()) {
            let (status, v) = self.api("GET", collection, None);
            assert!(matches!(status, 200 | 404), "get {collection}: {v}");
            return if status == 200 { vec![v] } else { Vec::new() };
        }
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut path = format!("{collection}?pageSize=100");
            if let Some(t) = &token {
                path.push_str(&format!("&nextToken={t}"));
            }
            let (status, v) = self.api("GET", &path, None);
            assert_eq!(status, 200, "list {collection}: {v}");
            out.extend(v["data"].as_array().cloned().unwrap_or_default());
            match v["nextToken"].as_str() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return out,
            }
        }
    }

    /// The live entity of `collection` with `code`; panics naming it when
    /// there is none.
    pub fn by_code(&self, collection: &str, code: &str) -> Value {
        self.list_all(collection)
            .into_iter()
            .find(|e| e["code"] == code)
            .unwrap_or_else(|| panic!("no {collection} with code {code}"))
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn blocking_call(
    method: &str,
    url: &str,
    body: Option<Value>,
    auth: Option<(&str, String)>,
) -> (u16, Value) {
    let url = url.to_string();
    let method = method.to_string();
    let auth = auth.map(|(kind, v)| (kind.to_string(), v));
    // reqwest's blocking client needs its own thread outside any runtime.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        rt.block_on(async move {
            let client = reqwest::Client::new();
            let mut req = client.request(
                reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
                &url,
            );
            match auth.as_ref().map(|(k, v)| (k.as_str(), v)) {
                Some(("basic", kv)) => {
                    let (k, v) = kv.split_once(':').expect("key:secret");
                    req = req.basic_auth(k, Some(v));
                }
                Some((_, token)) => req = req.bearer_auth(token),
                None => {}
            }
            if let Some(b) = body {
                req = req.json(&b);
            }
            let resp = req.send().await.expect("request");
            let status = resp.status().as_u16();
            let text = resp.text().await.expect("body");
            (
                status,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            )
        })
    })
    .join()
    .expect("request thread")
}

fn blocking_json(
    method: &str,
    url: &str,
    body: Option<Value>,
    auth: Option<(&str, String)>,
) -> Value {
    let (status, v) = blocking_call(method, url, body, auth);
    assert!(status < 300, "{method} {url}: {status} {v}");
    v
}

/// `m3ter ARGS...` in `dir` with credentials for `emu` in the environment
/// (and no other M3TER_* variable from the outer environment).
pub fn m3ter(dir: &Path, emu: &EmulatorProcess, args: &[&str]) -> Output {
    m3ter_cmd(dir, emu, args).output().expect("m3ter runs")
}

/// The command of [`m3ter`], for callers that need to spawn or pipe.
pub fn m3ter_cmd(dir: &Path, emu: &EmulatorProcess, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.current_dir(dir).args(args).stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("M3TER_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("M3TER_ORG_ID", ORG)
        .env("M3TER_API_KEY", KEY)
        .env("M3TER_API_SECRET", SECRET)
        .env("M3TER_BASE_URL", &emu.base_url)
        .env("NO_COLOR", "1");
    cmd
}

/// `m3ter ARGS...` in `dir` with no M3TER_* variable at all (for `--local`
/// runs, and commands that must find their state file by themselves).
pub fn m3ter_bare(dir: &Path, args: &[&str]) -> Output {
    bare(Command::new(bin()).args(args), dir)
}

/// Runs `line` with `sh -c` in `dir`, with no M3TER_* variable and a
/// leading `m3ter` replaced by the binary under test: a command line as a
/// user would copy it from a hint.
pub fn shell_bare(dir: &Path, line: &str) -> Output {
    let rest = line
        .strip_prefix("m3ter")
        .unwrap_or_else(|| panic!("not an m3ter command: {line}"));
    let script = format!("'{}'{rest}", bin().display());
    bare(Command::new("sh").args(["-c", &script]), dir)
}

fn bare(cmd: &mut Command, dir: &Path) -> Output {
    cmd.current_dir(dir).stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("M3TER_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("NO_COLOR", "1").output().expect("runs")
}

/// The files of the seed's example (seed tasks 1–3: 14 entities), which
/// the CLI tests pin entity by entity. The example's `billing.yaml` (a
/// seats counter, a plan group, a commitment: 7 more entities that depend
/// on these, never the other way) is left out of them and covered on its
/// own by `cli_usage::the_full_example_converges_and_bills_its_new_lines`.
pub const SEED_EXAMPLE: [&str; 3] = ["product.yaml", "pricing.yaml", "accounts.yaml"];

/// Copies the seed's part of the repository's example `desired-state/`
/// ([`SEED_EXAMPLE`]) into `dir/desired-state`.
pub fn copy_example(dir: &Path) -> PathBuf {
    copy_files(dir, &SEED_EXAMPLE)
}

/// Copies the whole example `desired-state/` into `dir/desired-state`.
pub fn copy_full_example(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("desired-state");
    let mut names: Vec<String> = std::fs::read_dir(src)
        .expect("example dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    copy_files(dir, &names)
}

fn copy_files(dir: &Path, names: &[&str]) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("desired-state");
    let dst = dir.join("desired-state");
    std::fs::create_dir_all(&dst).expect("mkdir");
    for name in names {
        std::fs::copy(src.join(name), dst.join(name)).expect("copy");
    }
    dst
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// stdout and stderr as text, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "status: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
