//! Logging set-up and error reporting shared by all commands.

use super::Global;

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

/// Prints a fatal error as one line (with its causes) on stderr.
pub fn report_error(err: &anyhow::Error) {
    eprintln!("error: {err:#}");
}

/// Whether human output may use colors.
pub fn use_color(g: &Global) -> bool {
    use std::io::IsTerminal;
    !g.no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
}
