//! `m3ter import ADDR ID`: adopt an existing live entity into state.

use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::address::Address;
use crate::cli::session::Session;
use crate::cli::{Global, connect, hint};
use crate::state::{ResourceState, StateStore};

/// Arguments of `import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub conn: crate::cli::Connection,
    /// Address in desired state, e.g. product.aws_lambda.
    pub address: String,
    /// Id of the live entity.
    pub id: String,
}

/// Reads the entity by id and records it in state as adopted, with its
/// live version. No managed fields yet (`applied` is empty): the next apply
/// records what desired state manages.
pub fn run(g: &Global, a: &ImportArgs) -> anyhow::Result<ExitCode> {
    let addr: Address = a.address.parse()?;
    connect::runtime()?.block_on(async {
        let session = Session::open(g, &a.conn).await?;
        let result = import(g, a, &addr, &session).await;
        session.close().await?;
        result
    })
}

async fn import(
    g: &Global,
    a: &ImportArgs,
    addr: &Address,
    session: &Session,
) -> anyhow::Result<ExitCode> {
    let addr = addr.clone();
    let settings = &session.settings;
    let mut store = StateStore::open(
        &settings.state_path,
        &settings.org_id,
        &settings.base_url,
        true,
    )?;
    if let Some(r) = store.state().resources.get(&addr) {
        bail!(
            "{addr} is already in state (id {}); run `{}` first to import another entity there",
            r.id,
            hint::command(g, &["state", "rm", &addr.to_string()])
        );
    }
    if let Some((other, _)) = store
        .state()
        .resources
        .iter()
        .find(|(o, r)| o.kind == addr.kind && r.id == a.id)
    {
        bail!("{} {} is already in state as {other}", addr.kind, a.id);
    }
    let live = session
        .client
        .get(addr.kind, &a.id)
        .await
        .map_err(|e| {
            if e.is_not_found() {
                anyhow::anyhow!(
                    "no {} with id {} in org {}",
                    addr.kind,
                    a.id,
                    settings.org_id
                )
            } else {
                anyhow::Error::new(e)
            }
        })
        .with_context(|| format!("cannot import {addr}"))?;
    let id = live
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or(&a.id)
        .to_string();
    let version = live.get("version").and_then(Value::as_i64).unwrap_or(0);
    if addr.kind.has_identity_code()
        && let Some(code) = live.get("code").and_then(Value::as_str)
        && code != addr.key
    {
        tracing::warn!(
            "{addr}: the live entity's code is `{code}`; the next plan will change it to `{}`",
            addr.key
        );
    }
    store.state_mut().resources.insert(
        addr.clone(),
        ResourceState {
            id: id.clone(),
            version,
            depends_on: desired_dependencies(g, &addr),
            adopted: true,
            applied: Default::default(),
        },
    );
    store.commit()?;
    if g.json {
        crate::cli::output::emit(&format!(
            "{}",
            serde_json::json!({"address": addr, "id": id, "version": version})
        ));
    } else {
        crate::cli::output::emit(&format!("Imported {addr} (id {id}, version {version})."));
    }
    Ok(ExitCode::SUCCESS)
}

/// What the entity depends on in the desired state, when `--dir` loads and
/// holds it (so a later delete of it is ordered right); else nothing.
fn desired_dependencies(g: &Global, addr: &Address) -> Vec<Address> {
    crate::cli::commands::validate::load_checked(g)
        .ok()
        .and_then(|(desired, _)| {
            desired
                .entities
                .get(addr)
                .map(|e| e.dependencies().cloned().collect())
        })
        .unwrap_or_default()
}
