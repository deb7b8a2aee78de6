//! `m3ter state list|show|rm|pull|push` and `m3ter force-unlock`. They
//! touch only the state (a file, or an object in S3), so they need no org
//! credentials; it is found by the rule every command uses
//! (`connect::state_file`).

use std::process::ExitCode;

use anyhow::bail;

use crate::address::Address;
use crate::cli::{Global, StateLocation, connect};
use crate::state::{Location, StateError, StateStore, Unlocked, force_unlock_at};

/// `state` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum StateCommand {
    /// List the addresses in state.
    List(StateArgs),
    /// Show one entity's state: id, version, dependencies and the fields as last applied (JSON).
    Show(StateAddrArgs),
    /// Forget an entity (it is left alone in the org).
    Rm(StateAddrArgs),
    /// Manage an entity under another address (after its code changed in
    /// the YAML); nothing in the org changes.
    Mv(StateMvArgs),
    /// Print the state as JSON on stdout (`m3ter state pull > FILE`), e.g.
    /// from s3:// state.
    Pull(StateArgs),
    /// Replace the state with FILE (e.g. a pulled or rescued state); refused
    /// when its lineage differs or its serial is older, unless --force.
    Push(StatePushArgs),
}

/// Arguments of `state mv`.
#[derive(Debug, clap::Args)]
pub struct StateMvArgs {
    #[command(flatten)]
    pub loc: StateLocation,
    /// The address in state now, e.g. product.old_code.
    pub from: String,
    /// The new address, of the same kind and not in state, e.g. product.new_code.
    pub to: String,
}

/// Arguments of `state push`.
#[derive(Debug, clap::Args)]
pub struct StatePushArgs {
    #[command(flatten)]
    pub loc: StateLocation,
    /// A state file, e.g. written by `m3ter state pull > FILE`.
    pub file: std::path::PathBuf,
    /// Replace the state even when FILE has another lineage or an older
    /// serial (the state there is kept as its backup). Check first with
    /// `m3ter state pull`.
    #[arg(long)]
    pub force: bool,
}

/// Arguments of `state list`.
#[derive(Debug, clap::Args)]
pub struct StateArgs {
    #[command(flatten)]
    pub loc: StateLocation,
}

/// Arguments of `state show|rm`.
#[derive(Debug, clap::Args)]
pub struct StateAddrArgs {
    #[command(flatten)]
    pub loc: StateLocation,
    /// Address in state, e.g. product.aws_lambda_api_6 (see `state list`).
    pub address: String,
}

/// Arguments of `force-unlock`.
#[derive(Debug, clap::Args)]
pub struct ForceUnlockArgs {
    #[command(flatten)]
    pub loc: StateLocation,
    /// The lock id the "locked" error printed. Needed for s3:// state; for
    /// a local file, without it any stale lock is removed.
    pub lock_id: Option<String>,
}

/// Runs a `state` subcommand.
pub fn run(g: &Global, c: &StateCommand) -> anyhow::Result<ExitCode> {
    match c {
        StateCommand::List(a) => list(g, &a.loc),
        StateCommand::Show(a) => show(g, a),
        StateCommand::Rm(a) => rm(g, a),
        StateCommand::Mv(a) => mv(g, a),
        StateCommand::Pull(a) => pull(g, &a.loc),
        StateCommand::Push(a) => push(g, a),
    }
}

/// Opens the state file; `lock` for commands that write it.
fn open(g: &Global, loc: &StateLocation, lock: bool) -> anyhow::Result<StateStore> {
    let path = connect::state_path(g, loc)?;
    let store = StateStore::open_existing(&path, lock)?;
    // With an explicit --state and an org id, still refuse another org's file.
    if let Some(org) = loc.org_id.as_deref().filter(|o| !o.is_empty())
        && !loc.local
        && store.state().org_id != org
    {
        return Err(StateError::OtherOrg {
            path,
            file_org: store.state().org_id.clone(),
            org: org.to_string(),
        }
        .into());
    }
    Ok(store)
}

fn list(g: &Global, loc: &StateLocation) -> anyhow::Result<ExitCode> {
    let store = match open(g, loc, false) {
        Ok(s) => s,
        // No state yet: nothing is managed.
        Err(e) if matches!(e.downcast_ref(), Some(StateError::Missing { .. })) => {
            if g.json {
                crate::cli::output::emit("[]");
            }
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => return Err(e),
    };
    let addrs: Vec<&Address> = store.state().resources.keys().collect();
    if g.json {
        crate::cli::output::emit(&serde_json::to_string(&addrs)?.to_string());
    } else {
        for a in addrs {
            crate::cli::output::emit(&format!("{a}"));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show(g: &Global, a: &StateAddrArgs) -> anyhow::Result<ExitCode> {
    let addr: Address = a.address.parse()?;
    let store = open(g, &a.loc, false)?;
    let Some(res) = store.state().resources.get(&addr) else {
        bail!(not_in_state(&store, &addr));
    };
    let mut doc = serde_json::json!({ "address": addr });
    if let (Some(obj), serde_json::Value::Object(fields)) =
        (doc.as_object_mut(), serde_json::to_value(res)?)
    {
        obj.extend(fields);
    }
    crate::sensitive::redact(&mut doc);
    crate::cli::output::emit(&serde_json::to_string_pretty(&doc)?.to_string());
    Ok(ExitCode::SUCCESS)
}

fn rm(g: &Global, a: &StateAddrArgs) -> anyhow::Result<ExitCode> {
    let addr: Address = a.address.parse()?;
    let mut store = open(g, &a.loc, true)?;
    let Some(res) = store.state_mut().resources.remove(&addr) else {
        bail!(not_in_state(&store, &addr));
    };
    store.commit()?;
    if g.json {
        crate::cli::output::emit(&format!(
            "{}",
            serde_json::json!({"removed": addr, "id": res.id})
        ));
    } else {
        crate::cli::output::emit(&format!(
            "Removed {addr} (id {}) from state; the entity is left alone in the org.",
            res.id
        ));
    }
    Ok(ExitCode::SUCCESS)
}

fn mv(g: &Global, a: &StateMvArgs) -> anyhow::Result<ExitCode> {
    let from: Address = a.from.parse()?;
    let to: Address = a.to.parse()?;
    if from.kind != to.kind {
        bail!(
            "cannot move {from} to {to}: a move keeps the kind ({} is not {})",
            from.kind,
            to.kind
        );
    }
    let mut store = open(g, &a.loc, true)?;
    if let Some(other) = store.state().resources.get(&to) {
        bail!(
            "cannot move {from} to {to}: {to} is in state already (id {}); forget it first with `m3ter state rm {to}` if that is intended",
            other.id
        );
    }
    if !crate::plan::moved::rekey(store.state_mut(), &from, &to) {
        bail!(not_in_state(&store, &from));
    }
    let id = store.state().resources[&to].id.clone();
    store.commit()?;
    if g.json {
        crate::cli::output::emit(&format!(
            "{}",
            serde_json::json!({"moved": {"from": from, "to": to}, "id": id})
        ));
    } else {
        crate::cli::output::emit(&format!(
            "Moved {from} to {to} (id {id}) in state; nothing in the org changed."
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// "not in state", with the closest address when one is close.
fn not_in_state(store: &StateStore, addr: &Address) -> String {
    let wanted = addr.to_string();
    let closest = store
        .state()
        .resources
        .keys()
        .map(|k| (strsim::jaro_winkler(&wanted, &k.to_string()), k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match closest {
        Some((_, k)) => format!(
            "{addr} is not in state {}; did you mean {k}?",
            store.path().display()
        ),
        None => format!(
            "{addr} is not in state {}; `m3ter state list` shows what is",
            store.path().display()
        ),
    }
}

/// `state pull`: the state as stored, on stdout.
fn pull(g: &Global, loc: &StateLocation) -> anyhow::Result<ExitCode> {
    let store = open(g, loc, false)?;
    crate::cli::output::emit(&serde_json::to_string_pretty(store.state())?);
    Ok(ExitCode::SUCCESS)
}

/// `state push FILE`: FILE, checked as any state is, replaces the state.
fn push(g: &Global, a: &StatePushArgs) -> anyhow::Result<ExitCode> {
    let at = connect::state_path(g, &a.loc)?;
    let incoming = StateStore::open_existing(Location::file(a.file.clone()), false)?.into_state();
    if let Some(org) = a.loc.org_id.as_deref().filter(|o| !o.is_empty())
        && !a.loc.local
        && incoming.org_id != org
    {
        return Err(StateError::OtherOrg {
            path: Location::file(a.file.clone()),
            file_org: incoming.org_id,
            org: org.to_string(),
        }
        .into());
    }
    let mut store = StateStore::open_existing(&at, true).or_else(|e| match e {
        // Nothing there yet: the file becomes the first state.
        StateError::Missing { .. } => {
            StateStore::open(&at, &incoming.org_id, &incoming.base_url, true)
        }
        e => Err(e),
    })?;
    if store.existed() && store.state().org_id != incoming.org_id {
        bail!(
            "refusing to push {} (org {}) to {} (org {}): they are states of different orgs",
            a.file.display(),
            incoming.org_id,
            at,
            store.state().org_id
        );
    }
    let n = incoming.resources.len();
    let serial = store.push(&a.file, incoming, a.force)?;
    if g.json {
        crate::cli::output::emit(&format!(
            "{}",
            serde_json::json!({"pushed": a.file, "to": at.to_string(), "serial": serial, "resources": n})
        ));
    } else {
        crate::cli::output::emit(&format!(
            "Pushed {} to {at}: serial {serial}, {n} managed entities.",
            a.file.display()
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `force-unlock`.
pub fn force_unlock(g: &Global, a: &ForceUnlockArgs) -> anyhow::Result<ExitCode> {
    let path = connect::state_path(g, &a.loc)?;
    let id = a
        .lock_id
        .as_deref()
        .map(str::trim)
        .filter(|i| !i.is_empty());
    match force_unlock_at(&path, id)? {
        Unlocked::NotLocked => {
            crate::cli::output::emit(&format!("{} is not locked; nothing to do.", path.display()))
        }
        Unlocked::Removed(Some(h)) => crate::cli::output::emit(&format!(
            "Removed the lock of pid {} on host {} since {} ({}).",
            h.pid, h.host, h.since, h.command
        )),
        Unlocked::Removed(None) => {
            crate::cli::output::emit(&format!("Removed the lock file of {}.", path.display()))
        }
    }
    Ok(ExitCode::SUCCESS)
}
