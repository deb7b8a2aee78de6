//! Named connections: `~/.config/m3ter/profiles.yaml` (or `$M3TER_CONFIG`),
//! picked with `--profile NAME` / `$M3TER_PROFILE`, and by `compare` and
//! `promote` with `--from` / `--to`.
//!
//! ```yaml
//! profiles:
//!   sandbox:
//!     orgId: 00000000-0000-4000-8000-000000000001
//!     baseUrl: https://api.m3ter.com      # optional; ingestUrl likewise
//!     apiKeyEnv: M3TER_SANDBOX_KEY        # names of variables, not values
//!     apiSecretEnv: M3TER_SANDBOX_SECRET
//!     state: state/sandbox.json           # optional state file
//!   production:
//!     orgId: 00000000-0000-4000-8000-000000000002
//!     credentialsCommand: vault-m3ter prod  # prints {"apiKey": …, "apiSecret": …}
//! ```
//!
//! Credentials come from exactly one of: `apiKeyEnv` + `apiSecretEnv` (or
//! `tokenEnv`), `credentialsCommand` (run with `sh -c`; its stdout is a JSON
//! object with `apiKey` and `apiSecret`, or `token`), or `apiKey` +
//! `apiSecret` written in the file, which is accepted only when the file is
//! readable by its owner alone (mode 0600).
//!
//! Precedence (as kubectl and the AWS CLI do it): a flag typed on the
//! command line beats the profile, field by field; the profile beats the
//! environment: while a profile is in use, `M3TER_ORG_ID`, `M3TER_API_KEY`,
//! `M3TER_API_SECRET`, `M3TER_API_TOKEN`, `M3TER_BASE_URL` and
//! `M3TER_INGEST_URL` are ignored, so a variable left over in a shell can
//! never send one org's keys to another.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Connection;
use crate::desired::diagnostic::did_you_mean;
use crate::desired::node::{At, Node, Pos, parse_documents};

/// The variable naming the profiles file.
pub const CONFIG_ENV: &str = "M3TER_CONFIG";

/// Why a profile cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The profiles file cannot be read (or there is none).
    #[error("cannot read the profiles file {}: {source}; create it (`profiles:` mapping each name to orgId, apiKeyEnv and apiSecretEnv) or point {CONFIG_ENV} at it", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// No home directory and no `$M3TER_CONFIG`.
    #[error(
        "no profiles file: set {CONFIG_ENV} to its path (there is no home directory for ~/.config/m3ter/profiles.yaml)"
    )]
    NoHome,
    /// A problem at a place in the file.
    #[error("{}:{}:{}: {message}", file.display(), pos.line, pos.column)]
    At {
        file: PathBuf,
        pos: Pos,
        message: String,
    },
    /// The file holds a secret and others may read it.
    #[error(
        "{} holds a secret (`{field}` of profile `{profile}`) and is readable by others (mode {mode:04o}): run `chmod 600 {}`, or name environment variables with apiKeyEnv/apiSecretEnv instead",
        file.display(),
        file.display()
    )]
    Readable {
        file: PathBuf,
        profile: String,
        field: &'static str,
        mode: u32,
    },
    /// `--profile NAME` names no profile of the file.
    #[error("no profile `{name}` in {}: {known}", file.display())]
    Unknown {
        name: String,
        file: PathBuf,
        /// "the profiles are: a, b" (and a suggestion) or "it has no profiles".
        known: String,
    },
    /// Variables the profile names are not set (their names only).
    #[error("profile `{profile}` takes its credentials from {}, which {} not set", missing.join(" and "), if missing.len() == 1 { "is" } else { "are" })]
    MissingEnv {
        profile: String,
        missing: Vec<String>,
    },
    /// The credentials command failed or printed something else.
    #[error("profile `{profile}`: the credentials command `{command}` {problem}")]
    Command {
        profile: String,
        command: String,
        problem: String,
    },
}

/// How a profile gets its credentials.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Names of the variables holding the key and the secret.
    Env { key: String, secret: String },
    /// The name of the variable holding a bearer token.
    TokenEnv(String),
    /// A command run with `sh -c` that prints the credentials as JSON.
    Command(String),
    /// Written in the file (mode 0600 checked when the file was read).
    Inline { key: String, secret: String },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Env { key, secret } => write!(f, "Env({key}, {secret})"),
            Credentials::TokenEnv(v) => write!(f, "TokenEnv({v})"),
            Credentials::Command(c) => write!(f, "Command({c})"),
            Credentials::Inline { .. } => f.write_str("Inline(***)"),
        }
    }
}

/// One named connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    pub org_id: String,
    pub base_url: Option<String>,
    pub ingest_url: Option<String>,
    pub credentials: Credentials,
    /// The profile's state file (default: the usual `state/<org-id>.json`).
    pub state: Option<PathBuf>,
}

/// What a profile's credentials resolved to (values; never printed).
pub enum Resolved {
    Credentials { key: String, secret: String },
    Token(String),
}

impl Profile {
    /// Reads the credentials: the variables, the command's output, or the
    /// values of the file. Errors name variables, never values.
    pub fn credentials(&self) -> Result<Resolved, ProfileError> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        match &self.credentials {
            Credentials::Env { key, secret } => match (env(key), env(secret)) {
                (Some(k), Some(s)) => Ok(Resolved::Credentials { key: k, secret: s }),
                (k, s) => Err(ProfileError::MissingEnv {
                    profile: self.name.clone(),
                    missing: [(k.is_none(), key), (s.is_none(), secret)]
                        .into_iter()
                        .filter(|(gone, _)| *gone)
                        .map(|(_, n)| format!("${n}"))
                        .collect(),
                }),
            },
            Credentials::TokenEnv(name) => {
                env(name)
                    .map(Resolved::Token)
                    .ok_or_else(|| ProfileError::MissingEnv {
                        profile: self.name.clone(),
                        missing: vec![format!("${name}")],
                    })
            }
            Credentials::Inline { key, secret } => Ok(Resolved::Credentials {
                key: key.clone(),
                secret: secret.clone(),
            }),
            Credentials::Command(command) => run_credentials_command(&self.name, command),
        }
    }

    /// The connection options this profile stands for, with the flags
    /// typed on the command line (`typed`: their clap ids) taking precedence
    /// over it, and nothing taken from the environment.
    pub fn connection(
        &self,
        given: &Connection,
        typed: &[&str],
    ) -> Result<Connection, ProfileError> {
        let flag = |id: &str, v: &Option<String>| {
            if typed.contains(&id) { v.clone() } else { None }
        };
        let mut c = Connection {
            local: false,
            profile: None,
            org_id: flag("org_id", &given.org_id).or_else(|| Some(self.org_id.clone())),
            api_key: flag("api_key", &given.api_key),
            api_secret: flag("api_secret", &given.api_secret),
            token: flag("token", &given.token),
            base_url: flag("base_url", &given.base_url).or_else(|| self.base_url.clone()),
            ingest_url: flag("ingest_url", &given.ingest_url).or_else(|| self.ingest_url.clone()),
            rate_limit: given.rate_limit,
        };
        let typed_credentials =
            c.token.is_some() || (c.api_key.is_some() && c.api_secret.is_some());
        if !typed_credentials {
            match self.credentials()? {
                Resolved::Credentials { key, secret } => {
                    c.api_key = Some(key);
                    c.api_secret = Some(secret);
                }
                Resolved::Token(t) => c.token = Some(t),
            }
        }
        Ok(c)
    }
}

/// Runs a `credentialsCommand`. Its stderr goes to the user's terminal; its
/// stdout is never repeated in an error, as it may hold a secret.
fn run_credentials_command(profile: &str, command: &str) -> Result<Resolved, ProfileError> {
    let fail = |problem: String| ProfileError::Command {
        profile: profile.to_string(),
        command: command.to_string(),
        problem,
    };
    let out = std::process::Command::new("sh")
        .args(["-c", command])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| fail(format!("cannot be run: {e}")))?;
    if !out.status.success() {
        return Err(fail(format!("failed ({})", out.status)));
    }
    let shape = r#"print a JSON object {"apiKey": "…", "apiSecret": "…"} or {"token": "…"}"#;
    let v: Value = serde_json::from_slice(&out.stdout)
        .map_err(|_| fail(format!("did not print JSON: it must {shape}")))?;
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    match (text("apiKey"), text("apiSecret"), text("token")) {
        (Some(key), Some(secret), _) => Ok(Resolved::Credentials { key, secret }),
        (None, None, Some(t)) => Ok(Resolved::Token(t)),
        _ => Err(fail(format!(
            "printed JSON of another shape: it must {shape}"
        ))),
    }
}

/// The connection options of profile `name` alone (`compare`, `promote`:
/// no flag or variable of the invocation applies to either side).
pub fn connection_of(name: &str) -> Connection {
    Connection {
        profile: Some(name.to_string()),
        ..Connection::default()
    }
}

/// The clap ids of the connection flags typed on the command line (of the
/// innermost subcommand): they beat a profile; values that came from the
/// environment do not.
pub fn typed_flags(matches: &clap::ArgMatches) -> Vec<&'static str> {
    let mut m = matches;
    while let Some((_, sub)) = m.subcommand() {
        m = sub;
    }
    [
        "org_id",
        "api_key",
        "api_secret",
        "token",
        "base_url",
        "ingest_url",
    ]
    .into_iter()
    .filter(|id| {
        matches!(m.try_get_raw(id), Ok(Some(_)))
            && m.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
    })
    .collect()
}

/// The profiles file: `$M3TER_CONFIG`, else `~/.config/m3ter/profiles.yaml`.
pub fn config_path() -> Result<PathBuf, ProfileError> {
    if let Some(p) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or(ProfileError::NoHome)?;
    Ok(Path::new(&home).join(".config/m3ter/profiles.yaml"))
}

/// The profile `name` of the profiles file.
pub fn find(name: &str) -> Result<Profile, ProfileError> {
    let path = config_path()?;
    let mut all = read(&path)?;
    all.remove(name).ok_or_else(|| {
        let names: Vec<&str> = all.keys().map(String::as_str).collect();
        let known = if names.is_empty() {
            "it has no profiles".to_string()
        } else {
            let hint = did_you_mean(name, names.iter().copied())
                .map_or_else(String::new, |h| format!("; {h}"));
            format!("the profiles are: {}{hint}", names.join(", "))
        };
        ProfileError::Unknown {
            name: name.to_string(),
            file: path,
            known,
        }
    })
}

/// Every profile of the file at `path`, checked.
pub fn read(path: &Path) -> Result<BTreeMap<String, Profile>, ProfileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let at = |pos: Pos, message: String| ProfileError::At {
        file: path.to_path_buf(),
        pos,
        message,
    };
    let docs = parse_documents(&text).map_err(|e| {
        at(
            e.pos.unwrap_or(Pos { line: 1, column: 1 }),
            format!("invalid YAML: {}", e.message),
        )
    })?;
    let mut out = BTreeMap::new();
    let Some(doc) = docs.into_iter().next() else {
        return Ok(out);
    };
    let Node::Map(top) = doc.value else {
        return Err(at(
            doc.pos,
            "the profiles file must be a mapping with a `profiles:` key".into(),
        ));
    };
    for (key, value) in top {
        if key.value != "profiles" {
            return Err(at(
                key.pos,
                format!(
                    "unknown top-level key `{}`: the file holds `profiles:`",
                    key.value
                ),
            ));
        }
        match value.value {
            Node::Null => {}
            Node::Map(entries) => {
                for (name, body) in entries {
                    let p = profile(path, &name, body)?;
                    out.insert(name.value, p);
                }
            }
            other => {
                return Err(at(
                    value.pos,
                    format!(
                        "`profiles` must map names to profiles, found {}",
                        other.describe()
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// The fields a profile may hold (camelCase, as in the issue's example).
const FIELDS: [&str; 11] = [
    "orgId",
    "baseUrl",
    "ingestUrl",
    "apiKeyEnv",
    "apiSecretEnv",
    "tokenEnv",
    "credentialsCommand",
    "apiKey",
    "apiSecret",
    "state",
    "description",
];

fn profile(file: &Path, name: &At<String>, body: At<Node>) -> Result<Profile, ProfileError> {
    let at = |pos: Pos, message: String| ProfileError::At {
        file: file.to_path_buf(),
        pos,
        message: format!("profile `{}`: {message}", name.value),
    };
    let Node::Map(entries) = body.value else {
        return Err(at(
            body.pos,
            format!(
                "must be a mapping of fields, found {}",
                body.value.describe()
            ),
        ));
    };
    let mut fields: BTreeMap<&'static str, (Pos, String)> = BTreeMap::new();
    for (key, value) in entries {
        let Some(field) = FIELDS.iter().copied().find(|f| *f == key.value) else {
            let hint = did_you_mean(&key.value, FIELDS)
                .unwrap_or_else(|| format!("the fields are: {}", FIELDS.join(", ")));
            return Err(at(
                key.pos,
                format!("unknown field `{}`; {hint}", key.value),
            ));
        };
        let text = match value.value {
            Node::String(s) => s,
            Node::Number(n) => n.to_string(),
            other => {
                return Err(at(
                    value.pos,
                    format!("`{field}` must be a string, found {}", other.describe()),
                ));
            }
        };
        fields.insert(field, (value.pos, text));
    }
    let take = |f: &str| {
        fields
            .get(f)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let Some(org_id) = take("orgId") else {
        return Err(at(
            name.pos,
            "`orgId` is required (the organization's UUID)".into(),
        ));
    };
    let sources: Vec<(&str, bool)> = vec![
        (
            "apiKeyEnv/apiSecretEnv",
            take("apiKeyEnv").is_some() || take("apiSecretEnv").is_some(),
        ),
        ("tokenEnv", take("tokenEnv").is_some()),
        ("credentialsCommand", take("credentialsCommand").is_some()),
        (
            "apiKey/apiSecret",
            take("apiKey").is_some() || take("apiSecret").is_some(),
        ),
    ];
    // A secret in the file is refused wherever it is written, before any
    // other check could stop at a lesser problem.
    for field in ["apiSecret", "apiKey"] {
        if take(field).is_some() {
            check_private(file, &name.value, field)?;
            break;
        }
    }
    let given: Vec<&str> = sources
        .iter()
        .filter(|(_, on)| *on)
        .map(|(n, _)| *n)
        .collect();
    let credentials = match given.as_slice() {
        ["apiKeyEnv/apiSecretEnv"] => match (take("apiKeyEnv"), take("apiSecretEnv")) {
            (Some(key), Some(secret)) => Credentials::Env { key, secret },
            (k, _) => {
                let missing = if k.is_none() {
                    "apiKeyEnv"
                } else {
                    "apiSecretEnv"
                };
                return Err(at(
                    name.pos,
                    format!("`{missing}` is missing: give both apiKeyEnv and apiSecretEnv"),
                ));
            }
        },
        ["tokenEnv"] => Credentials::TokenEnv(take("tokenEnv").unwrap_or_default()),
        ["credentialsCommand"] => {
            Credentials::Command(take("credentialsCommand").unwrap_or_default())
        }
        ["apiKey/apiSecret"] => match (take("apiKey"), take("apiSecret")) {
            (Some(key), Some(secret)) => Credentials::Inline { key, secret },
            (k, _) => {
                let missing = if k.is_none() { "apiKey" } else { "apiSecret" };
                return Err(at(
                    name.pos,
                    format!("`{missing}` is missing: give both apiKey and apiSecret"),
                ));
            }
        },
        [] => {
            return Err(at(
                name.pos,
                "no credentials: give apiKeyEnv and apiSecretEnv (names of environment variables), tokenEnv, or credentialsCommand".into(),
            ));
        }
        several => {
            return Err(at(
                name.pos,
                format!(
                    "give only one source of credentials, not {}",
                    several.join(" and ")
                ),
            ));
        }
    };
    Ok(Profile {
        name: name.value.clone(),
        org_id,
        base_url: take("baseUrl"),
        ingest_url: take("ingestUrl"),
        credentials,
        state: take("state").map(PathBuf::from),
    })
}

/// Refuses a file holding a secret that its group or others can read.
#[cfg(unix)]
fn check_private(file: &Path, profile: &str, field: &'static str) -> Result<(), ProfileError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(file)
        .map_err(|source| ProfileError::Read {
            path: file.to_path_buf(),
            source,
        })?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(ProfileError::Readable {
            file: file.to_path_buf(),
            profile: profile.to_string(),
            field,
            mode,
        });
    }
    Ok(())
}

/// Other systems have no mode bits to check; the secret is accepted.
#[cfg(not(unix))]
fn check_private(_: &Path, _: &str, _: &'static str) -> Result<(), ProfileError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str, mode: u32) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("profiles.yaml");
        std::fs::write(&path, text).expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        }
        let _ = mode;
        (dir, path)
    }

    #[test]
    fn env_profiles_read_with_their_fields() {
        let (_d, path) = write(
            "profiles:\n  sandbox:\n    orgId: org-1\n    baseUrl: http://127.0.0.1:9\n    apiKeyEnv: K\n    apiSecretEnv: S\n",
            0o644,
        );
        let all = read(&path).expect("reads");
        let p = &all["sandbox"];
        assert_eq!(p.org_id, "org-1");
        assert_eq!(p.base_url.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(
            p.credentials,
            Credentials::Env {
                key: "K".into(),
                secret: "S".into()
            }
        );
    }

    #[test]
    fn an_unknown_field_is_named_with_its_place_and_a_suggestion() {
        let (_d, path) = write("profiles:\n  a:\n    orgId: o\n    apiKeyEnvv: K\n", 0o600);
        let err = read(&path).expect_err("refused").to_string();
        assert!(err.contains("profiles.yaml:4:5"), "{err}");
        assert!(
            err.contains("`apiKeyEnvv`") && err.contains("apiKeyEnv"),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_secret_needs_mode_0600() {
        let text = "profiles:\n  a:\n    orgId: o\n    apiKey: k\n    apiSecret: hunter2\n";
        let (_d, path) = write(text, 0o644);
        let err = read(&path).expect_err("refused").to_string();
        assert!(err.contains("chmod 600") && err.contains("0644"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let (_d, path) = write(text, 0o600);
        assert!(matches!(
            read(&path).expect("accepted")["a"].credentials,
            Credentials::Inline { .. }
        ));
    }

    #[test]
    fn missing_variables_are_named_not_valued() {
        let p = Profile {
            name: "a".into(),
            org_id: "o".into(),
            base_url: None,
            ingest_url: None,
            credentials: Credentials::Env {
                key: "M3TER_TEST_PROFILE_UNSET_KEY".into(),
                secret: "M3TER_TEST_PROFILE_UNSET_SECRET".into(),
            },
            state: None,
        };
        let Err(err) = p.credentials() else {
            panic!("resolved unset variables");
        };
        let err = err.to_string();
        assert!(err.contains("$M3TER_TEST_PROFILE_UNSET_KEY and $M3TER_TEST_PROFILE_UNSET_SECRET, which are not set"), "{err}");
    }

    #[test]
    fn a_credentials_command_prints_json() {
        let p = |cmd: &str| Profile {
            name: "a".into(),
            org_id: "o".into(),
            base_url: None,
            ingest_url: None,
            credentials: Credentials::Command(cmd.into()),
            state: None,
        };
        match p(r#"echo '{"apiKey": "k", "apiSecret": "s"}'"#).credentials() {
            Ok(Resolved::Credentials { key, secret }) => {
                assert_eq!((key.as_str(), secret.as_str()), ("k", "s"))
            }
            _ => panic!("not credentials"),
        }
        // What it printed may be a secret: the error must not repeat it.
        let Err(err) = p("printf 'xy%s' zzy").credentials() else {
            panic!("accepted non-JSON");
        };
        let err = err.to_string();
        assert!(
            err.contains("did not print JSON") && !err.contains("xyzzy"),
            "{err}"
        );
        assert!(p("exit 3").credentials().is_err());
    }
}
