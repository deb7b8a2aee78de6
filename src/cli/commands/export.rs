//! `m3ter export [--out DIR]`: write the live org as desired-state YAML, one
//! file per kind, ready for `validate`, `plan` (which then imports
//! everything) and version control.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::{Map, Value};

use crate::cli::session::Session;
use crate::cli::{Connection, Global, connect};
use crate::desired::export::export;
use crate::live::refresh;

/// Arguments of `export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub conn: Connection,
    /// Directory to write (created if missing; existing files of the same
    /// names are replaced). Default: `export`.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Runs the command.
pub fn run(g: &Global, a: &ExportArgs) -> anyhow::Result<ExitCode> {
    let live = connect::runtime()?.block_on(async {
        let session = Session::open(g, &a.conn).await?;
        let live = refresh(&session.client)
            .await
            .context("cannot read the org");
        session.close().await?;
        live
    })?;
    let exported = export(&live);
    let out = a.out.clone().unwrap_or_else(|| PathBuf::from("export"));
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut written = Vec::new();
    for (kind, entities) in &exported.sections {
        let mut doc = Map::new();
        doc.insert(
            kind.section().to_string(),
            crate::desired::export::section_value(*kind, entities),
        );
        let yaml = serde_saphyr::to_string(&Value::Object(doc))
            .with_context(|| format!("cannot write {} as YAML", kind.section()))?;
        let path = out.join(format!("{}.yaml", kind.section()));
        let mut header = "# Exported by `m3ter export` from the live org.\n".to_string();
        if let Some(names) = exported.secrets.get(kind) {
            header.push_str(
                "# Secrets are not exported (the API never returns them): set these\n# environment variables to them before `m3ter plan`:\n",
            );
            for name in names {
                header.push_str(&format!("#   {name}\n"));
            }
        }
        std::fs::write(&path, format!("{header}{yaml}"))
            .with_context(|| format!("cannot write {}", path.display()))?;
        written.push((path, entities.len()));
    }
    for why in &exported.skipped {
        eprintln!("warning: not exported: {why}");
    }
    let secrets: Vec<&String> = exported.secrets.values().flatten().collect();
    if !secrets.is_empty() {
        eprintln!(
            "note: secrets are exported as `${{env.NAME}}` placeholders; set these environment variables to them before `m3ter plan`: {}",
            secrets
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if g.json {
        let files: Vec<Value> = written
            .iter()
            .map(|(p, n)| serde_json::json!({"file": p.display().to_string(), "entities": n}))
            .collect();
        crate::cli::output::emit(&format!(
            "{}",
            serde_json::json!({"files": files, "skipped": exported.skipped, "secrets": secrets})
        ));
    } else {
        for (path, n) in &written {
            crate::cli::output::emit(&format!("wrote {} ({n} entities)", path.display()));
        }
        let total: usize = written.iter().map(|(_, n)| n).sum();
        crate::cli::output::emit(&format!("Exported {total} entities to {}.", out.display()));
    }
    Ok(ExitCode::SUCCESS)
}
