//! Suggested commands in hints and errors ("make a new one with `m3ter plan
//! -o p.json`"), completed with the flags of this invocation so that they
//! can be copied and run as they are.
//!
//! The convention: any code in the crate names a command bare and in
//! backticks ("run `m3ter force-unlock`"). A library error cannot know how
//! the process was started, and need not: the CLI completes every such
//! command when it reports a message ([`complete`], used by
//! `output::report_error` for every error), or builds one itself
//! ([`command`]). Both go through one renderer, the only place that decides
//! which flags a suggestion repeats:
//!
//! - the flags that pick the org, the state file and the desired state, as
//!   typed on the command line: `--local`, `--profile`, `--org-id`, `--base-url`,
//!   `--workspace`, `--state`, `--dir`, `--var`; values that came from the
//!   environment are left out (they are still set where the hint is run);
//! - never credentials: `--api-key`, `--api-secret` and `--token` are not
//!   even recorded;
//! - only flags the suggested command accepts (read from the clap
//!   definition), and `--dir`/`--var` only for commands that read the
//!   desired state;
//! - values shell-quoted when they need it.

use std::borrow::Cow;
use std::collections::BTreeSet;

use clap::ArgMatches;
use clap::parser::ValueSource;

use super::Global;

/// What a suggested command repeats: (clap id, long flag, takes a value),
/// in the order they are rendered.
const REPEATED: [(&str, &str, bool); 9] = [
    ("local", "--local", false),
    ("profile", "--profile", true),
    ("org_id", "--org-id", true),
    ("base_url", "--base-url", true),
    ("workspace", "--workspace", true),
    ("state", "--state", true),
    ("dir", "--dir", true),
    ("vars", "--var", true),
    ("var_files", "--var-file", true),
];

/// Commands that read `--dir` with `--var`; other commands accept them
/// (they are global options) but would ignore them.
const READS_DESIRED_STATE: [&str; 6] = ["validate", "plan", "apply", "destroy", "import", "graph"];

/// The flags of this invocation that suggested commands repeat (see the
/// module docs). Holds no secret by construction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation {
    flags: Vec<(&'static str, Option<String>)>,
}

impl Invocation {
    /// Reads the repeated flags from parsed arguments: those of the
    /// innermost subcommand, which include the global options wherever they
    /// were typed.
    pub fn from_matches(matches: &ArgMatches) -> Invocation {
        let mut m = matches;
        while let Some((_, sub)) = m.subcommand() {
            m = sub;
        }
        let mut flags = Vec::new();
        for (id, flag, takes_value) in REPEATED {
            // `try_get_raw` first: it checks that the command defines the
            // id (`emulator` does not define the global options, but clap
            // still copies their defaults into its matches).
            let typed = matches!(m.try_get_raw(id), Ok(Some(_)))
                && m.value_source(id) == Some(ValueSource::CommandLine);
            if !typed {
                continue;
            }
            if takes_value {
                for v in m.get_raw(id).into_iter().flatten() {
                    flags.push((flag, Some(v.to_string_lossy().into_owned())));
                }
            } else {
                flags.push((flag, None));
            }
        }
        Invocation { flags }
    }
}

/// `m3ter ARGS...` with ARGS shell-quoted, completed with this invocation's
/// flags: a command to show the user (put it in backticks).
pub fn command(g: &Global, args: &[&str]) -> String {
    let mut text = String::from("m3ter");
    for a in args {
        text.push(' ');
        text.push_str(&quote(a));
    }
    render(&g.invocation, &text)
}

/// Completes every `` `m3ter ...` `` in `text` with this invocation's flags
/// (a message from anywhere in the crate, about to be shown).
pub fn complete(g: &Global, text: &str) -> String {
    complete_with(&g.invocation, text)
}

fn complete_with(inv: &Invocation, text: &str) -> String {
    if inv.flags.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(start) = rest.find("`m3ter") {
        let inside = &rest[start + 1..];
        let Some(len) = inside.find('`') else {
            break;
        };
        let span = &inside[..len];
        out.push_str(&rest[..=start]);
        if span == "m3ter" || span.starts_with("m3ter ") {
            out.push_str(&render(inv, span));
        } else {
            out.push_str(span);
        }
        out.push('`');
        rest = &inside[len + 1..];
    }
    out.push_str(rest);
    out
}

/// The one renderer: `suggestion` (`m3ter <command> [args]`, already
/// quoted) plus the flags its command accepts and does not already have.
fn render(inv: &Invocation, suggestion: &str) -> String {
    let words: Vec<&str> = suggestion.split_whitespace().skip(1).collect();
    let Some(accepted) = accepted_flags(&words) else {
        return suggestion.to_string();
    };
    let mut out = suggestion.trim_end().to_string();
    for (flag, value) in &inv.flags {
        let already = words
            .iter()
            .any(|w| w == flag || w.strip_prefix(flag).is_some_and(|r| r.starts_with('=')));
        // A `--var` that set a sensitive variable is never repeated: the
        // message would show the secret.
        let secret = value
            .as_deref()
            .and_then(|v| v.split_once('='))
            .is_some_and(|(_, v)| crate::sensitive::is_held(v));
        if already || secret || !accepted.contains(*flag) {
            continue;
        }
        out.push(' ');
        out.push_str(flag);
        if let Some(v) = value {
            out.push(' ');
            out.push_str(&quote(v));
        }
    }
    out
}

/// The long flags (`--local`) the command named by `words` accepts and a
/// suggestion of it should repeat; `None` when no command is named.
fn accepted_flags(words: &[&str]) -> Option<BTreeSet<String>> {
    let root = super::command();
    let mut cmd = &root;
    let mut top = None;
    for w in words {
        let Some(sc) = cmd.find_subcommand(w) else {
            break;
        };
        top.get_or_insert_with(|| sc.get_name().to_string());
        cmd = sc;
    }
    let top = top?;
    let reads_desired = READS_DESIRED_STATE.contains(&top.as_str());
    Some(
        cmd.get_arguments()
            .filter_map(|a| a.get_long())
            .map(|l| format!("--{l}"))
            .filter(|l| reads_desired || (l != "--dir" && l != "--var" && l != "--var-file"))
            .collect(),
    )
}

/// `s` as one shell word: as is when it holds only characters no shell
/// treats specially, else in single quotes.
pub(crate) fn quote(s: &str) -> Cow<'_, str> {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(format!("'{}'", s.replace('\'', r"'\''")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invocation(args: &[&str]) -> Invocation {
        let m = crate::cli::command()
            .try_get_matches_from(args)
            .expect("parses");
        Invocation::from_matches(&m)
    }

    #[test]
    fn typed_flags_are_repeated_and_credentials_never() {
        let inv = invocation(&[
            "m3ter",
            "plan",
            "--org-id",
            "org-1",
            "--api-key",
            "k3y",
            "--api-secret",
            "s3cr3t",
            "--token",
            "t0ken",
            "--state",
            "s.json",
            "--var",
            "suffix_title=API 7",
            "-o",
            "p.json",
        ]);
        let text = complete_with(&inv, "apply it with `m3ter apply p.json`.");
        assert_eq!(
            text,
            "apply it with `m3ter apply p.json --org-id org-1 --state s.json --var 'suffix_title=API 7'`."
        );
        for secret in ["k3y", "s3cr3t", "t0ken"] {
            assert!(!format!("{inv:?}").contains(secret));
        }
    }

    #[test]
    fn a_typed_profile_is_repeated() {
        let inv = invocation(&["m3ter", "plan", "--profile", "prod"]);
        assert_eq!(
            complete_with(&inv, "run `m3ter apply p.json`"),
            "run `m3ter apply p.json --profile prod`"
        );
    }

    #[test]
    fn global_flags_before_the_command_count_too() {
        let inv = invocation(&["m3ter", "--state", "x y.json", "state", "rm", "product.p"]);
        assert_eq!(
            complete_with(&inv, "`m3ter state list` shows what is"),
            "`m3ter state list --state 'x y.json'` shows what is"
        );
    }

    #[test]
    fn only_flags_the_suggested_command_takes() {
        let inv = invocation(&["m3ter", "plan", "--local", "-d", "d", "--workspace", "w1"]);
        // force-unlock takes --local and --workspace but reads no desired state.
        assert_eq!(
            complete_with(&inv, "run `m3ter force-unlock` (lock)"),
            "run `m3ter force-unlock --local --workspace w1` (lock)"
        );
        // `validate` does not connect: no --local.
        assert_eq!(
            complete_with(&inv, "`m3ter validate`"),
            "`m3ter validate --workspace w1 --dir d`"
        );
        // Flags already in the suggestion are not repeated; text without a
        // command is left alone.
        assert_eq!(
            complete_with(&inv, "`m3ter plan --local` or `code`"),
            "`m3ter plan --local --workspace w1 --dir d` or `code`"
        );
    }

    #[test]
    fn defaults_are_not_repeated() {
        // `--dir` has a default value: not typed, so not repeated.
        let inv = invocation(&["m3ter", "plan"]);
        assert_eq!(inv, Invocation::default());
        assert_eq!(complete_with(&inv, "`m3ter plan`"), "`m3ter plan`");
    }

    #[test]
    fn the_emulator_has_none_of_them() {
        let inv = invocation(&["m3ter", "emulator", "--listen", "127.0.0.1:0"]);
        assert_eq!(inv, Invocation::default());
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("product.p"), "product.p");
        assert_eq!(quote("pricing.a/b@2024-12-01"), "pricing.a/b@2024-12-01");
        assert_eq!(
            quote(r#"account["Mickey Mouse"]"#),
            r#"'account["Mickey Mouse"]'"#
        );
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }
}
