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
pub fn account_bill(
    org: &dyn Org,
    usage: &dyn Usage,
    account: &Object,
    period: Window,
) -> AccountBill {
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Measurements;
    use crate::testing::{MemOrg, obj};

    fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
        m3ter_api::validate::parse_date_time(s).unwrap()
    }

    /// A plan in EUR charging 2 per unit of the SUM of `q`; the account's
    /// plan ends mid-period and an older one ended before it.
    fn org() -> MemOrg {
        let mut org = MemOrg::default();
        org.put(
            Kind::Product,
            json!({"id": "prod", "code": "p", "name": "P"}),
        );
        org.put(
            Kind::Meter,
            json!({"id": "meter", "code": "m", "productId": "prod",
                   "dataFields": [{"code": "q", "name": "Q", "category": "MEASURE"}]}),
        );
        org.put(
            Kind::Aggregation,
            json!({"id": "agg", "code": "a", "meterId": "meter", "targetField": "q",
                   "aggregation": "SUM"}),
        );
        org.put(
            Kind::PlanTemplate,
            json!({"id": "tpl", "productId": "prod", "currency": "EUR"}),
        );
        org.put(Kind::Plan, json!({"id": "plan", "planTemplateId": "tpl"}));
        org.put(
            Kind::Pricing,
            json!({"id": "pr", "planId": "plan", "aggregationId": "agg",
                   "pricingBands": [{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 2}]}),
        );
        org.put(
            Kind::AccountPlan,
            json!({"id": "old", "accountId": "acc", "planId": "plan",
                   "startDate": "2024-10-01T00:00:00Z", "endDate": "2024-12-01T00:00:00Z"}),
        );
        org.put(
            Kind::AccountPlan,
            json!({"id": "ap", "accountId": "acc", "planId": "plan",
                   "startDate": "2024-12-01T00:00:00Z", "endDate": "2024-12-16T00:00:00Z"}),
        );
        org
    }

    fn measurement(account: &str, ts: &str, q: i64) -> Object {
        obj(json!({"meterId": "meter", "accountId": account, "ts": ts, "measure": {"q": q}}))
    }

    #[test]
    fn an_account_bill_rates_the_overlapping_plans_in_their_currency() {
        let org = org();
        let account = obj(json!({"id": "acc", "code": "acme", "currency": "USD"}));
        let usage = [
            measurement("acc", "2024-12-03T00:00:00Z", 4),
            // After the account plan's end: not rated.
            measurement("acc", "2024-12-20T00:00:00Z", 100),
            // Another account's: not this account's usage.
            measurement("other", "2024-12-03T00:00:00Z", 1000),
        ];
        let usage: Vec<&Object> = usage.iter().collect();
        let december = Window {
            from: at("2024-12-01T00:00:00Z"),
            to: at("2025-01-01T00:00:00Z"),
        };
        let bill = account_bill(&org, &Measurements(&usage), &account, december);
        assert_eq!(
            bill.currency, "EUR",
            "the plan template's, not the account's"
        );
        assert_eq!(
            bill.lines.len(),
            1,
            "one USAGE line: the old plan ended before"
        );
        let line = &bill.lines[0];
        assert_eq!(line["lineItemType"], "USAGE");
        assert_eq!(line["quantity"], json!(4.0));
        assert_eq!(line["servicePeriodEndDate"], "2024-12-16T00:00:00.000Z");
        assert_eq!(bill.total, Decimal::from(8));
    }

    #[test]
    fn without_a_plan_the_account_currency_and_no_lines() {
        let org = org();
        let account = obj(json!({"id": "acc2", "currency": "GBP"}));
        let november = Window {
            from: at("2024-11-01T00:00:00Z"),
            to: at("2024-12-01T00:00:00Z"),
        };
        let bill = account_bill(&org, &Measurements(&[]), &account, november);
        assert_eq!(bill.currency, "GBP");
        assert!(bill.lines.is_empty());
        assert_eq!(bill.total, Decimal::ZERO);
    }
}
