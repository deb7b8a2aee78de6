//! A [`Plan`] as GitHub-flavoured markdown, for a pull-request comment or
//! `$GITHUB_STEP_SUMMARY`: a heading with the summary counts, a table of
//! the changes, each change's field-level before/after in a collapsible
//! `<details>` (the text plan's block, in a `diff` fence), the drift the
//! same way, and the warnings as alerts.
//!
//! Two rules shape the code:
//! - Values come from the desired state and the org, so anyone who can
//!   edit either controls them. Everything outside a code fence goes
//!   through [`escape`] (HTML entities for every character markdown or HTML
//!   would act on); a fence is made longer than any backtick run inside.
//! - GitHub refuses a comment over [`COMMENT_LIMIT`] characters. The
//!   output is built from whole pieces (one table row, one `<details>`
//!   block), so a cut can only fall between two of them, never inside a
//!   tag or a code span. Table rows go in first, for changes and drift,
//!   then details in the space left, and a note says what was left out.
//!
//! Pure: a string from a plan value.

use std::fmt::Write as _;

use super::{Action, Change, Drift, Plan, Reason, change_text, drift_text, yaml_name};

/// GitHub's limit on a comment body (and a good size for a job summary).
/// [`markdown`] counts bytes, which are never fewer than characters, so its
/// output always fits.
pub const COMMENT_LIMIT: usize = 65_536;

/// Room kept for the note on a cut plan (its longest form is far shorter).
const NOTE_RESERVE: usize = 600;

/// The plan as markdown, cut to fit [`COMMENT_LIMIT`].
pub fn markdown(plan: &Plan) -> String {
    markdown_within(plan, COMMENT_LIMIT)
}

/// The plan as markdown in at most `limit` bytes (when even the heading and
/// warnings do not fit, they are still written: there is nothing smaller).
pub fn markdown_within(plan: &Plan, limit: usize) -> String {
    let head = heading(plan);
    let warnings = warnings(plan);
    let changes = Section::changes(plan);
    let drift = Section::drift(plan);

    // Pass 1: table rows, changes first; pass 2: details, in the room left.
    // Each section keeps a prefix of its rows and of its details.
    let budget = limit.saturating_sub(NOTE_RESERVE);
    let mut used = head.len() + warnings.len();
    let mut full = true;
    let mut rows = [0usize; 2];
    let mut details = [0usize; 2];
    for (i, s) in [&changes, &drift].into_iter().enumerate() {
        for row in &s.rows {
            let cost = row.len() + if rows[i] == 0 { s.frame.len() } else { 0 };
            if !full || used + cost > budget {
                full = false;
                break;
            }
            used += cost;
            rows[i] += 1;
        }
    }
    for (i, s) in [&changes, &drift].into_iter().enumerate() {
        for d in &s.details {
            if !full || rows[i] == 0 || used + d.len() > budget {
                full = false;
                break;
            }
            used += d.len();
            details[i] += 1;
        }
    }
    let cut = !full
        || rows[0] < changes.rows.len()
        || rows[1] < drift.rows.len()
        || details[0] < changes.details.len()
        || details[1] < drift.details.len();

    let mut out = head;
    if cut {
        out.push_str(&cut_note(&changes, &drift, rows, details));
    }
    out.push_str(&warnings);
    for (i, s) in [&changes, &drift].into_iter().enumerate() {
        if rows[i] == 0 {
            continue;
        }
        out.push_str(&s.frame);
        for row in &s.rows[..rows[i]] {
            out.push_str(row);
        }
        out.push('\n');
        for d in &s.details[..details[i]] {
            out.push_str(d);
        }
    }
    out
}

/// `### Plan: 1 to import, …` (or the refresh-only / no-change heading),
/// and the `--target` line of a targeted plan.
fn heading(plan: &Plan) -> String {
    let mut out = String::new();
    let s = plan.summary();
    if plan.refresh_only {
        let n = plan.drift.len();
        if n == 0 {
            out.push_str("### Refresh-only plan: no changes\n\nThe org matches the state.\n");
        } else {
            let _ = writeln!(
                out,
                "### Refresh-only plan: {n} object{} changed outside m3ter-reconcile\n\nApplying it records {} in state; nothing in the org changes.",
                plural(n),
                if n == 1 { "it" } else { "them" }
            );
        }
    } else if plan.changes.is_empty() && plan.moved.is_empty() {
        let _ = writeln!(out, "### Plan: no changes\n\n{}", super::NO_CHANGES);
    } else {
        let moved = match plan.moved.len() {
            0 => String::new(),
            n => format!(", {n} moved"),
        };
        let _ = writeln!(
            out,
            "### {}: {} to import, {} to add, {} to change, {} to destroy{moved}",
            if plan.destroy { "Destroy plan" } else { "Plan" },
            s.import,
            s.add,
            s.change,
            s.destroy
        );
    }
    if let Some(targets) = &plan.targets {
        let list: Vec<String> = targets.iter().map(|t| code(&t.to_string())).collect();
        let _ = writeln!(out, "\nLimited to --target {}.", list.join(", "));
    }
    out.push('\n');
    out
}

/// One GitHub alert per warning.
fn warnings(plan: &Plan) -> String {
    plan.warnings
        .iter()
        .map(|w| format!("> [!WARNING]\n> {}\n\n", escape(&w.to_string())))
        .collect()
}

/// What a cut left out, and where the whole plan is.
fn cut_note(changes: &Section, drift: &Section, rows: [usize; 2], details: [usize; 2]) -> String {
    let mut parts = Vec::new();
    for (i, s) in [changes, drift].into_iter().enumerate() {
        let total = s.rows.len();
        let (noun, nouns) = s.noun;
        let name = |n: usize| if n == 1 { noun } else { nouns };
        if rows[i] < total {
            let n = total - rows[i];
            parts.push(format!(
                "{n} of {total} {} {} not listed",
                name(total),
                if n == 1 { "is" } else { "are" }
            ));
        }
        // Rows without details: listed, but their before/after is not here.
        let bare = rows[i].min(s.details.len()).saturating_sub(details[i]);
        if bare > 0 {
            parts.push(format!(
                "the details of {bare} listed {} are left out",
                name(bare)
            ));
        }
    }
    format!(
        "> [!NOTE]\n> This plan is cut to fit GitHub's 65,536-character limit: {}. The saved plan (the workflow's plan artifact) has all of it: `m3ter show PLANFILE`.\n\n",
        parts.join("; ")
    )
}

/// A table with its heading, its rows and the details under it.
struct Section {
    /// The heading and the table's header rows (written with the first row).
    frame: String,
    /// One `| … |` line each.
    rows: Vec<String>,
    /// One `<details>` block per row that has one (a prefix of the rows).
    details: Vec<String>,
    /// How the note counts rows: singular and plural.
    noun: (&'static str, &'static str),
}

impl Section {
    fn changes(plan: &Plan) -> Section {
        let mut rows: Vec<String> = plan.changes.iter().map(change_row).collect();
        rows.extend(plan.moved.iter().map(|m| {
            format!(
                "| moved | {} | {} |\n",
                code(&m.to.to_string()),
                escape(&format!(
                    "moved from {} in state; the live entity is kept",
                    m.from
                ))
            )
        }));
        rows.extend(plan.forget.iter().map(|f| {
            format!(
                "| forget | {} | {} |\n",
                code(&f.address.to_string()),
                escape(&format!("{}; dropped from state", f.why()))
            )
        }));
        Section {
            frame: "#### Changes\n\n| Action | Address | Changed fields |\n| --- | --- | --- |\n"
                .into(),
            rows,
            details: plan
                .changes
                .iter()
                .map(|c| details(&c.address.to_string(), verb(c), &change_text(c)))
                .collect(),
            noun: ("change", "changes"),
        }
    }

    fn drift(plan: &Plan) -> Section {
        Section {
            frame: "#### Objects changed outside m3ter-reconcile\n\n| Address | Changed outside |\n| --- | --- |\n"
                .into(),
            rows: plan.drift.iter().map(drift_row).collect(),
            details: plan
                .drift
                .iter()
                .map(|d| {
                    let what = match d.after {
                        Some(_) => "has changed",
                        None => "has been deleted",
                    };
                    details(&d.address.to_string(), what, &drift_text(d))
                })
                .collect(),
            noun: ("drifted object", "drifted objects"),
        }
    }
}

/// The action cell: the word, and why when the plan says.
fn action_cell(c: &Change) -> String {
    let word = if c.import_with_changes() {
        "import, update"
    } else {
        c.action.as_str()
    };
    let why = match (c.action, c.reason, c.adopted) {
        (Action::Create, Some(Reason::DeletedOutside), _) => " (deleted outside)",
        (Action::Delete, Some(Reason::RemovedFromDesired), _) => " (no longer desired)",
        (Action::Replace, Some(Reason::ReplaceRequested), _) => " (--replace)",
        (Action::Delete, _, true) | (Action::Replace, _, true) => " (adopted)",
        _ => "",
    };
    format!("{word}{why}")
}

/// `| action | address | fields |`: the fields by their desired-state
/// names, with the ones forcing a replacement and the resets marked.
fn change_row(c: &Change) -> String {
    let kind = c.address.kind;
    let mut fields: Vec<String> = c
        .diff
        .iter()
        .map(|d| {
            let name = code(&yaml_name(kind, &d.field));
            if d.forces_replacement {
                format!("{name} (forces replacement)")
            } else {
                name
            }
        })
        .collect();
    fields.extend(
        c.resets
            .iter()
            .map(|r| format!("{} (reset)", code(&yaml_name(kind, r)))),
    );
    let cell = match c.action {
        _ if !fields.is_empty() => fields.join(", "),
        Action::Create => "(new)".into(),
        Action::Delete => "(deleted)".into(),
        Action::Import => "(adopted as it is)".into(),
        Action::Update | Action::Replace => String::new(),
    };
    format!(
        "| {} | {} | {cell} |\n",
        action_cell(c),
        code(&c.address.to_string())
    )
}

fn drift_row(d: &Drift) -> String {
    let kind = d.address.kind;
    let cell = match d.after {
        None => format!("deleted (id {})", code(&d.id)),
        Some(_) => d
            .before
            .keys()
            .map(|k| code(&yaml_name(kind, k)))
            .collect::<Vec<_>>()
            .join(", "),
    };
    format!("| {} | {cell} |\n", code(&d.address.to_string()))
}

/// What the details' summary says a change does.
fn verb(c: &Change) -> &'static str {
    match c.action {
        Action::Create => "will be created",
        Action::Update => "will be updated in-place",
        Action::Replace => "must be replaced",
        Action::Delete => "will be destroyed",
        Action::Import if c.import_with_changes() => "will be imported and updated in-place",
        Action::Import => "will be imported",
    }
}

/// A collapsible block: the address and what happens in the summary, the
/// text plan's block for it in a `diff` fence.
fn details(address: &str, what: &str, text: &str) -> String {
    let body = diff_markers(text);
    let fence = fence_for(&body);
    format!(
        "<details><summary>{} {}</summary>\n\n{fence}diff\n{body}{fence}\n\n</details>\n\n",
        code(address),
        escape(what)
    )
}

/// Moves each line's plan marker to the first column, where GitHub's `diff`
/// highlighting looks for it (`~` becomes `!`, the "changed" marker there),
/// keeping the columns of everything else.
fn diff_markers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let rest = line.trim_start_matches(' ');
        let indent = line.len() - rest.len();
        let marker = ["-/+", "+", "-", "~"].into_iter().find(|m| {
            rest.strip_prefix(m)
                .is_some_and(|r| r.is_empty() || r.starts_with(' '))
        });
        match marker {
            Some(m) => {
                let shown = if m == "~" { "!" } else { m };
                let moved = format!("{shown}{}{}", " ".repeat(indent), &rest[m.len()..]);
                out.push_str(moved.trim_end());
                out.push('\n');
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// A backtick fence longer than any backtick run in `body` (at least three),
/// so no line of it can close the fence early.
fn fence_for(body: &str) -> String {
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat((longest + 1).max(3))
}

/// `<code>…</code>` around escaped text: safe in a table cell and in raw
/// HTML alike, whatever the text holds (a markdown code span is not: a
/// backtick or `|` in the value would end it or the cell).
fn code(s: &str) -> String {
    format!("<code>{}</code>", escape(s))
}

/// Text with every character markdown or HTML could act on written as an
/// HTML entity: tags, cell separators, code spans, emphasis, links, math,
/// mentions, and line breaks (which would end a table row or an HTML block).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '|' | '`' | '*' | '_' | '[' | ']' | '\\' | '~' | '#' | '$' | '@' | '!' | '\n'
            | '\r' => {
                let _ = write!(out, "&#{};", ch as u32);
            }
            c => out.push(c),
        }
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_leaves_nothing_markdown_or_html_acts_on() {
        let hostile = "a|b`c<script>&*_[x](y)\\~#$@!\nz";
        let e = escape(hostile);
        for bad in [
            '|', '`', '<', '>', '*', '_', '[', ']', '\\', '~', '$', '@', '!', '\n',
        ] {
            assert!(!e.contains(bad), "{bad:?} left in {e}");
        }
        assert_eq!(
            e,
            "a&#124;b&#96;c&lt;script&gt;&amp;&#42;&#95;&#91;x&#93;(y)&#92;&#126;&#35;&#36;&#64;&#33;&#10;z"
        );
    }

    #[test]
    fn fence_outgrows_backtick_runs() {
        assert_eq!(fence_for("no ticks"), "```");
        assert_eq!(fence_for("a ```` b ` c"), "`````");
    }

    #[test]
    fn markers_move_to_the_first_column() {
        let text = "  # product.p will be updated in-place\n  ~ product.p {\n      ~ name = \"P\" -> \"Q\"\n      + code = \"q\"\n          +\n    }\n-/+ meter.m {\n";
        assert_eq!(
            diff_markers(text),
            "  # product.p will be updated in-place\n!   product.p {\n!       name = \"P\" -> \"Q\"\n+       code = \"q\"\n+\n    }\n-/+ meter.m {\n"
        );
    }
}
