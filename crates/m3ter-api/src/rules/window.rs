//! Pricing windows: a plan (or plan template) prices each aggregation,
//! compound aggregation or counter, per segment, once at a time; and an
//! account plan expects a price for everything its plans price, for as
//! long as it is active.
//!
//! A *slot* is what one pricing prices: its owner (plan or plan template),
//! its target (aggregation, compound aggregation or counter) and its
//! segment. Windows are `[startDate, endDate)`, no `endDate` = open-ended.
//! Siblings are found with [`Catalog::each_where`] on the owner, so a rule
//! run on each pricing reads the pricings of one plan, not all of them.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::dates::windows_overlap;
use super::{Body, Catalog, Finding, Subject, code_or, str_of};
use crate::Kind;
use crate::validate::parse_instant;

pub(crate) const OVERLAP: &str = "pricing.overlap";
pub(crate) const GAP: &str = "accountPlan.pricingGap";

/// The owner fields of a (counter) pricing; exactly one is set.
const OWNERS: [(&str, Kind); 2] = [
    ("planId", Kind::Plan),
    ("planTemplateId", Kind::PlanTemplate),
];

/// The target fields of each pricing kind, with the kind they name.
fn targets(kind: Kind) -> &'static [(&'static str, Kind)] {
    match kind {
        Kind::Pricing => &[
            ("aggregationId", Kind::Aggregation),
            ("compoundAggregationId", Kind::CompoundAggregation),
        ],
        Kind::CounterPricing => &[("counterId", Kind::Counter)],
        _ => &[],
    }
}

fn instant(body: &Body, field: &str) -> Option<DateTime<Utc>> {
    str_of(body, field).and_then(parse_instant)
}

/// What a pricing prices: its target's kind and reference, and its segment
/// (absent and empty are the same: no segment).
#[derive(PartialEq)]
struct Slot<'a> {
    target_kind: Kind,
    target: &'a str,
    segment: Option<&'a serde_json::Map<String, Value>>,
}

fn slot<'a>(kind: Kind, pricing: &'a Body) -> Option<Slot<'a>> {
    let (target_kind, target) = targets(kind)
        .iter()
        .find_map(|(f, k)| Some((*k, str_of(pricing, f)?)))?;
    let segment = pricing
        .get("segment")
        .and_then(Value::as_object)
        .filter(|s| !s.is_empty());
    Some(Slot {
        target_kind,
        target,
        segment,
    })
}

impl Slot<'_> {
    /// `aggregation `api_calls`` (and ` segment {region=eu}`), for messages.
    fn describe(&self, catalog: &dyn Catalog) -> String {
        let code = code_or(catalog.get(self.target_kind, self.target), self.target);
        let segment = self.segment.map(|s| {
            let mut parts: Vec<String> = s
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect();
            parts.sort();
            format!(" segment {{{}}}", parts.join(", "))
        });
        format!(
            "{} `{code}`{}",
            self.target_kind,
            segment.unwrap_or_default()
        )
    }
}

/// `from X to Y` / `from X, open-ended` of a body's window as written.
fn window_text(body: &Body) -> String {
    match str_of(body, "endDate") {
        Some(end) => format!("from {} to {end}", str_of(body, "startDate").unwrap_or("?")),
        None => format!(
            "from {}, open-ended",
            str_of(body, "startDate").unwrap_or("?")
        ),
    }
}

/// m3ter refuses a second pricing for the same slot whose window overlaps
/// the first's: which price applies would be undefined.
pub(crate) fn check_overlap(subject: &Subject<'_>, catalog: &dyn Catalog, out: &mut Vec<Finding>) {
    let (kind, body) = (subject.kind, subject.body);
    let Some((owner_field, owner_kind, owner)) = OWNERS
        .iter()
        .find_map(|(f, k)| Some((*f, *k, str_of(body, f)?)))
    else {
        return;
    };
    let Some(own_slot) = slot(kind, body) else {
        return;
    };
    let Some(start) = instant(body, "startDate") else {
        return; // required: a missing or malformed one is reported elsewhere
    };
    let end = instant(body, "endDate");
    for (reference, other) in catalog.each_where(kind, owner_field, owner) {
        if Some(reference) == subject.own || slot(kind, other).as_ref() != Some(&own_slot) {
            continue;
        }
        let Some(other_start) = instant(other, "startDate") else {
            continue;
        };
        if !windows_overlap(
            (Some(start), end),
            (Some(other_start), instant(other, "endDate")),
        ) {
            continue;
        }
        let this = subject
            .own
            .map_or_else(|| format!("this {kind}"), |own| format!("{kind} `{own}`"));
        let owner_code = code_or(catalog.get(owner_kind, owner), owner);
        out.push(
            Finding::error(
                OVERLAP,
                "startDate",
                format!(
                    "{this} ({}) overlaps {kind} `{reference}` ({}) of {owner_kind} \
                     `{owner_code}` for {}; one {kind} per {} and segment may be in effect \
                     at a time, so end one before the other starts (`endDate` is exclusive)",
                    window_text(body),
                    window_text(other),
                    own_slot.describe(catalog),
                    own_slot.target_kind,
                ),
            )
            .with_other(kind, reference),
        );
    }
}

/// One pricing's window in a slot, for the gap sweep.
struct Priced<'a> {
    kind: Kind,
    reference: &'a str,
    body: &'a Body,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
}

/// The plans an account plan attaches: its plan, or its plan group's.
fn plans_of<'a>(body: &'a Body, catalog: &'a dyn Catalog) -> Vec<&'a str> {
    if let Some(plan) = str_of(body, "planId") {
        return vec![plan];
    }
    let Some(group) = str_of(body, "planGroupId") else {
        return Vec::new();
    };
    catalog
        .each_where(Kind::PlanGroupLink, "planGroupId", group)
        .into_iter()
        .filter_map(|(_, link)| str_of(link, "planId"))
        .collect()
}

/// A warning for each time, inside an account plan's window, that one of
/// its plans' slots (priced by the plan or its template at some time) has
/// no pricing in effect: usage then is billed at nothing, silently.
pub(crate) fn check_gaps(subject: &Subject<'_>, catalog: &dyn Catalog, out: &mut Vec<Finding>) {
    let body = subject.body;
    let Some(ap_start) = instant(body, "startDate") else {
        return;
    };
    let ap_end = instant(body, "endDate");
    let this = subject.own.map_or_else(
        || "this account plan".to_owned(),
        |own| format!("account plan `{own}`"),
    );
    for plan_ref in plans_of(body, catalog) {
        let Some(plan) = catalog.get(Kind::Plan, plan_ref) else {
            continue;
        };
        let plan_code = code_or(Some(plan), plan_ref);
        let template = str_of(plan, "planTemplateId");
        // Slots in the order first seen, each with its pricings.
        let mut slots: Vec<(Slot<'_>, Vec<Priced<'_>>)> = Vec::new();
        for kind in [Kind::Pricing, Kind::CounterPricing] {
            let mine = catalog.each_where(kind, "planId", plan_ref);
            let inherited = template
                .map(|t| catalog.each_where(kind, "planTemplateId", t))
                .unwrap_or_default();
            for (reference, pricing) in mine.into_iter().chain(inherited) {
                let (Some(s), Some(start)) = (slot(kind, pricing), instant(pricing, "startDate"))
                else {
                    continue;
                };
                let priced = Priced {
                    kind,
                    reference,
                    body: pricing,
                    start,
                    end: instant(pricing, "endDate"),
                };
                match slots.iter_mut().find(|(have, _)| *have == s) {
                    Some((_, list)) => list.push(priced),
                    None => slots.push((s, vec![priced])),
                }
            }
        }
        for (s, mut priced) in slots {
            priced.sort_by_key(|p| p.start);
            for gap in gaps(&priced, ap_start, ap_end) {
                out.push(gap_finding(&this, body, plan_code, &s, &gap, catalog));
            }
        }
    }
}

/// A time without pricing: from the end of `before` (or the account
/// plan's start) to the start of `after` (or the account plan's end).
struct Gap<'p, 'a> {
    before: Option<&'p Priced<'a>>,
    after: Option<&'p Priced<'a>>,
}

/// The gaps in `priced` (sorted by start) within `[from, to)`.
fn gaps<'p, 'a>(
    priced: &'p [Priced<'a>],
    from: DateTime<Utc>,
    to: Option<DateTime<Utc>>,
) -> Vec<Gap<'p, 'a>> {
    let mut out = Vec::new();
    // Covered up to `until` (None = forever), by `last` (None = nothing yet).
    let mut until = Some(from);
    let mut last: Option<&Priced<'_>> = None;
    for p in priced {
        let Some(covered) = until else { break };
        if to.is_some_and(|t| covered >= t || p.start >= t) {
            break; // covered to the end, or the rest starts after it
        }
        if p.start > covered {
            out.push(Gap {
                before: last,
                after: Some(p),
            });
        }
        if p.end.is_none_or(|e| e > covered) {
            until = p.end;
            last = Some(p);
        }
    }
    if let Some(covered) = until
        && to.is_none_or(|t| covered < t)
    {
        out.push(Gap {
            before: last,
            after: None,
        });
    }
    out
}

fn gap_finding(
    this: &str,
    account_plan: &Body,
    plan_code: &str,
    s: &Slot<'_>,
    gap: &Gap<'_, '_>,
    catalog: &dyn Catalog,
) -> Finding {
    let from = gap.before.map_or_else(
        || str_of(account_plan, "startDate").unwrap_or("?"),
        |p| str_of(p.body, "endDate").unwrap_or("?"),
    );
    let to = match gap.after {
        Some(p) => str_of(p.body, "startDate").unwrap_or("?"),
        None => str_of(account_plan, "endDate").unwrap_or("the account plan's open end"),
    };
    let around: Vec<String> = [
        gap.before
            .map(|p| format!("after {} `{}` ends", p.kind, p.reference)),
        gap.after
            .map(|p| format!("before {} `{}` starts", p.kind, p.reference)),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut f = Finding::warning(
        GAP,
        "",
        format!(
            "{this} ({}) has no pricing of plan `{plan_code}` for {} from {from} to {to} ({}); \
             usage then is not charged, so add a pricing for that time or move the one next to it",
            window_text(account_plan),
            s.describe(catalog),
            around.join(", "),
        ),
    );
    for p in [gap.before, gap.after].into_iter().flatten() {
        f = f.with_other(p.kind, p.reference);
    }
    f
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::Kind;
    use crate::rules::fixture::{Fixture, body};
    use crate::rules::{Subject, check};

    const BANDS: &str = r#"[{"lowerLimit": 0, "unitPrice": 1}]"#;

    fn pricing(owner: &str, agg: &str, start: &str, end: Option<&str>) -> Value {
        let mut v = json!({"planId": owner, "aggregationId": agg, "startDate": start,
                           "pricingBands": serde_json::from_str::<Value>(BANDS).unwrap()});
        if let Some(e) = end {
            v["endDate"] = json!(e);
        }
        v
    }

    fn catalog() -> Fixture {
        Fixture::default()
            .with(Kind::PlanTemplate, "t", json!({"code": "t"}))
            .with(
                Kind::Plan,
                "std",
                json!({"code": "std", "planTemplateId": "t"}),
            )
            .with(
                Kind::Plan,
                "gold",
                json!({"code": "gold", "planTemplateId": "t"}),
            )
            .with(Kind::Aggregation, "calls", json!({"code": "calls"}))
            .with(Kind::Aggregation, "gb", json!({"code": "gb"}))
            .with(Kind::Counter, "seats", json!({"code": "seats"}))
            .with(
                Kind::Pricing,
                "std/calls@2024-01-01",
                pricing(
                    "std",
                    "calls",
                    "2024-01-01T00:00:00Z",
                    Some("2025-01-01T00:00:00Z"),
                ),
            )
            .with(
                Kind::Pricing,
                "std/calls@2025-01-01",
                pricing("std", "calls", "2025-01-01T00:00:00Z", None),
            )
    }

    #[test]
    fn pricings_of_one_slot_do_not_overlap() {
        let f = catalog();
        let new = |owner: &str, agg: &str, start: &str, end: Option<&str>| {
            body(pricing(owner, agg, start, end))
        };
        // Before the first (ending when it starts), another plan, another
        // aggregation, another segment, or itself: fine.
        let before = new(
            "std",
            "calls",
            "2023-01-01T00:00:00Z",
            Some("2024-01-01T00:00:00Z"),
        );
        assert_eq!(f.render(Kind::Pricing, &before), "");
        let gold = new("gold", "calls", "2024-06-01T00:00:00Z", None);
        assert_eq!(f.render(Kind::Pricing, &gold), "");
        let gb = new("std", "gb", "2024-06-01T00:00:00Z", None);
        assert_eq!(f.render(Kind::Pricing, &gb), "");
        let mut segmented = new("std", "calls", "2024-06-01T00:00:00Z", None);
        segmented.insert("segment".into(), json!({"region": "eu"}));
        assert_eq!(
            Fixture::default()
                .with(
                    Kind::Pricing,
                    "std/calls@2024-01-01",
                    pricing("std", "calls", "2024-01-01T00:00:00Z", None)
                )
                .with(
                    Kind::Aggregation,
                    "calls",
                    json!({"code": "calls", "segmentedFields": ["region"],
                           "segments": [{"region": "eu"}]}),
                )
                .render(Kind::Pricing, &segmented),
            ""
        );
        let itself = new("std", "calls", "2025-01-01T00:00:00Z", None);
        assert_eq!(
            f.render_own(Kind::Pricing, Some("std/calls@2025-01-01"), &itself),
            ""
        );
        // Inside the first, and open-ended across both.
        insta::assert_snapshot!(
            f.render(
                Kind::Pricing,
                &new(
                    "std",
                    "calls",
                    "2024-06-01T00:00:00Z",
                    Some("2024-07-01T00:00:00Z")
                )
            ) + &f.render_own(
                Kind::Pricing,
                Some("std/calls@2023-06-01"),
                &new("std", "calls", "2023-06-01T00:00:00Z", None)
            )
        );
    }

    #[test]
    fn the_overlap_names_the_other_pricing() {
        let f = catalog();
        let b = body(pricing("std", "calls", "2024-06-01T00:00:00Z", None));
        let findings = check(
            &Subject {
                kind: Kind::Pricing,
                body: &b,
                own: None,
            },
            &f,
        );
        let others: Vec<_> = findings.iter().flat_map(|f| f.others.clone()).collect();
        assert_eq!(
            others,
            vec![
                (Kind::Pricing, "std/calls@2024-01-01".to_owned()),
                (Kind::Pricing, "std/calls@2025-01-01".to_owned()),
            ]
        );
    }

    #[test]
    fn counter_pricings_and_templates_overlap_too() {
        let f = Fixture::default()
            .with(
                Kind::CounterPricing,
                "template:t/seats@2024-01-01",
                json!({"planTemplateId": "t", "counterId": "seats",
                       "startDate": "2024-01-01T00:00:00Z"}),
            )
            .with(Kind::Counter, "seats", json!({"code": "seats"}))
            .with(Kind::PlanTemplate, "t", json!({"code": "t"}));
        let b = body(json!({"planTemplateId": "t", "counterId": "seats",
                            "startDate": "2025-01-01T00:00:00Z",
                            "pricingBands": [{"lowerLimit": 0, "unitPrice": 1}]}));
        insta::assert_snapshot!(f.render(Kind::CounterPricing, &b));
    }

    fn account_plan(plan: &str, start: &str, end: Option<&str>) -> crate::rules::Body {
        let mut v = json!({"accountId": "acme", "planId": plan, "startDate": start});
        if let Some(e) = end {
            v["endDate"] = json!(e);
        }
        body(v)
    }

    #[test]
    fn no_gap_while_pricings_follow_each_other() {
        let f = catalog();
        let ap = account_plan("std", "2024-01-01T00:00:00Z", None);
        assert_eq!(
            f.render_own(Kind::AccountPlan, Some("acme/std@2024"), &ap),
            ""
        );
        // A plan that prices nothing has no gap; a template pricing fills
        // the plan's gap.
        let gold = account_plan("gold", "2024-01-01T00:00:00Z", None);
        assert_eq!(f.render(Kind::AccountPlan, &gold), "");
        let f = Fixture::default()
            .with(
                Kind::Plan,
                "std",
                json!({"code": "std", "planTemplateId": "t"}),
            )
            .with(
                Kind::Pricing,
                "std/calls@2024-01-01",
                pricing(
                    "std",
                    "calls",
                    "2024-01-01T00:00:00Z",
                    Some("2024-06-01T00:00:00Z"),
                ),
            )
            .with(
                Kind::Pricing,
                "template:t/calls@2024-06-01",
                json!({"planTemplateId": "t", "aggregationId": "calls",
                       "startDate": "2024-06-01T00:00:00Z"}),
            );
        let ap = account_plan("std", "2024-01-01T00:00:00Z", None);
        assert_eq!(f.render(Kind::AccountPlan, &ap), "");
    }

    #[test]
    fn a_gap_in_pricing_while_active_is_a_warning() {
        let f = Fixture::default()
            .with(
                Kind::Plan,
                "std",
                json!({"code": "std", "planTemplateId": "t"}),
            )
            .with(Kind::Aggregation, "calls", json!({"code": "calls"}))
            .with(
                Kind::Pricing,
                "std/calls@2024-02-01",
                pricing(
                    "std",
                    "calls",
                    "2024-02-01T00:00:00Z",
                    Some("2024-06-01T00:00:00Z"),
                ),
            )
            .with(
                Kind::Pricing,
                "std/calls@2024-07-01",
                pricing(
                    "std",
                    "calls",
                    "2024-07-01T00:00:00Z",
                    Some("2024-09-01T00:00:00Z"),
                ),
            );
        // Inside one pricing: no gap.
        let inside = account_plan("std", "2024-03-01T00:00:00Z", Some("2024-04-01T00:00:00Z"));
        assert_eq!(f.render(Kind::AccountPlan, &inside), "");
        // Before the first, between them, and after the last (open-ended).
        let ap = account_plan("std", "2024-01-01T00:00:00Z", None);
        insta::assert_snapshot!(f.render_own(Kind::AccountPlan, Some("acme/std@2024"), &ap));
        let findings = check(
            &Subject {
                kind: Kind::AccountPlan,
                body: &ap,
                own: None,
            },
            &f,
        );
        assert_eq!(findings.len(), 3);
        assert_eq!(
            findings[1].others,
            vec![
                (Kind::Pricing, "std/calls@2024-02-01".to_owned()),
                (Kind::Pricing, "std/calls@2024-07-01".to_owned()),
            ]
        );
    }

    #[test]
    fn plan_group_account_plans_check_each_linked_plan() {
        let f = Fixture::default()
            .with(
                Kind::Plan,
                "std",
                json!({"code": "std", "planTemplateId": "t"}),
            )
            .with(Kind::Counter, "seats", json!({"code": "seats"}))
            .with(
                Kind::PlanGroupLink,
                "bundle/std",
                json!({"planGroupId": "bundle", "planId": "std"}),
            )
            .with(
                Kind::CounterPricing,
                "std/seats@2024-01-01",
                json!({"planId": "std", "counterId": "seats",
                       "startDate": "2024-01-01T00:00:00Z", "endDate": "2024-06-01T00:00:00Z"}),
            );
        let ap = body(json!({"accountId": "acme", "planGroupId": "bundle",
                             "startDate": "2024-01-01T00:00:00Z", "endDate": "2025-01-01T00:00:00Z"}));
        insta::assert_snapshot!(f.render(Kind::AccountPlan, &ap));
    }
}
