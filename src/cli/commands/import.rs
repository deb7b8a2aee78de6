//! `m3ter import ADDR ID`: adopt an existing live entity into state.

use std::process::ExitCode;

use anyhow::bail;

use crate::address::Address;
use crate::cli::session::Session;
use crate::cli::{Global, connect, hint, render};
use crate::pipeline::{self, PipelineError};
use crate::state::StateStore;

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
    let settings = &session.settings;
    let mut store = StateStore::open(
        &settings.state_path,
        &settings.org_id,
        &settings.base_url,
        true,
    )?;
    // What the entity depends on in the desired state, when `--dir` loads
    // and holds it (so a later delete of it is ordered right).
    let desired = render::load(g).ok().map(|(desired, _)| desired);
    let imported = match pipeline::import(addr, &a.id, &session.client, &mut store, desired).await {
        Err(PipelineError::AlreadyInState { address, id }) => bail!(
            "{address} is already in state (id {id}); run `{}` first to import another entity there",
            hint::command(g, &["state", "rm", &address.to_string()])
        ),
        other => other?,
    };
    if let Some(code) = &imported.other_code {
        tracing::warn!(
            "{addr}: the live entity's code is `{code}`; the next plan will change it to `{}`",
            addr.key
        );
    }
    let (id, version) = (imported.id, imported.version);
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
