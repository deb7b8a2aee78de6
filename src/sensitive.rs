//! Sensitive values (README "Secrets"), in one place.
//!
//! A kind's table entry lists the paths of its secrets
//! ([`m3ter_api::KindSpec::sensitive`], e.g. `credentials.secret`). Their
//! values travel through the tool as *markers*, never as themselves:
//!
//! - loading ([`take`]) checks that the YAML writes the value as
//!   `${var.NAME}` of a variable declared `{sensitive: true}` or as
//!   `${env.NAME}`, keeps the value in this process's vault, and writes the
//!   marker `(sensitive:SOURCE)` in its place;
//! - planning ([`seal`]) adds an HMAC-SHA256 of the value keyed by the
//!   state's lineage (the salt, random per state and stored in it):
//!   `(sensitive:env.NAME:HASH)`. That is what plans, plan files and the
//!   state's last-applied fields hold: enough to notice that the secret
//!   changed, nothing to recover it from;
//! - the client puts the value on the wire ([`unseal`]) at the last moment,
//!   after everything that logs has seen the marker, and reads every
//!   response with the secrets replaced by [`SHOWN`] ([`hide_live`]): what
//!   the API returns for them is never kept;
//! - a live value is [`SHOWN`] (unknown), so it equals any desired one; the
//!   secret the org has is taken to be the one last applied, as state
//!   records it ([`as_last_applied`]). Adoption and import therefore take
//!   the desired secret as the live one, and a changed secret is one update;
//! - every output renders markers as [`SHOWN`] ([`shown`]), and server
//!   messages are scrubbed of vault values ([`scrub`]).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use serde_json::{Map, Value};

use m3ter_api::Kind;

use crate::address::Address;
use crate::desired::diagnostic::{Diagnostic, Diagnostics};
use crate::desired::node::{At, Node};
use crate::desired::vars::{ENV_PREFIX, VarInputs, Variables, is_name};
use crate::desired::{DesiredEntity, DesiredState};

/// How a secret is shown everywhere, and what a live one reads as.
pub const SHOWN: &str = "(sensitive)";
const PREFIX: &str = "(sensitive:";

/// The values of the secrets this process has read, by source
/// (`env.NAME`, `var.NAME`). Only [`unseal`] hands them out.
static VAULT: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());

fn vault() -> std::sync::MutexGuard<'static, BTreeMap<String, String>> {
    VAULT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Why a secret cannot be sent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SensitiveError {
    /// The source of a secret is not set in this run.
    #[error("{address}: `{path}` comes from `{from}`, which is not set; {hint}")]
    NotSet {
        address: Address,
        path: String,
        from: String,
        hint: String,
    },
    /// The secret differs from the one the plan was made with.
    #[error(
        "{address}: the value of `{from}` (`{path}`) changed since the plan was made; make a new plan with `m3ter plan -o FILE`"
    )]
    Changed {
        address: Address,
        path: String,
        from: String,
    },
    /// A body holds a secret this run has no value for (one the API never
    /// returned, say, under `lifecycle.ignoreChanges`).
    #[error(
        "`{path}` of this {kind} is sensitive and its value is not known to this run: write it in desired state"
    )]
    Unknown { kind: Kind, path: String },
}

/// `(sensitive…)`: a marker, or [`SHOWN`].
fn is_marker(s: &str) -> bool {
    (s.starts_with(PREFIX) || s == SHOWN) && s.ends_with(')')
}

/// The source and hash of a marker (`None` for [`SHOWN`] or a plain string).
fn parse_marker(s: &str) -> Option<(&str, Option<&str>)> {
    let inner = s.strip_prefix(PREFIX)?.strip_suffix(')')?;
    Some(match inner.rsplit_once(':') {
        Some((src, hash)) => (src, Some(hash)),
        None => (inner, None),
    })
}

/// Whether `v` is a live secret: [`SHOWN`], equal to any desired value.
pub fn is_unknown(v: &Value) -> bool {
    v.as_str() == Some(SHOWN)
}

fn get_path<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |at, part| at.get(part))
}

/// The value at `path` when every object above it exists.
fn slot<'a>(v: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    let (parent, last) = match path.rsplit_once('.') {
        Some((p, l)) => (Some(p), l),
        None => (None, path),
    };
    let mut at = v;
    if let Some(parent) = parent {
        for part in parent.split('.') {
            at = at.get_mut(part)?;
        }
    }
    let obj = at.as_object_mut()?;
    Some(obj.entry(last).or_insert(Value::Null))
}

fn paths(kind: Kind) -> &'static [&'static str] {
    kind.sensitive_paths()
}

/// Loading: checks each secret of an entity node as written, keeps its
/// value in the vault and puts its marker in its place, before variables
/// are substituted (which refuses sensitive variables anywhere else).
pub(crate) fn take(
    kind: Kind,
    file: &Path,
    node: &mut At<Node>,
    vars: &Variables,
    diags: &mut Diagnostics,
) {
    for path in paths(kind) {
        let Some(leaf) = node_at(node, path) else {
            continue;
        };
        match read_source(kind, path, &leaf.value, vars) {
            Ok((source, value)) => {
                vault().insert(source.clone(), value);
                leaf.value = Node::String(format!("{PREFIX}{source})"));
            }
            Err((message, hint)) => {
                diags.push(Diagnostic::at(file, leaf.pos, message).with_hint(hint));
                // Reported once, and never repeated by a later check.
                leaf.value = Node::String(SHOWN.to_string());
            }
        }
    }
}

fn node_at<'a>(node: &'a mut At<Node>, path: &str) -> Option<&'a mut At<Node>> {
    path.split('.')
        .try_fold(node, |at, part| match &mut at.value {
            Node::Map(entries) => entries
                .iter_mut()
                .find(|(k, _)| k.value == part)
                .map(|(_, v)| v),
            _ => None,
        })
}

const HOW: &str = "write `${env.NAME}`, or `${var.NAME}` of a variable declared `NAME: {sensitive: true}` under `variables:`";

/// The source and value of a secret as written, or the error and its fix.
/// Messages never include what was written: it may be the secret.
fn read_source(
    kind: Kind,
    path: &str,
    written: &Node,
    vars: &Variables,
) -> Result<(String, String), (String, String)> {
    let literal = || {
        (
            format!(
                "`{path}` of a {kind} is sensitive: a literal secret in YAML is refused (its value is not shown here)"
            ),
            HOW.to_string(),
        )
    };
    let Node::String(s) = written else {
        return Err(literal());
    };
    let Some(inner) = s.strip_prefix("${").and_then(|r| r.strip_suffix('}')) else {
        return Err(literal());
    };
    if let Some(name) = inner.strip_prefix("env.").filter(|n| is_name(n)) {
        return match std::env::var(name) {
            Ok(v) if !v.is_empty() => Ok((format!("env.{name}"), v)),
            Ok(_) => Err((
                format!("environment variable `{name}` (for sensitive `{path}`) is empty"),
                format!("set {name} to the secret before running m3ter"),
            )),
            Err(_) => Err((
                format!("environment variable `{name}` (for sensitive `{path}`) is not set"),
                format!("export {name}=… before running m3ter; its value is never shown"),
            )),
        };
    }
    if let Some(name) = inner.strip_prefix("var.").filter(|n| is_name(n)) {
        return match vars.secret(name) {
            Ok(v) if !v.is_empty() => Ok((format!("var.{name}"), v)),
            Ok(_) => Err((
                format!("sensitive variable `{name}` (for `{path}`) is empty"),
                format!("set it with {ENV_PREFIX}{name} or `--var {name}=…`"),
            )),
            Err(e) if e.message.starts_with("undefined") => Err((
                e.message,
                format!("declare it `{name}: {{sensitive: true}}` under `variables:`"),
            )),
            Err(e) => Err((e.message, e.hint.unwrap_or_else(|| HOW.to_string()))),
        };
    }
    Err(literal())
}

/// HMAC-SHA256 of `value` keyed by `salt`, hex, 128 bits.
fn digest(salt: &str, value: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, salt.as_bytes());
    let tag = ring::hmac::sign(&key, value.as_bytes());
    tag.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Planning: gives every marker of the desired state its hash, keyed by
/// `salt` (the state's lineage), so that plans and state can tell a changed
/// secret from an unchanged one.
pub fn seal(desired: &mut DesiredState, salt: &str) {
    let vault = vault();
    for entity in desired.entities.values_mut() {
        for_each_marker(entity, |leaf| {
            let Some((source, None)) = leaf.as_str().and_then(parse_marker) else {
                return;
            };
            if let Some(value) = vault.get(source) {
                *leaf = Value::String(format!("{PREFIX}{source}:{})", digest(salt, value)));
            }
        });
    }
}

fn for_each_marker(entity: &mut DesiredEntity, mut f: impl FnMut(&mut Value)) {
    let kind = entity.address.kind;
    for path in paths(kind) {
        let (top, rest) = path.split_once('.').unwrap_or((path, ""));
        let Some(v) = entity.fields.get_mut(top) else {
            continue;
        };
        let leaf = if rest.is_empty() {
            Some(v)
        } else {
            rest.split('.').try_fold(v, |at, part| at.get_mut(part))
        };
        if let Some(leaf) = leaf {
            f(leaf);
        }
    }
}

/// `apply PLANFILE`: reads every secret of the plan's desired state again
/// from its source (`${env.NAME}`, or `M3TER_VAR_NAME` / `--var NAME=…`
/// for a sensitive variable) and checks it against the plan's hash, keyed
/// by `salt` (the plan's lineage), before any request.
pub fn reload(desired: &DesiredState, salt: &str, vars: &VarInputs) -> Result<(), SensitiveError> {
    let mut found = Vec::new();
    for entity in desired.entities.values() {
        for path in paths(entity.address.kind) {
            let (top, rest) = path.split_once('.').unwrap_or((path, ""));
            let leaf = entity.fields.get(top).and_then(|v| {
                if rest.is_empty() {
                    Some(v)
                } else {
                    get_path(v, rest)
                }
            });
            if let Some((source, Some(hash))) = leaf.and_then(Value::as_str).and_then(parse_marker)
            {
                found.push((&entity.address, *path, source.to_string(), hash.to_string()));
            }
        }
    }
    for (address, path, source, hash) in found {
        let Some(value) = source_value(&source, vars) else {
            let hint = match source.split_once('.') {
                Some(("env", name)) => {
                    format!("export {name}=… (the value the plan was made with)")
                }
                Some((_, name)) => format!(
                    "set it with {ENV_PREFIX}{name}=… or `--var {name}=…` (the value the plan was made with)"
                ),
                None => String::new(),
            };
            return Err(SensitiveError::NotSet {
                address: address.clone(),
                path: path.to_string(),
                from: source,
                hint,
            });
        };
        // Held before the check, so that even the refusal's message (and
        // the command it suggests) is scrubbed of it.
        let matches = digest(salt, &value) == hash;
        vault().insert(source.clone(), value);
        if !matches {
            return Err(SensitiveError::Changed {
                address: address.clone(),
                path: path.to_string(),
                from: source,
            });
        }
    }
    Ok(())
}

fn source_value(source: &str, vars: &VarInputs) -> Option<String> {
    let value = match source.split_once('.')? {
        ("env", name) => std::env::var(name).ok(),
        ("var", name) => vars
            .cli
            .iter()
            .rev()
            .find_map(|o| o.strip_prefix(name)?.strip_prefix('=').map(str::to_string))
            .or_else(|| std::env::var(format!("{ENV_PREFIX}{name}")).ok()),
        _ => None,
    };
    value.filter(|v| !v.is_empty())
}

/// The wire: `body` with each marker at a secret's path of `kind` replaced
/// by the value. Only the client calls this, right before sending.
pub fn unseal(kind: Kind, body: &Map<String, Value>) -> Result<Map<String, Value>, SensitiveError> {
    if paths(kind).is_empty() {
        return Ok(body.clone());
    }
    let mut out = Value::Object(body.clone());
    let vault = vault();
    for path in paths(kind) {
        let Some(leaf) = get_path(&out, path).and_then(Value::as_str) else {
            continue;
        };
        if !is_marker(leaf) {
            continue;
        }
        let value = parse_marker(leaf)
            .and_then(|(source, _)| vault.get(source))
            .cloned()
            .ok_or_else(|| SensitiveError::Unknown {
                kind,
                path: path.to_string(),
            })?;
        if let Some(slot) = slot(&mut out, path) {
            *slot = Value::String(value);
        }
    }
    match out {
        Value::Object(map) => Ok(map),
        _ => unreachable!("an object stays an object"),
    }
}

/// A response: each secret of `kind` that the API returned (its parent
/// object present) reads [`SHOWN`], and so does each write-only field (which
/// it never returns). What the API sent for a secret is dropped.
pub fn hide_live(kind: Kind, v: &mut Value) {
    if let Some(obj) = v.as_object_mut().filter(|o| o.contains_key("id")) {
        for field in kind.write_only() {
            obj.insert((*field).to_string(), Value::String(SHOWN.to_string()));
        }
    }
    for path in paths(kind) {
        let parent_present = match path.rsplit_once('.') {
            Some((parent, _)) => get_path(v, parent).is_some_and(Value::is_object),
            None => v.is_object(),
        };
        if parent_present && let Some(slot) = slot(v, path) {
            *slot = Value::String(SHOWN.to_string());
        }
    }
}

/// The live entity as the plan compares it: each secret is the one state
/// last applied (`applied`), the only knowledge of it there is; with none
/// (an adoption) it stays [`SHOWN`], which equals any desired value.
pub fn as_last_applied<'a>(
    kind: Kind,
    live: &'a Value,
    applied: Option<&Map<String, Value>>,
) -> Cow<'a, Value> {
    let Some(applied) =
        applied.filter(|_| !paths(kind).is_empty() || !kind.write_only().is_empty())
    else {
        return Cow::Borrowed(live);
    };
    let mut out = live.clone();
    for field in kind.write_only() {
        if let (Some(was), Some(obj)) = (applied.get(*field), out.as_object_mut()) {
            obj.insert((*field).to_string(), was.clone());
        }
    }
    let applied = Value::Object(applied.clone());
    for path in paths(kind) {
        let was = get_path(&applied, path).filter(|w| w.as_str().is_some_and(is_marker));
        if let (Some(was), Some(slot)) = (was, get_path(live, path).and(slot(&mut out, path))) {
            *slot = was.clone();
        }
    }
    Cow::Owned(out)
}

/// How a diff shows a secret whose hash differs from the last applied one.
pub const CHANGED: &str = "(sensitive, changed)";

/// A diff of top-level `field` as shown: in `shown_after`, each secret
/// whose marker differs between `before` and `after` reads [`CHANGED`]
/// (both sides would otherwise read the same).
pub fn mark_changed(
    kind: Kind,
    field: &str,
    before: &Value,
    after: &Value,
    shown_after: &mut Value,
) {
    for path in paths(kind) {
        let Some(rest) = path.strip_prefix(field).and_then(|r| r.strip_prefix('.')) else {
            continue;
        };
        let (b, a) = (get_path(before, rest), get_path(after, rest));
        if b != a
            && a.is_some()
            && let Some(slot) = slot(shown_after, rest)
        {
            *slot = Value::String(CHANGED.to_string());
        }
    }
}

/// What state must record of an entity adopted by `m3ter import`, which
/// manages no field yet: its secrets' markers and its write-only fields,
/// the only record there is of them (else a later change of one would go
/// unnoticed). `None` when the kind has neither.
pub fn unreturned(entity: &DesiredEntity) -> Option<Map<String, Value>> {
    let kind = entity.address.kind;
    let fields = Value::Object(entity.fields.clone());
    let mut out = Value::Object(Map::new());
    for field in kind.write_only() {
        if let Some(v) = entity.fields.get(*field) {
            put_path(&mut out, field, v.clone());
        }
    }
    for path in paths(kind) {
        if let Some(v) = get_path(&fields, path) {
            put_path(&mut out, path, v.clone());
        }
    }
    let Value::Object(out) = out else {
        return None;
    };
    (!out.is_empty()).then_some(out)
}

/// Sets `path` in `v`, creating the objects above it.
fn put_path(v: &mut Value, path: &str, value: Value) {
    let Some(obj) = v.as_object_mut() else {
        return;
    };
    match path.split_once('.') {
        None => {
            obj.insert(path.to_string(), value);
        }
        Some((head, rest)) => {
            let child = obj
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            put_path(child, rest, value);
        }
    }
}

/// `v` as outputs show it: every marker is [`SHOWN`].
pub fn shown(v: &Value) -> Value {
    let mut out = v.clone();
    redact(&mut out);
    out
}

/// Replaces every marker in `v` by [`SHOWN`].
pub fn redact(v: &mut Value) {
    match v {
        Value::String(s) if is_marker(s) => *s = SHOWN.to_string(),
        Value::Array(items) => items.iter_mut().for_each(redact),
        Value::Object(map) => map.values_mut().for_each(redact),
        _ => {}
    }
}

/// `text` with every secret value this process holds replaced by
/// [`SHOWN`]: for messages that come from elsewhere (a server echoing a
/// body).
pub fn scrub(text: &str) -> Cow<'_, str> {
    let vault = vault();
    let hits: Vec<&String> = vault
        .values()
        .filter(|v| text.contains(v.as_str()))
        .collect();
    if hits.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for v in hits {
        out = out.replace(v.as_str(), SHOWN);
    }
    Cow::Owned(out)
}

/// Whether `value` is a secret this process holds (a `--var` to leave out
/// of a suggested command).
pub fn is_held(value: &str) -> bool {
    vault().values().any(|v| v == value)
}

/// `export`: writes `${env.NAME}` at each secret of `kind` in `v` (the API
/// never returns them) and returns the names, one per secret:
/// `<KIND>_<KEY>_<PATH>` in upper case (`WEBHOOK_ORDERS_CREDENTIALS_SECRET`).
pub fn placeholders(address: &Address, v: &mut Value) -> Vec<String> {
    let mut names = Vec::new();
    for path in paths(address.kind) {
        let parent_present = match path.rsplit_once('.') {
            Some((parent, _)) => get_path(v, parent).is_some_and(Value::is_object),
            None => true,
        };
        if !parent_present {
            continue;
        }
        let name = env_name(&format!("{}_{}_{}", address.kind.name(), address.key, path));
        if let Some(slot) = slot(v, path) {
            *slot = Value::String(format!("${{env.{name}}}"));
            names.push(name);
        }
    }
    names
}

fn env_name(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut prev_lower = false;
    for c in raw.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            out.push('_');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        });
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn markers_parse_and_show() {
        assert_eq!(parse_marker("(sensitive:env.X)"), Some(("env.X", None)));
        assert_eq!(
            parse_marker("(sensitive:var.y:ab12)"),
            Some(("var.y", Some("ab12")))
        );
        assert_eq!(parse_marker(SHOWN), None);
        let mut v = json!({"a": ["(sensitive:env.X:00)", "plain"], "b": SHOWN});
        redact(&mut v);
        assert_eq!(v, json!({"a": [SHOWN, "plain"], "b": SHOWN}));
    }

    #[test]
    fn digests_depend_on_salt_and_value() {
        assert_eq!(digest("s", "v"), digest("s", "v"));
        assert_ne!(digest("s", "v"), digest("t", "v"));
        assert_ne!(digest("s", "v"), digest("s", "w"));
        assert_eq!(digest("s", "v").len(), 32);
    }

    #[test]
    fn live_secrets_are_hidden_and_replaced_by_the_last_applied() {
        let mut live =
            json!({"url": "u", "credentials": {"type": "T", "apiKey": "k", "secret": "********"}});
        hide_live(Kind::Webhook, &mut live);
        assert_eq!(
            live["credentials"],
            json!({"type": "T", "apiKey": SHOWN, "secret": SHOWN})
        );
        let applied = json!({"credentials": {"type": "T", "apiKey": "(sensitive:env.K:01)", "secret": "(sensitive:env.S:02)"}});
        let known = as_last_applied(Kind::Webhook, &live, applied.as_object());
        assert_eq!(known["credentials"]["secret"], "(sensitive:env.S:02)");
        assert_eq!(known["url"], "u");
        let adopted = as_last_applied(Kind::Webhook, &live, None);
        assert!(is_unknown(&adopted["credentials"]["apiKey"]));
    }

    #[test]
    fn server_messages_are_scrubbed_of_held_secrets() {
        vault().insert("env.SCRUB_TEST".into(), "s3cr3t-scrub-value".into());
        assert_eq!(
            scrub("bad body {\"secret\": \"s3cr3t-scrub-value\"}"),
            "bad body {\"secret\": \"(sensitive)\"}"
        );
        assert!(matches!(scrub("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn unsealing_puts_the_value_at_the_path_only() {
        vault().insert("env.UNSEAL_TEST".into(), "wire-value".into());
        let body = json!({"name": "(sensitive:env.UNSEAL_TEST:00)",
                          "credentials": {"type": "T", "secret": "(sensitive:env.UNSEAL_TEST:00)"}});
        let sent = unseal(Kind::Webhook, body.as_object().unwrap()).unwrap();
        assert_eq!(sent["credentials"]["secret"], "wire-value");
        assert_eq!(
            sent["name"], "(sensitive:env.UNSEAL_TEST:00)",
            "not a sensitive path"
        );
        let unknown = json!({"credentials": {"secret": SHOWN}});
        assert!(unseal(Kind::Webhook, unknown.as_object().unwrap()).is_err());
    }

    #[test]
    fn export_names() {
        assert_eq!(
            env_name("webhook_orders-hook_credentials.apiKey"),
            "WEBHOOK_ORDERS_HOOK_CREDENTIALS_API_KEY"
        );
    }
}
