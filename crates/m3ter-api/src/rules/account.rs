//! Account rules (the parent chain) and account plan rules (which plan, and
//! one active per product).

use std::collections::HashSet;

use super::dates::windows_overlap;
use super::{Body, Catalog, Finding, Subject, code_or, str_of};
use crate::Kind;
use crate::validate::parse_date_time;

pub(crate) const PARENT_LOOP: &str = "account.parentLoop";
pub(crate) const BESPOKE_PLAN: &str = "accountPlan.bespokePlan";
pub(crate) const OVERLAP: &str = "accountPlan.overlap";

/// Following `parentAccountId` from the account must never lead back to it.
pub(crate) fn check_parent(subject: &Subject<'_>, catalog: &dyn Catalog, out: &mut Vec<Finding>) {
    let Some(own) = subject.own else {
        return; // a new account: nothing can name it as a parent yet
    };
    let own_code = code_or(Some(subject.body), own);
    let mut chain = vec![own_code];
    let mut seen = HashSet::new();
    let mut next = str_of(subject.body, "parentAccountId");
    while let Some(parent) = next {
        if parent == own {
            chain.push(own_code);
            let message = if chain.len() == 2 {
                format!(
                    "`parentAccountId` is the account itself (`{own_code}`); an account cannot \
                     be its own parent, so remove it or name another account"
                )
            } else {
                format!(
                    "`parentAccountId` makes a cycle of parent accounts: {}; remove the parent \
                     of one of them",
                    chain.join(" -> ")
                )
            };
            out.push(Finding::error(PARENT_LOOP, "parentAccountId", message));
            return;
        }
        if !seen.insert(parent) {
            return; // a loop above that does not pass through this account
        }
        let body = catalog.get(Kind::Account, parent);
        chain.push(code_or(body, parent));
        next = body.and_then(|b| str_of(b, "parentAccountId"));
    }
}

/// The product a plan belongs to: its plan template's `productId`.
fn product_of<'a>(catalog: &'a dyn Catalog, plan: &'a Body) -> Option<&'a str> {
    let template = catalog.get(Kind::PlanTemplate, str_of(plan, "planTemplateId")?)?;
    str_of(template, "productId")
}

pub(crate) fn check_account_plan(
    subject: &Subject<'_>,
    catalog: &dyn Catalog,
    out: &mut Vec<Finding>,
) {
    let body = subject.body;
    let (Some(account), Some(plan_ref)) = (str_of(body, "accountId"), str_of(body, "planId"))
    else {
        return;
    };
    let Some(plan) = catalog.get(Kind::Plan, plan_ref) else {
        return;
    };
    let plan_code = code_or(Some(plan), plan_ref);
    let account_code = code_or(catalog.get(Kind::Account, account), account);

    // SPEC: "A bespoke Plan may only be attached to its own Account."
    if let Some(owner) = str_of(plan, "accountId")
        && owner != account
    {
        let owner_code = code_or(catalog.get(Kind::Account, owner), owner);
        out.push(Finding::error(
            BESPOKE_PLAN,
            "planId",
            format!(
                "`planId`: plan `{plan_code}` is bespoke to account `{owner_code}` and cannot be \
                 attached to account `{account_code}`; attach a plan without `accountId`, or one \
                 bespoke to `{account_code}`"
            ),
        ));
    }

    // SPEC: "Only one AccountPlan per Product may be active at a time".
    let Some(product) = product_of(catalog, plan) else {
        return;
    };
    let Some(start) = str_of(body, "startDate").and_then(parse_date_time) else {
        return;
    };
    let end = str_of(body, "endDate").and_then(parse_date_time);
    for (reference, other) in catalog.each_where(Kind::AccountPlan, "accountId", account) {
        if Some(reference) == subject.own {
            continue;
        }
        let Some(other_plan_ref) = str_of(other, "planId") else {
            continue;
        };
        let Some(other_plan) = catalog.get(Kind::Plan, other_plan_ref) else {
            continue;
        };
        if product_of(catalog, other_plan) != Some(product) {
            continue;
        }
        let other_start = str_of(other, "startDate");
        let other_end = str_of(other, "endDate");
        if windows_overlap(
            (Some(start), end),
            (
                other_start.and_then(parse_date_time),
                other_end.and_then(parse_date_time),
            ),
        ) {
            let product_code = code_or(catalog.get(Kind::Product, product), product);
            out.push(
                Finding::error(
                    OVERLAP,
                    "startDate",
                    format!(
                        "account `{account_code}` already has an account plan for product \
                         `{product_code}` (plan `{}`, from {} to {}) that overlaps this one: \
                         account plan `{reference}`; only one account plan per product may be \
                         active at a time, so end the other one before this `startDate`, or \
                         start this one when it ends",
                        code_or(Some(other_plan), other_plan_ref),
                        other_start.unwrap_or("?"),
                        other_end.unwrap_or("open-ended"),
                    ),
                )
                .with_other(Kind::AccountPlan, reference),
            );
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::Kind;
    use crate::rules::fixture::{Fixture, body};

    #[test]
    fn parent_chain_does_not_loop() {
        let f = Fixture::default()
            .with(Kind::Account, "a", json!({"code": "a"}))
            .with(
                Kind::Account,
                "b",
                json!({"code": "b", "parentAccountId": "a"}),
            )
            .with(
                Kind::Account,
                "c",
                json!({"code": "c", "parentAccountId": "b"}),
            );
        let a_under = |parent: &str| body(json!({"code": "a", "parentAccountId": parent}));
        assert_eq!(
            f.render_own(Kind::Account, Some("a"), &body(json!({"code": "a"}))),
            ""
        );
        assert_eq!(
            f.render(Kind::Account, &a_under("c")),
            "",
            "a new account closes no loop"
        );
        insta::assert_snapshot!(
            f.render_own(Kind::Account, Some("a"), &a_under("a"))
                + &f.render_own(Kind::Account, Some("a"), &a_under("c"))
        );
    }

    fn plans() -> Fixture {
        Fixture::default()
            .with(Kind::Product, "lambda", json!({"code": "lambda"}))
            .with(Kind::Product, "s3", json!({"code": "s3"}))
            .with(
                Kind::PlanTemplate,
                "t",
                json!({"code": "t", "productId": "lambda"}),
            )
            .with(
                Kind::PlanTemplate,
                "t_s3",
                json!({"code": "t_s3", "productId": "s3"}),
            )
            .with(
                Kind::Plan,
                "standard",
                json!({"code": "standard", "planTemplateId": "t"}),
            )
            .with(
                Kind::Plan,
                "gold",
                json!({"code": "gold", "planTemplateId": "t"}),
            )
            .with(
                Kind::Plan,
                "storage",
                json!({"code": "storage", "planTemplateId": "t_s3"}),
            )
            .with(
                Kind::Plan,
                "mine",
                json!({"code": "mine", "planTemplateId": "t", "accountId": "acme"}),
            )
            .with(Kind::Account, "acme", json!({"code": "acme"}))
            .with(Kind::Account, "globex", json!({"code": "globex"}))
            .with(
                Kind::AccountPlan,
                "acme/standard@2024",
                json!({"accountId": "acme", "planId": "standard",
                       "startDate": "2024-01-01T00:00:00Z", "endDate": "2025-01-01T00:00:00Z"}),
            )
    }

    fn account_plan(account: &str, plan: &str, start: &str) -> crate::rules::Body {
        body(json!({"accountId": account, "planId": plan, "startDate": start}))
    }

    #[test]
    fn bespoke_plan_only_for_its_account() {
        let f = plans();
        assert_eq!(
            f.render(
                Kind::AccountPlan,
                &account_plan("acme", "mine", "2026-01-01T00:00:00Z")
            ),
            ""
        );
        insta::assert_snapshot!(f.render(
            Kind::AccountPlan,
            &account_plan("globex", "mine", "2026-01-01T00:00:00Z")
        ));
    }

    #[test]
    fn one_active_account_plan_per_product() {
        let f = plans();
        // After the other ends (end exclusive), another product, or the entity itself: fine.
        assert_eq!(
            f.render(
                Kind::AccountPlan,
                &account_plan("acme", "gold", "2025-01-01T00:00:00Z")
            ),
            ""
        );
        assert_eq!(
            f.render(
                Kind::AccountPlan,
                &account_plan("acme", "storage", "2024-06-01T00:00:00Z")
            ),
            ""
        );
        assert_eq!(
            f.render(
                Kind::AccountPlan,
                &account_plan("globex", "gold", "2024-06-01T00:00:00Z")
            ),
            ""
        );
        let itself = account_plan("acme", "standard", "2024-01-01T00:00:00Z");
        assert_eq!(
            f.render_own(Kind::AccountPlan, Some("acme/standard@2024"), &itself),
            ""
        );
        let mut before = account_plan("acme", "gold", "2023-01-01T00:00:00Z");
        before.insert("endDate".into(), json!("2024-01-01T00:00:00Z"));
        assert_eq!(f.render(Kind::AccountPlan, &before), "");
        insta::assert_snapshot!(f.render(
            Kind::AccountPlan,
            &account_plan("acme", "gold", "2024-06-01T00:00:00Z")
        ));
    }
}
