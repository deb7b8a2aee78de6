//! The bill-impact preview for people: text after the plan, or a markdown
//! section for a pull request. Money is rounded to the currency's minor
//! unit here only; `--json` keeps exact amounts.

use std::fmt::Write as _;

use chrono::{Datelike, Months};
use serde_json::Value;

use super::{AccountImpact, Amounts, BillImpact, LineImpact, Period, RATING_NOTE};
use crate::usage::bills::money;

/// "November 2026" for a calendar month, else "2026-11-03 – 2026-11-20".
pub fn period_words(p: Period) -> String {
    let whole_month =
        p.start.day() == 1 && p.start.checked_add_months(Months::new(1)) == Some(p.end);
    if whole_month {
        p.start.format("%B %Y").to_string()
    } else {
        format!("{} \u{2013} {}", p.start, p.last_day())
    }
}

fn signed(v: &Value, currency: &str) -> String {
    let s = money(Some(v), currency);
    if s.starts_with('-') || v.as_f64().is_none_or(|f| f == 0.0) {
        s
    } else {
        format!("+{s}")
    }
}

fn percent(v: &Value) -> Option<String> {
    let p = v.as_f64()?;
    Some(if p > 0.0 {
        format!("+{p:.1}%")
    } else {
        format!("{p:.1}%")
    })
}

fn change_words(
    before: &Value,
    after: &Value,
    delta: &Value,
    pct: &Value,
    currency: &str,
) -> String {
    let mut s = format!(
        "{} -> {}",
        money(Some(before), currency),
        money(Some(after), currency)
    );
    if delta.as_f64().is_some_and(|d| d != 0.0) {
        let _ = write!(s, "  {}", signed(delta, currency));
        if let Some(p) = percent(pct) {
            let _ = write!(s, " ({p})");
        }
    }
    s
}

fn line_label(l: &LineImpact) -> String {
    let mut s = format!("{} {}", l.line_item_type, l.description);
    if let Some(plan) = &l.plan {
        let _ = write!(s, " ({plan})");
    }
    s
}

fn shown(l: &LineImpact) -> bool {
    l.change != "unchanged"
}

/// The preview as text, for the end of `plan`'s output.
pub fn human(impact: &BillImpact, period: Period) -> String {
    let mut out = String::new();
    if impact.is_none() {
        let _ = writeln!(
            out,
            "\nBill impact ({}): no billing impact. No change of this plan is one that rating reads.",
            period_words(period)
        );
        return out;
    }
    let _ = writeln!(
        out,
        "\nBill impact for {} ({} account{}):",
        period_words(period),
        impact.accounts.len(),
        if impact.accounts.len() == 1 { "" } else { "s" }
    );
    for a in &impact.accounts {
        let c = &a.currency;
        let _ = writeln!(
            out,
            "\n  account.{} ({}), {c}: {}",
            a.account,
            a.name,
            change_words(&a.before, &a.after, &a.delta, &a.percent, c)
        );
        for l in a.line_items.iter().filter(|l| shown(l)) {
            let sign = match l.change {
                "added" => "+",
                "removed" => "-",
                _ => "~",
            };
            let before = if l.before.is_null() {
                Value::from(0)
            } else {
                l.before.clone()
            };
            let after = if l.after.is_null() {
                Value::from(0)
            } else {
                l.after.clone()
            };
            let _ = writeln!(
                out,
                "    {sign} {}: {}",
                line_label(l),
                change_words(&before, &after, &l.delta, &l.percent, c)
            );
        }
        let same = a.line_items.iter().filter(|l| !shown(l)).count();
        if same > 0 {
            let _ = writeln!(
                out,
                "    ({same} line{} unchanged)",
                if same == 1 { "" } else { "s" }
            );
        }
    }
    let t = &impact.totals;
    match &t.currency {
        Some(c) => {
            let _ = writeln!(
                out,
                "\n  Total, {c}: {}",
                change_words(&t.before, &t.after, &t.delta, &t.percent, c)
            );
        }
        None => {
            for ct in &t.by_currency {
                let c = &ct.currency;
                let _ = writeln!(
                    out,
                    "\n  Total, {c}: {}",
                    change_words(&ct.before, &ct.after, &ct.delta, &ct.percent, c)
                );
            }
        }
    }
    let _ = writeln!(out, "\n{RATING_NOTE}");
    out
}

/// One sentence per account whose bill changes: "This raises Mickey Mouse
/// Inc's November 2026 invoice by 9.6% (USD 1000.00 -> 1096.00)."
fn headline(a: &AccountImpact, period: Period) -> Option<String> {
    let Amounts { before, after } = a.exact;
    if before == after {
        return None;
    }
    let who = if a.name.is_empty() {
        &a.account
    } else {
        &a.name
    };
    let verb = if after > before { "raises" } else { "lowers" };
    let by = match percent(&a.percent) {
        Some(p) => format!(" by {}", p.trim_start_matches(['+', '-'])),
        None => String::new(),
    };
    let c = &a.currency;
    Some(format!(
        "This {verb} {who}'s {} invoice{by} ({c} {} \u{2192} {}).",
        period_words(period),
        money(Some(&a.before), c),
        money(Some(&a.after), c)
    ))
}

fn cell(v: &Value, currency: &str) -> String {
    if v.is_null() {
        "\u{2013}".into()
    } else {
        money(Some(v), currency)
    }
}

/// The preview as a markdown section, for a pull request.
pub fn markdown(impact: &BillImpact, period: Period) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n### Bill impact: {}\n", period_words(period));
    if impact.is_none() {
        let _ = writeln!(
            out,
            "No billing impact: no change of this plan is one that rating reads."
        );
        return out;
    }
    let lines: Vec<String> = impact
        .accounts
        .iter()
        .filter_map(|a| headline(a, period))
        .collect();
    if lines.is_empty() {
        let _ = writeln!(
            out,
            "No invoice changes for the {} affected account(s).\n",
            impact.accounts.len()
        );
    } else {
        for l in lines {
            let _ = writeln!(out, "{l}");
        }
        out.push('\n');
    }
    let _ = writeln!(out, "| Account | Line item | Before | After | Delta | % |");
    let _ = writeln!(out, "|---|---|--:|--:|--:|--:|");
    for a in &impact.accounts {
        let c = &a.currency;
        let _ = writeln!(
            out,
            "| {} (`{}`) | **Total ({c})** | {} | {} | {} | {} |",
            a.name,
            a.account,
            cell(&a.before, c),
            cell(&a.after, c),
            signed(&a.delta, c),
            percent(&a.percent).unwrap_or_default()
        );
        for l in a.line_items.iter().filter(|l| shown(l)) {
            let _ = writeln!(
                out,
                "| | {} ({}) | {} | {} | {} | {} |",
                line_label(l),
                l.change,
                cell(&l.before, c),
                cell(&l.after, c),
                signed(&l.delta, c),
                percent(&l.percent).unwrap_or_default()
            );
        }
    }
    let _ = writeln!(out, "\n> {RATING_NOTE}");
    out
}
