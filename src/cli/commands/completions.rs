//! `m3ter completions SHELL`: the shell's completion script on stdout,
//! generated from the real command definition ([`crate::cli::command`]), so
//! it never lags behind the flags.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap_complete::Shell;

/// Arguments of `completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to write the script for.
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

/// The shells a script is generated for (a subset of clap_complete's, the
/// ones documented in the README).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

impl From<CompletionShell> for Shell {
    fn from(s: CompletionShell) -> Shell {
        match s {
            CompletionShell::Bash => Shell::Bash,
            CompletionShell::Zsh => Shell::Zsh,
            CompletionShell::Fish => Shell::Fish,
            CompletionShell::Powershell => Shell::PowerShell,
        }
    }
}

/// Runs the command.
pub fn run(a: &CompletionsArgs) -> anyhow::Result<ExitCode> {
    // `command()` swaps in an unbuilt `emulator` after building the rest;
    // the generators need every subcommand built (with its bin name).
    let mut cmd = crate::cli::command().mut_subcommand("emulator", |mut own| {
        own = own.bin_name("m3ter emulator");
        own.build();
        own
    });
    let mut script = Vec::new();
    clap_complete::generate(Shell::from(a.shell), &mut cmd, "m3ter", &mut script);
    let mut out = std::io::stdout().lock();
    match out.write_all(&script).and_then(|()| out.flush()) {
        // `m3ter completions bash | head` is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        other => other
            .map(|()| ExitCode::SUCCESS)
            .context("cannot write the completion script to stdout"),
    }
}
