//! Plan group rules: a plan group's plans bill in its currency.

use super::{Catalog, Finding, Subject, code_or, str_of};
use crate::Kind;

pub(crate) const LINK_CURRENCY: &str = "planGroupLink.currency";

/// A plan takes its currency from its plan template; a plan group's minimum
/// spend and standing charge are in the group's own `currency`, so a link
/// from a group to a plan of another currency is refused (OURS: m3ter bills
/// a group's plans together, and a bill has one currency). Checked when a
/// link is written; changing the currency of a linked group or template
/// afterwards is not checked.
pub(crate) fn check_link(subject: &Subject<'_>, catalog: &dyn Catalog, out: &mut Vec<Finding>) {
    let body = subject.body;
    let (Some(group_ref), Some(plan_ref)) = (str_of(body, "planGroupId"), str_of(body, "planId"))
    else {
        return;
    };
    let (Some(group), Some(plan)) = (
        catalog.get(Kind::PlanGroup, group_ref),
        catalog.get(Kind::Plan, plan_ref),
    ) else {
        return;
    };
    let Some(template_ref) = str_of(plan, "planTemplateId") else {
        return;
    };
    let template = catalog.get(Kind::PlanTemplate, template_ref);
    let (Some(group_currency), Some(plan_currency)) = (
        str_of(group, "currency"),
        template.and_then(|t| str_of(t, "currency")),
    ) else {
        return;
    };
    if group_currency == plan_currency {
        return;
    }
    let group_code = code_or(Some(group), group_ref);
    let plan_code = code_or(Some(plan), plan_ref);
    let template_code = code_or(template, template_ref);
    out.push(Finding::error(
        LINK_CURRENCY,
        "planId",
        format!(
            "`planId`: plan `{plan_code}` bills in {plan_currency} (its plan template \
             `{template_code}`), but plan group `{group_code}` is in {group_currency}; a plan \
             group's plans share its currency, so link a {group_currency} plan or change the \
             currency of one of them"
        ),
    ));
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::Kind;
    use crate::rules::fixture::{Fixture, body};

    #[test]
    fn a_linked_plan_bills_in_the_group_currency() {
        let f = Fixture::default()
            .with(
                Kind::PlanTemplate,
                "std_usd",
                json!({"code": "std_usd", "currency": "USD"}),
            )
            .with(
                Kind::PlanTemplate,
                "std_gbp",
                json!({"code": "std_gbp", "currency": "GBP"}),
            )
            .with(
                Kind::Plan,
                "pro",
                json!({"code": "pro", "planTemplateId": "std_usd"}),
            )
            .with(
                Kind::Plan,
                "pro_uk",
                json!({"code": "pro_uk", "planTemplateId": "std_gbp"}),
            )
            .with(
                Kind::PlanGroup,
                "bundle",
                json!({"code": "bundle", "name": "Bundle", "currency": "USD"}),
            );
        let link = |plan: &str| body(json!({"planGroupId": "bundle", "planId": plan}));
        assert_eq!(f.render(Kind::PlanGroupLink, &link("pro")), "");
        // Unknown targets are reported elsewhere, not here.
        assert_eq!(f.render(Kind::PlanGroupLink, &link("missing")), "");
        insta::assert_snapshot!(f.render(Kind::PlanGroupLink, &link("pro_uk")));
    }
}
