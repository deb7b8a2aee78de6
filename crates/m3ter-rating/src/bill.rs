//! One account's bill for a period: which of its account plans rate it,
//! and its currency.

use m3ter_api::Kind;
use m3ter_api::validate::parse_instant;

use crate::fields::str_of;
use crate::money::Decimal;
use crate::rate::{LineItems, rate};
use crate::{Object, Org, Usage, Window};

/// One account's bill for a period: its line items, their exact total and
/// the bill's currency.
pub struct AccountBill {
    /// The line items in bill order, each with its `sequenceNumber`.
    pub lines: Vec<Object>,
    /// The sum of the lines' subtotals (`billTotal`).
    pub total: Decimal,
    /// The first of: an account plan's plan template's currency, an account
    /// plan's plan group's currency, the account's currency, USD.
    pub currency: String,
}

/// Whether `[startDate, endDate)` of `o` overlaps `window` (no date = open).
fn overlaps(o: &Object, window: Window) -> bool {
    let start = str_of(o, "startDate").and_then(parse_instant);
    let end = str_of(o, "endDate").and_then(parse_instant);
    start.is_none_or(|s| s < window.to) && end.is_none_or(|e| window.from < e)
}

/// `account`'s bill for `period`: [`rate`] over the account's plans (and
/// plan groups) whose term overlaps the period, in the bill's currency.
pub fn account_bill(org: &dyn Org, usage: &dyn Usage, account: &Object, period: Window) -> AccountBill {
    let account_id = str_of(account, "id").unwrap_or_default();
    // Newest first: the newest account plan's currency wins.
    let plans: Vec<Object> = org
        .all(Kind::AccountPlan)
        .into_iter()
        .rev()
        .filter(|ap| str_of(ap, "accountId") == Some(account_id))
        .filter(|ap| overlaps(ap, period))
        .cloned()
        .collect();
    let currency = plans
        .iter()
        .filter_map(|ap| org.get(Kind::Plan, str_of(ap, "planId")?))
        .filter_map(|p| org.get(Kind::PlanTemplate, str_of(p, "planTemplateId")?))
        .find_map(|t| str_of(t, "currency").map(str::to_owned))
        .or_else(|| {
            plans
                .iter()
                .filter_map(|ap| org.get(Kind::PlanGroup, str_of(ap, "planGroupId")?))
                .find_map(|g| str_of(g, "currency").map(str::to_owned))
        })
        .or_else(|| str_of(account, "currency").map(str::to_owned))
        .unwrap_or_else(|| "USD".to_owned());
    let LineItems { lines, total } = rate(org, usage, account_id, &plans, period);
    AccountBill {
        lines,
        total,
        currency,
    }
}
