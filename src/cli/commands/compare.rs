//! `m3ter compare --from A --to B`: what differs between two live orgs,
//! named by profile, by address: only in A, only in B, and field-level
//! differences. Read-only: reads both orgs and no state file.

use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::cli::session::Session;
use crate::cli::{Global, connect, output, profile};
use crate::compare::{self, Comparison, Configuration, Scope};
use crate::live::refresh;

/// How `compare` prints its result (`--json` is the global flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Lines for a terminal.
    #[default]
    Text,
    /// GitHub-flavoured markdown, for a pull request or a job summary.
    Markdown,
}

/// Arguments of `compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Profile of the first org (the reference).
    #[arg(long, value_name = "PROFILE")]
    pub from: String,
    /// Profile of the second org.
    #[arg(long, value_name = "PROFILE")]
    pub to: String,
    /// Output format (or --json).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Exit 0 when the orgs match, 2 when they differ, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Also compare accounts, account plans and what refers to them.
    #[arg(long)]
    pub include_accounts: bool,
}

/// One side of the comparison, for the output.
struct Side<'a> {
    profile: &'a str,
    org_id: String,
    config: Configuration,
}

/// Runs the command.
pub fn run(g: &Global, a: &CompareArgs) -> anyhow::Result<ExitCode> {
    if g.json && a.format != Format::Text {
        bail!("give --json or --format markdown, not both");
    }
    let scope = Scope {
        include_accounts: a.include_accounts,
    };
    let (from, to) = connect::runtime()?.block_on(async {
        let (x, y) = tokio::join!(read(g, &a.from, scope), read(g, &a.to, scope));
        Ok::<_, anyhow::Error>((x?, y?))
    })?;
    for side in [&from, &to] {
        for why in &side.config.skipped {
            eprintln!("warning: profile `{}`: not compared: {why}", side.profile);
        }
    }
    let c = compare::compare(&from.config.desired, &to.config.desired);
    let text = if g.json {
        json_output(&from, &to, &c).to_string()
    } else if a.format == Format::Markdown {
        markdown(&from, &to, &c)
    } else {
        human(&from, &to, &c)
    };
    output::emit(text.strip_suffix('\n').unwrap_or(&text));
    Ok(if a.detailed_exitcode && !c.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Reads the org of a profile as desired state.
async fn read<'a>(g: &Global, name: &'a str, scope: Scope) -> anyhow::Result<Side<'a>> {
    let session = Session::open(g, &profile::connection_of(name)).await?;
    let live = refresh(&session.client)
        .await
        .with_context(|| format!("cannot read the org of profile `{name}`"));
    let org_id = session.settings.org_id.clone();
    session.close().await?;
    let config = compare::configuration(&live?, scope, &format!("profile `{name}`"))?;
    Ok(Side {
        profile: name,
        org_id,
        config,
    })
}

fn value_text(v: &Option<Value>) -> String {
    match v {
        None => "(not set)".to_string(),
        Some(v) => v.to_string(),
    }
}

fn counts(from: &Side, to: &Side, c: &Comparison) -> String {
    format!(
        "{} only in {}, {} only in {}, {} different, {} the same",
        c.only_in_from.len(),
        from.profile,
        c.only_in_to.len(),
        to.profile,
        c.different.len(),
        c.same
    )
}

fn human(from: &Side, to: &Side, c: &Comparison) -> String {
    let mut out = format!(
        "Comparing {} (org {}) with {} (org {}).\n",
        from.profile, from.org_id, to.profile, to.org_id
    );
    if c.is_empty() {
        out.push_str(&format!(
            "\nNo differences: both hold the same {} entities.\n",
            c.same
        ));
        return out;
    }
    let mut list = |title: String, sign: char, addrs: &[crate::address::Address]| {
        if addrs.is_empty() {
            return;
        }
        out.push_str(&format!("\n{title} ({}):\n", addrs.len()));
        for a in addrs {
            out.push_str(&format!("  {sign} {a}\n"));
        }
    };
    list(format!("Only in {}", from.profile), '<', &c.only_in_from);
    list(format!("Only in {}", to.profile), '>', &c.only_in_to);
    if !c.different.is_empty() {
        out.push_str(&format!("\nDifferent ({}):\n", c.different.len()));
        for d in &c.different {
            out.push_str(&format!("  ~ {}\n", d.address));
            for f in &d.fields {
                out.push_str(&format!(
                    "      {}: {} ({}) → {} ({})\n",
                    f.field,
                    value_text(&f.from),
                    from.profile,
                    value_text(&f.to),
                    to.profile
                ));
            }
        }
    }
    out.push_str(&format!("\nThe orgs differ: {}.\n", counts(from, to, c)));
    out
}

fn json_output(from: &Side, to: &Side, c: &Comparison) -> Value {
    let side =
        |s: &Side| json!({"profile": s.profile, "orgId": s.org_id, "excluded": s.config.excluded});
    let addrs = |v: &[crate::address::Address]| -> Vec<String> {
        v.iter().map(ToString::to_string).collect()
    };
    json!({
        "from": side(from),
        "to": side(to),
        "equal": c.is_empty(),
        "onlyInFrom": addrs(&c.only_in_from),
        "onlyInTo": addrs(&c.only_in_to),
        "different": c.different.iter().map(|d| json!({
            "address": d.address.to_string(),
            "fields": d.fields.iter().map(|f| json!({"field": f.field, "from": f.from, "to": f.to})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "same": c.same,
    })
}

/// Text safe inside a markdown table cell or inline code: no `|` column
/// break, no backtick, no HTML, no newline.
fn md(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('`', "'")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace(['\r', '\n'], " ")
}

fn markdown(from: &Side, to: &Side, c: &Comparison) -> String {
    let mut out = format!(
        "### Compare `{}` → `{}`\n\n",
        md(from.profile),
        md(to.profile)
    );
    if c.is_empty() {
        out.push_str(&format!(
            "No differences: both hold the same {} entities.\n",
            c.same
        ));
        return out;
    }
    out.push_str(&format!("{}.\n\n", md(&counts(from, to, c))));
    out.push_str(&format!(
        "| | Address | Field | {} | {} |\n|---|---|---|---|---|\n",
        md(from.profile),
        md(to.profile)
    ));
    for a in &c.only_in_from {
        out.push_str(&format!(
            "| only in {} | `{}` | | | |\n",
            md(from.profile),
            md(&a.to_string())
        ));
    }
    for a in &c.only_in_to {
        out.push_str(&format!(
            "| only in {} | `{}` | | | |\n",
            md(to.profile),
            md(&a.to_string())
        ));
    }
    for d in &c.different {
        for f in &d.fields {
            out.push_str(&format!(
                "| different | `{}` | `{}` | {} | {} |\n",
                md(&d.address.to_string()),
                md(&f.field),
                md(&value_text(&f.from)),
                md(&value_text(&f.to))
            ));
        }
    }
    out
}
