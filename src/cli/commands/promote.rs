//! `m3ter promote --from A --to B`: plans B to match A's configuration and
//! applies it (or saves the plan for `m3ter apply FILE --profile B`).
//!
//! A's live org, read as desired state ([`crate::compare::configuration`]),
//! is planned against B's live org and B's state (the state file of B's
//! profile): entities B has under the same address are adopted or updated,
//! missing ones created, and entities B's state manages that A no longer
//! has are deleted. Entities of B that B's state does not manage are never
//! touched, as everywhere; fields B sets and A leaves unset are kept.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::address::Address;
use crate::cli::converge::{How, apply_checked, confirm, open_locked, read_org};
use crate::cli::session::Session;
use crate::cli::{Global, connect, hint, output, profile, render};
use crate::compare::{self, ACCOUNT_LEVEL, Scope};
use crate::graph::Graph;
use crate::live::LiveSnapshot;
use crate::pipeline;
use crate::state::{State, StateStore};
use m3ter_api::Kind;

/// Arguments of `promote`.
#[derive(Debug, clap::Args)]
pub struct PromoteArgs {
    /// Profile of the org whose configuration is promoted.
    #[arg(long, value_name = "PROFILE")]
    pub from: String,
    /// Profile of the org changed to match it.
    #[arg(long, value_name = "PROFILE")]
    pub to: String,
    /// Only these kinds (and what they depend on); repeatable, e.g.
    /// `--kind pricing` or `--kind pricings`.
    #[arg(long = "kind", value_name = "KIND")]
    pub kinds: Vec<String>,
    /// Also promote accounts, account plans and what refers to them.
    #[arg(long)]
    pub include_accounts: bool,
    /// Save the plan to FILE instead of applying it; apply it with
    /// `m3ter apply FILE --profile TO`.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// Apply even when updates plus deletes exceed 30% of managed entities.
    #[arg(long)]
    pub force: bool,
    /// Operations run at once.
    #[arg(long, default_value_t = 8)]
    pub parallelism: usize,
}

/// Runs the command.
pub fn run(g: &Global, a: &PromoteArgs) -> anyhow::Result<ExitCode> {
    let kinds = kinds(&a.kinds, a.include_accounts)?;
    connect::runtime()?.block_on(async {
        let from = Session::open(g, &profile::connection_of(&a.from)).await?;
        let to = Session::open(g, &profile::connection_of(&a.to)).await?;
        let result = promote(g, a, &kinds, &from, &to).await;
        from.close().await?;
        to.close().await?;
        result
    })
}

async fn promote(
    g: &Global,
    a: &PromoteArgs,
    kinds: &BTreeSet<Kind>,
    from: &Session,
    to: &Session,
) -> anyhow::Result<ExitCode> {
    // Before anything is read: the same org under two names would "promote"
    // an org onto itself, deleting nothing useful and adopting everything.
    if from.settings.org_id == to.settings.org_id {
        bail!(
            "profiles `{}` and `{}` are the same org ({}): promotion is between two orgs",
            a.from,
            a.to,
            from.settings.org_id
        );
    }
    // Applying: B's state is locked for the whole run, before B is read.
    let mut locked = match a.out {
        None => Some(open_locked(to)?),
        Some(_) => None,
    };
    let (source, target) = tokio::join!(read_org(from), read_org(to));
    let source = source.with_context(|| format!("profile `{}`", a.from))?;
    let target = target.with_context(|| format!("profile `{}`", a.to))?;
    let unlocked;
    let state: &State = match &locked {
        Some(store) => store.state(),
        None => {
            let s = &to.settings;
            unlocked = StateStore::open(&s.state_path, &s.org_id, &s.base_url, false)?;
            unlocked.state()
        }
    };
    let scope = Scope {
        include_accounts: a.include_accounts,
    };
    let config = compare::configuration(&source, scope, &format!("profile `{}`", a.from))?;
    for why in &config.skipped {
        eprintln!("warning: profile `{}`: not promoted: {why}", a.from);
    }
    let desired = config.desired;
    let graph = Graph::build(&desired).map_err(|e| {
        let diags: crate::desired::Diagnostics = e.into();
        let first = diags.iter().next().map(ToString::to_string);
        anyhow::anyhow!(
            "the configuration of profile `{}` cannot be ordered: {}",
            a.from,
            first.unwrap_or_default()
        )
    })?;
    let targets = scope_targets(&desired, &graph, state, &target, kinds, a);
    let plan = pipeline::plan((desired, graph), state, &target, targets, false, false)?;
    if !g.json {
        output::emit(&format!(
            "Promoting {} (org {}) to {} (org {}).\n",
            a.from, from.settings.org_id, a.to, to.settings.org_id
        ));
    }
    render::plan(g, &plan);
    if let Some(out) = &a.out {
        plan.save(out)
            .with_context(|| format!("cannot save the plan to {}", out.display()))?;
        if !g.json {
            let apply = hint::command(g, &["apply", &out.to_string_lossy(), "--profile", &a.to]);
            output::emit(&format!(
                "\nSaved the plan to {}. Apply exactly it with `{apply}`.",
                out.display()
            ));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(store) = locked.as_mut() else {
        bail!(
            "internal error: promote without -o holds no lock on the state of `{}`",
            a.to
        );
    };
    if !plan.changes.is_empty() && !a.auto_approve {
        confirm(false)?;
    }
    let how = How {
        auto_approve: a.auto_approve,
        force: a.force,
        parallelism: a.parallelism,
    };
    let report = apply_checked(g, to, store, &plan, &target, &how).await?;
    Ok(if report.complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The kinds promoted: those given (by address name or section), else all;
/// account-level kinds only with `--include-accounts`.
fn kinds(given: &[String], include_accounts: bool) -> anyhow::Result<BTreeSet<Kind>> {
    let all = || {
        Kind::ALL
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = BTreeSet::new();
    for g in given {
        let Some(kind) = Kind::from_name(g).or_else(|| Kind::from_section(g)) else {
            bail!("--kind {g}: not a kind; the kinds are: {}", all());
        };
        if ACCOUNT_LEVEL.contains(&kind) && !include_accounts {
            bail!("--kind {g}: {kind} is account-level: add --include-accounts to promote it");
        }
        out.insert(kind);
    }
    if out.is_empty() {
        out = Kind::ALL
            .into_iter()
            .filter(|k| include_accounts || !ACCOUNT_LEVEL.contains(k))
            .collect();
    }
    Ok(out)
}

/// What the plan may touch: A's entities of the promoted kinds with what
/// they depend on, and B's managed entities of those kinds (deletes), less
/// B's account-level ones unless asked. `None`: everything.
fn scope_targets(
    desired: &crate::desired::DesiredState,
    graph: &Graph,
    state: &State,
    target: &LiveSnapshot,
    kinds: &BTreeSet<Kind>,
    a: &PromoteArgs,
) -> Option<BTreeSet<Address>> {
    if a.include_accounts && a.kinds.is_empty() {
        return None;
    }
    let kept_in_b: BTreeSet<(Kind, String)> = if a.include_accounts {
        BTreeSet::new()
    } else {
        let (kept, _) = compare::without_account_level(target);
        Kind::ALL
            .into_iter()
            .flat_map(|k| {
                kept.of(k).iter().filter_map(move |e| {
                    e.get("id")
                        .and_then(Value::as_str)
                        .map(|id| (k, id.to_string()))
                })
            })
            .collect()
    };
    let in_b_scope = |addr: &Address, id: &str| {
        // An entity gone from B's live org is only forgotten: in scope.
        a.include_accounts
            || kept_in_b.contains(&(addr.kind, id.to_string()))
            || target.by_id(addr.kind, id).is_none()
    };
    let wanted: Vec<&Address> = desired
        .entities
        .keys()
        .filter(|addr| kinds.contains(&addr.kind))
        .collect();
    let mut scope = graph.closure(wanted);
    scope.extend(
        state
            .resources
            .iter()
            .filter(|(addr, rs)| kinds.contains(&addr.kind) && in_b_scope(addr, &rs.id))
            .map(|(addr, _)| addr.clone()),
    );
    Some(scope)
}
