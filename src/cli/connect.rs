//! Connection settings: what the user typed (`Connection`, `Global`,
//! environment through clap) resolved into what the client and the state
//! store need. Nothing downstream looks at flags.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::{Connection, Global, StateLocation, workspace};
use crate::client::{Auth, ClientConfig, DEFAULT_BASE_URL, Secret, default_ingest_url};
use crate::state::Location;

/// Client pacing when `--rate-limit` is not given (m3ter allows 50 req/s per
/// org; 40 leaves room for other clients of the same org).
pub const DEFAULT_RATE_LIMIT: f64 = 40.0;

/// Everything a command needs to reach the org and its state file.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    pub client: ClientConfig,
    /// The state file or object, with the `--lock-timeout`.
    pub state_path: Location,
    pub org_id: String,
    pub base_url: String,
}

/// Resolves the connection options of a command that talks to a remote
/// org. `--local` never comes here: [`Session::open`] starts the embedded
/// emulator and makes its settings itself.
///
/// [`Session::open`]: super::session::Session::open
pub fn resolve(g: &Global, c: &Connection) -> anyhow::Result<ConnectionSettings> {
    if let Some(name) = non_empty(&c.profile) {
        return resolve_profile(g, c, name);
    }
    let org_id = non_empty(&c.org_id);
    let token = non_empty(&c.token);
    let key = non_empty(&c.api_key);
    let secret = non_empty(&c.api_secret);
    let auth = match (token, key, secret) {
        // A given token wins: it is what the user asked to use.
        (Some(t), _, _) => Some(Auth::Token(Secret::new(t))),
        (None, Some(k), Some(s)) => Some(Auth::Credentials {
            key: Secret::new(k),
            secret: Secret::new(s),
        }),
        _ => None,
    };
    let (Some(org_id), Some(auth)) = (org_id, auth) else {
        bail!(missing_credentials_message(c));
    };
    check_org_id(org_id)?;
    let base_url = non_empty(&c.base_url)
        .unwrap_or(DEFAULT_BASE_URL)
        .to_string();
    let mut client = ClientConfig::new(&base_url, org_id, auth);
    client.ingest_url = non_empty(&c.ingest_url)
        .map(str::to_string)
        .unwrap_or_else(|| default_ingest_url(&base_url));
    client.rate_limit = Some(rate_limit(c.rate_limit, DEFAULT_RATE_LIMIT)?);
    // Surface a bad URL now, as a usage error, rather than at the first call.
    crate::client::Client::new(client.clone()).context("invalid connection options")?;
    let state_path = state_file(g, false, Some(org_id))?;
    Ok(ConnectionSettings {
        client,
        state_path,
        org_id: org_id.to_string(),
        base_url,
    })
}

/// `--profile NAME` (or `$M3TER_PROFILE`): the profile's org, URLs,
/// credentials and state file, with the connection flags typed on the
/// command line taking precedence (see [`super::profile`]).
pub fn resolve_profile(
    g: &Global,
    c: &Connection,
    name: &str,
) -> anyhow::Result<ConnectionSettings> {
    let profile = super::profile::find(name)?;
    let conn = profile.connection(c, &g.typed_connection)?;
    let mut g = g.clone();
    if g.state.is_none()
        && let Some(state) = &profile.state
    {
        if let Some(ws) = &g.workspace {
            bail!(
                "profile `{name}` names its state file {} and workspace `{ws}` (--workspace or M3TER_WORKSPACE) names another: give only one of them",
                state.display()
            );
        }
        g.state = Some(state.clone());
    }
    resolve(&g, &conn).with_context(|| format!("profile `{name}`"))
}

/// Where the state file is, for commands that only touch state (`show`,
/// `state list|show|rm`, `force-unlock`): [`state_file`] with their
/// `--local` and org id. Needs no credentials.
pub fn state_path(g: &Global, loc: &StateLocation) -> anyhow::Result<Location> {
    state_file(g, loc.local, non_empty(&loc.org_id))
}

/// The directory of the default state files.
pub const STATE_DIR: &str = "state";

/// The state file of a command: ONE rule for every command that reads or
/// writes state.
///
/// 1. `--state FILE` or `--state s3://BUCKET/KEY` (also `M3TER_STATE`;
///    refused together with a workspace: one or the other names the file);
/// 2. with `--local`: `state/local.json` (`state/local.<workspace>.json`);
/// 3. with an org id (`--org-id`, `$M3TER_ORG_ID`): `state/<org-id>.json`
///    (`state/<org-id>.<workspace>.json`);
/// 4. else (only commands that need no org get here): the one state file
///    of the workspace in `state/`, when there is exactly one; otherwise an
///    error listing what there is.
///
/// The location carries the command's `--lock-timeout`.
pub(crate) fn state_file(
    g: &Global,
    local: bool,
    org_id: Option<&str>,
) -> anyhow::Result<Location> {
    Ok(state_place(g, local, org_id)?.with_lock_timeout(g.lock_timeout))
}

/// [`state_file`] without the lock timeout.
fn state_place(g: &Global, local: bool, org_id: Option<&str>) -> anyhow::Result<Location> {
    let ws = workspace::checked(g.workspace.as_deref())?;
    if let Some(path) = &g.state {
        if let Some(ws) = ws {
            bail!(
                "--state {} names the state file and workspace `{ws}` (--workspace or M3TER_WORKSPACE) names another (state/<org-id>.{ws}.json): give only one of them",
                path.display()
            );
        }
        return Ok(match path.to_str() {
            Some(text) => Location::parse(text)?,
            None => Location::file(path.clone()),
        });
    }
    if local {
        return Ok(Location::file(
            Path::new(STATE_DIR).join(workspace::state_file_name("local", ws)),
        ));
    }
    if let Some(org) = org_id {
        check_org_id(org)?;
        return Ok(Location::file(
            Path::new(STATE_DIR).join(workspace::state_file_name(org, ws)),
        ));
    }
    the_only_state_file(ws).map(Location::file)
}

/// Rule 4 of [`state_file`].
fn the_only_state_file(ws: Option<&str>) -> anyhow::Result<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(STATE_DIR)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| e.file_name().to_str().is_some_and(|n| is_state_file(n, ws)))
        .map(|e| e.path())
        .collect();
    found.sort();
    let name = |base: &str| {
        Path::new(STATE_DIR)
            .join(workspace::state_file_name(base, ws))
            .display()
            .to_string()
    };
    let options = format!(
        "pass --state FILE, or --local for {}, or --org-id ID (also M3TER_ORG_ID) for {}",
        name("local"),
        name("<org-id>")
    );
    match found.len() {
        1 => {
            let only = found.remove(0);
            tracing::info!(
                "using {}, the only state file in {STATE_DIR}/",
                only.display()
            );
            Ok(only)
        }
        0 => bail!(
            "which state file? {} does not exist, nor any {}; {options}",
            name("local"),
            name("<org-id>")
        ),
        _ => {
            let list: Vec<String> = found.iter().map(|p| p.display().to_string()).collect();
            bail!(
                "which state file? {STATE_DIR}/ holds several: {}; {options}",
                list.join(", ")
            )
        }
    }
}

/// Whether a file name in `state/` is a state file of workspace `ws`:
/// `<org-id or local>[.<ws>].json`, not the emulator's data of `--local`,
/// a backup, a lock or a temporary file.
fn is_state_file(name: &str, ws: Option<&str>) -> bool {
    let Some(stem) = name.strip_suffix(".json") else {
        return false;
    };
    let base = match ws {
        Some(ws) => stem.strip_suffix(ws).and_then(|b| b.strip_suffix('.')),
        None => Some(stem),
    };
    let local_data = Path::new(super::session::LEGACY_LOCAL_DATA)
        .file_name()
        .and_then(|n| n.to_str());
    base.is_some_and(|b| Some(name) != local_data && is_safe_name(b))
}

/// The async runtime a command runs its API calls on (commands are sync
/// entry points).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The org id becomes a file name and a URL path segment: refuse anything
/// that could escape either.
fn check_org_id(org: &str) -> anyhow::Result<()> {
    if !is_safe_name(org) {
        bail!(
            "org id `{org}` is not an organization id (expected a UUID like 00000000-0000-4000-8000-000000000001)"
        );
    }
    Ok(())
}

pub(crate) use crate::state::is_safe_name;

fn rate_limit(given: Option<f64>, default: f64) -> anyhow::Result<f64> {
    match given {
        None => Ok(default),
        Some(r) if r.is_finite() && r >= 0.0 => Ok(r),
        Some(r) => {
            bail!("--rate-limit {r} is not a rate: give requests per second, 0 for unlimited")
        }
    }
}

fn missing_credentials_message(c: &Connection) -> String {
    let mut missing = Vec::new();
    if non_empty(&c.org_id).is_none() {
        missing.push("M3TER_ORG_ID (--org-id)");
    }
    if non_empty(&c.token).is_none() {
        if non_empty(&c.api_key).is_none() {
            missing.push("M3TER_API_KEY (--api-key)");
        }
        if non_empty(&c.api_secret).is_none() {
            missing.push("M3TER_API_SECRET (--api-secret)");
        }
    }
    format!(
        "no credentials for the org: missing {}. Set M3TER_ORG_ID, M3TER_API_KEY and M3TER_API_SECRET (or M3TER_API_TOKEN for a pre-issued token), or use --local to run against the embedded emulator",
        missing.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn global() -> Global {
        crate::cli::Cli::try_parse_from(["m3ter", "validate"])
            .map(|c| c.global)
            .expect("parses")
    }

    fn conn(
        org: Option<&str>,
        key: Option<&str>,
        secret: Option<&str>,
        token: Option<&str>,
    ) -> Connection {
        Connection {
            org_id: org.map(Into::into),
            api_key: key.map(Into::into),
            api_secret: secret.map(Into::into),
            token: token.map(Into::into),
            ..Connection::default()
        }
    }

    #[test]
    fn missing_credentials_name_the_variables_and_local() {
        let err =
            resolve(&global(), &conn(Some("org"), Some("k"), None, None)).expect_err("no secret");
        let msg = err.to_string();
        for needle in [
            "M3TER_ORG_ID",
            "M3TER_API_KEY",
            "M3TER_API_SECRET",
            "--local",
            "missing M3TER_API_SECRET",
        ] {
            assert!(msg.contains(needle), "{needle} not in {msg}");
        }
        assert!(!msg.contains("missing M3TER_ORG_ID"), "{msg}");
    }

    #[test]
    fn defaults_apply() {
        let s = resolve(
            &global(),
            &conn(Some("org-1"), Some("k"), Some("s3cr3t"), None),
        )
        .expect("resolves");
        assert_eq!(s.base_url, "https://api.m3ter.com");
        assert_eq!(s.client.ingest_url, "https://ingest.m3ter.com");
        assert_eq!(s.client.rate_limit, Some(40.0));
        assert_eq!(s.state_path, Location::file("state/org-1.json"));
        assert!(matches!(s.client.auth, Auth::Credentials { .. }));
        assert!(!format!("{s:?}").contains("s3cr3t"));
    }

    #[test]
    fn a_token_is_enough_and_wins() {
        let mut c = conn(Some("org"), Some("k"), Some("s"), Some("tok"));
        c.rate_limit = Some(0.0);
        c.base_url = Some("http://127.0.0.1:9".into());
        let s = resolve(&global(), &c).expect("resolves");
        assert_eq!(s.client.auth, Auth::Token(Secret::new("tok")));
        assert_eq!(s.client.ingest_url, "http://127.0.0.1:9");
        assert_eq!(s.client.rate_limit, Some(0.0));
    }

    #[test]
    fn state_file_names() {
        assert!(is_state_file("local.json", None));
        assert!(is_state_file(
            "00000000-0000-4000-8000-000000000001.json",
            None
        ));
        for not in [
            "local-org.json",
            "local.json.backup",
            "local.json.lock",
            ".local.json.tmp-12",
            "local.w.json",
            "notes.txt",
        ] {
            assert!(!is_state_file(not, None), "{not}");
        }
        assert!(is_state_file("local.w.json", Some("w")));
        assert!(is_state_file("org-1.w.json", Some("w")));
        assert!(!is_state_file("local.json", Some("w")));
        assert!(!is_state_file("localw.json", Some("w")));
        assert!(!is_state_file("a.b.w.json", Some("w")));
    }

    #[test]
    fn workspaces_pick_their_own_state_file() {
        let mut g = global();
        g.workspace = Some("w".into());
        assert_eq!(
            state_file(&g, true, None).expect("local"),
            Location::file("state/local.w.json")
        );
        assert_eq!(
            state_file(&g, false, Some("org-1")).expect("org"),
            Location::file("state/org-1.w.json")
        );
        g.state = Some("x.json".into());
        let err = state_file(&g, true, None).expect_err("both").to_string();
        assert!(err.contains("give only one"), "{err}");
        g.state = None;
        g.workspace = Some("../x".into());
        assert!(state_file(&g, true, None).is_err());
    }

    #[test]
    fn s3_urls_are_state_locations_with_the_lock_timeout() {
        let mut g = global();
        g.state = Some("s3://team-state/m3ter/sandbox.json".into());
        g.lock_timeout = std::time::Duration::from_secs(30);
        let at = state_file(&g, false, Some("org-1")).expect("s3");
        assert!(at.is_remote());
        assert_eq!(at.to_string(), "s3://team-state/m3ter/sandbox.json");
        assert_eq!(at.lock_timeout, std::time::Duration::from_secs(30));
        g.state = Some("gs://b/k".into());
        let err = state_file(&g, false, None).expect_err("gs").to_string();
        assert!(err.contains("not a supported state location"), "{err}");
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(resolve(&global(), &conn(Some("../x"), None, None, Some("t"))).is_err());
        let mut c = conn(Some("org"), None, None, Some("t"));
        c.rate_limit = Some(-1.0);
        assert!(resolve(&global(), &c).is_err());
        c.rate_limit = None;
        c.base_url = Some("not a url".into());
        assert!(resolve(&global(), &c).is_err());
        let mut c = conn(None, None, None, None);
        c.local = true;
        assert!(
            resolve(&global(), &c)
                .unwrap_err()
                .to_string()
                .contains("--local")
        );
    }
}
