//! Logging set-up and error reporting shared by all commands.

use super::{Global, hint};

/// Logs go to stderr; `-v`/`-q` and RUST_LOG choose the level.
pub fn init_logging(g: &Global) {
    let default = match (g.quiet, g.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Prints a fatal error: one line (with its causes) on stderr, or with
/// `--json` the document `{"error": {"message", "address"?}}` on stdout.
/// Commands it suggests get the flags of this invocation ([`hint::complete`]).
pub fn report_error(err: &anyhow::Error, g: &Global) {
    let message = hint::complete(g, &format!("{err:#}"));
    if !g.json {
        eprintln!("error: {message}");
        return;
    }
    let mut body = serde_json::Map::new();
    body.insert("message".into(), message.into());
    if let Some(address) = err
        .downcast_ref::<crate::plan::PlanError>()
        .or_else(|| {
            err.downcast_ref::<crate::pipeline::PipelineError>()
                .and_then(crate::pipeline::PipelineError::as_plan_error)
        })
        .and_then(plan_error_address)
    {
        body.insert("address".into(), address.to_string().into());
    }
    emit(&serde_json::json!({ "error": body }).to_string());
}

fn plan_error_address(e: &crate::plan::PlanError) -> Option<&crate::address::Address> {
    use crate::plan::PlanError;
    match e {
        PlanError::AmbiguousImport { address, .. }
        | PlanError::PreventDestroy { address, .. }
        | PlanError::AddsAndRemovesUsed { address, .. } => Some(address),
        PlanError::UnknownReference { from, .. } | PlanError::MovedOntoManaged { from, .. } => {
            Some(from)
        }
        PlanError::Cycle(_) => None,
    }
}

/// Whether human output may use colors.
pub fn use_color(g: &Global) -> bool {
    use std::io::IsTerminal;
    !g.no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
}

/// Writes a line to stdout, ignoring write errors: a reader that went away
/// (`m3ter apply | head`) must neither panic the process nor stop an apply
/// half-way with calls in flight.
pub fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
}
