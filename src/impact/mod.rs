//! What a plan does to invoices before it is applied (`plan
//! --bill-impact`): every affected account's bill for a period, rated twice
//! by the one rating engine (`m3ter-rating`, the emulator's too) — under
//! the live configuration and under the configuration the plan leaves —
//! from that account's usage in the period, read through the org's usage
//! query API. Amounts follow this tool's documented rating rules (README,
//! "Billing"); m3ter's exact maths is not public.

mod org;
pub mod render;
mod scope;
mod usage;

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Months, NaiveDate, NaiveTime, Utc};
use serde::Serialize;
use serde_json::Value;

use m3ter_api::Kind;
use m3ter_rating::{Decimal, Object, Org, Usage, Window, account_bill, money};

use crate::client::{ApiError, Client};
use crate::live::LiveSnapshot;
use crate::plan::{BodyError, Plan};
use crate::state::State;
use org::OrgView;

/// What the report says about its amounts, in every format.
pub const RATING_NOTE: &str = "Amounts follow this tool's documented rating rules (README, \"Billing\"); m3ter's exact maths is not public.";

/// Why a preview could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ImpactError {
    /// The planned configuration cannot be built (a reference without id).
    #[error("cannot build the planned configuration: {0}")]
    Body(#[from] BodyError),
    /// Reading usage, bills or balance transactions failed.
    #[error("cannot read the org's usage or bills: {0}")]
    Api(#[from] Box<ApiError>),
}

impl From<ApiError> for ImpactError {
    fn from(e: ApiError) -> Self {
        ImpactError::Api(Box::new(e))
    }
}

/// The billing period a preview covers: whole UTC days, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: NaiveDate,
    /// The day after the last day.
    pub end: NaiveDate,
}

impl Period {
    /// The last complete calendar month before `today`.
    pub fn last_month(today: NaiveDate) -> Period {
        let this = today.with_day(1).unwrap_or(today);
        let start = this.checked_sub_months(Months::new(1)).unwrap_or(this);
        Period { start, end: this }
    }

    /// A calendar month given as `YYYY-MM`.
    pub fn month(text: &str) -> Result<Period, String> {
        let start = NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d")
            .map_err(|_| format!("--period `{text}` is not a month like 2026-11"))?;
        let end = start
            .checked_add_months(Months::new(1))
            .ok_or_else(|| format!("--period `{text}` is out of range"))?;
        Ok(Period { start, end })
    }

    /// `--from FIRST --to LAST`, both days included.
    pub fn days(from: &str, to: &str) -> Result<Period, String> {
        let day = |flag: &str, s: &str| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| format!("{flag} `{s}` is not a date like 2026-11-01"))
        };
        let (start, last) = (day("--from", from)?, day("--to", to)?);
        if last < start {
            return Err(format!("--to {to} is before --from {from}"));
        }
        let end = last
            .succ_opt()
            .ok_or_else(|| format!("--to `{to}` is out of range"))?;
        Ok(Period { start, end })
    }

    fn window(self) -> Window {
        let at = |d: NaiveDate| d.and_time(NaiveTime::MIN).and_utc();
        Window {
            from: at(self.start),
            to: at(self.end),
        }
    }

    /// The last day of the period.
    pub fn last_day(self) -> NaiveDate {
        self.end.pred_opt().unwrap_or(self.end)
    }
}

/// A date-time field, or a date as its midnight UTC.
pub(crate) fn instant(s: &str) -> Option<DateTime<Utc>> {
    m3ter_api::validate::parse_date_time(s).or_else(|| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .map(|d| d.and_time(NaiveTime::MIN).and_utc())
    })
}

/// The preview: a value, rendered by [`render`] and in the plan's `--json`
/// document as `billImpact`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BillImpact {
    pub period: PeriodJson,
    /// Every account whose bill the plan could change, by account code.
    pub accounts: Vec<AccountImpact>,
    pub totals: Totals,
    pub note: &'static str,
    /// Usage queries the preview sent (0 when no change is one rating reads).
    pub usage_queries: usize,
}

/// The period as timestamps, `end` exclusive (as a bill's service period).
#[derive(Debug, Clone, Serialize)]
pub struct PeriodJson {
    pub start: String,
    pub end: String,
}

/// One account's bill before and after.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountImpact {
    /// The account's code.
    pub account: String,
    pub name: String,
    pub currency: String,
    pub before: Value,
    pub after: Value,
    pub delta: Value,
    /// `delta / before` in percent; null when `before` is 0.
    pub percent: Value,
    pub line_items: Vec<LineImpact>,
    #[serde(skip)]
    pub(crate) exact: Amounts,
}

/// One line of the bill before and after; `before` or `after` is null for a
/// line only one of the two bills has.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LineImpact {
    pub line_item_type: String,
    pub description: String,
    /// The plan or plan group code the line is billed under, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// The aggregation, counter, commitment or balance the line is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// `changed`, `unchanged`, `added` or `removed`.
    pub change: &'static str,
    pub before: Value,
    pub after: Value,
    pub delta: Value,
    pub percent: Value,
}

/// Totals over the accounts; with accounts in several currencies, one entry
/// per currency in `byCurrency` and null sums.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    pub currency: Option<String>,
    pub before: Value,
    pub after: Value,
    pub delta: Value,
    pub percent: Value,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub by_currency: Vec<CurrencyTotal>,
}

/// The totals of the accounts billed in one currency.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CurrencyTotal {
    pub currency: String,
    pub before: Value,
    pub after: Value,
    pub delta: Value,
    pub percent: Value,
    #[serde(skip)]
    pub(crate) exact: Amounts,
}

/// Exact before/after amounts (rendering rounds them, JSON does not).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Amounts {
    pub(crate) before: Decimal,
    pub(crate) after: Decimal,
}

impl Amounts {
    pub(crate) fn delta(self) -> Decimal {
        money::sub(self.after, self.before)
    }
    /// `delta / before` in percent, None when `before` is zero.
    pub(crate) fn percent(self) -> Option<Decimal> {
        (!self.before.is_zero()).then(|| {
            money::mul(
                money::div(self.delta(), self.before.abs()),
                Decimal::from(100),
            )
        })
    }
    fn json(self) -> [Value; 4] {
        [
            money::number(self.before),
            money::number(self.after),
            money::number(self.delta()),
            self.percent()
                .map_or(Value::Null, |p| money::number(p.round_dp(4))),
        ]
    }
}

impl BillImpact {
    /// Whether the plan changes nothing rating reads (then no usage was read).
    pub fn is_none(&self) -> bool {
        self.accounts.is_empty()
    }

    /// Whether any account's bill changes.
    pub fn changes_bills(&self) -> bool {
        self.accounts
            .iter()
            .any(|a| a.exact.before != a.exact.after)
            || self
                .accounts
                .iter()
                .flat_map(|a| &a.line_items)
                .any(|l| l.change != "unchanged")
    }
}

/// The preview of `plan` for `period`: reads usage (and, for accounts with
/// commitments or balances, their earlier bills and balance transactions)
/// from the org through `client`; reads nothing when no change of the plan
/// is one that rating reads.
pub async fn preview(
    client: &Client,
    plan: &Plan,
    state: &State,
    live: &LiveSnapshot,
    period: Period,
) -> Result<BillImpact, ImpactError> {
    let window = period.window();
    let mut before = OrgView::live(live);
    let ids = org::planned_ids(plan, state);
    let mut after = before.planned(plan, state)?;
    let accounts =
        scope::affected_accounts(plan, &before, &after, &ids, window).unwrap_or_default();
    if !accounts.is_empty() {
        let (bills, transactions) = history(client, &accounts, &before, &after, window).await?;
        before.add_history(bills.clone(), transactions.clone());
        after.add_history(bills, transactions);
    }
    let recorder = usage::Recorder::default();
    for id in &accounts {
        rate_both(&before, &after, id, &recorder, window);
    }
    let answers = if accounts.is_empty() {
        usage::Answers::default()
    } else {
        recorder.fetch(client).await?
    };
    let mut impacts: Vec<AccountImpact> = accounts
        .iter()
        .filter_map(|id| {
            let (b, a) = rate_both(&before, &after, id, &answers, window);
            account_impact(&before, &after, id, b, a)
        })
        .collect();
    impacts.sort_by(|a, b| a.account.cmp(&b.account));
    let totals = totals(&impacts);
    Ok(BillImpact {
        period: PeriodJson {
            start: timestamp(window.from),
            end: timestamp(window.to),
        },
        accounts: impacts,
        totals,
        note: RATING_NOTE,
        usage_queries: answers.queries,
    })
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A bill: its lines (API form), total and currency; None when the account
/// is not in that configuration.
type Rated = Option<m3ter_rating::AccountBill>;

fn rate_both(
    before: &OrgView,
    after: &OrgView,
    account_id: &str,
    usage: &dyn Usage,
    window: Window,
) -> (Rated, Rated) {
    let rate = |org: &OrgView| {
        org.get(Kind::Account, account_id)
            .map(|account| account_bill(org, usage, account, window))
    };
    (rate(before), rate(after))
}

/// The accounts' bills ending by the period start (with line items) and
/// their balances' transactions, for the accounts that have a commitment
/// or a balance in either configuration (what those drew before).
async fn history(
    client: &Client,
    accounts: &BTreeSet<String>,
    before: &OrgView,
    after: &OrgView,
    window: Window,
) -> Result<(HashMap<String, Vec<Object>>, HashMap<String, Vec<Object>>), ImpactError> {
    let of_account = |org: &OrgView, kind: Kind, id: &str| -> Vec<String> {
        org.all(kind)
            .into_iter()
            .filter(|o| o.get("accountId").and_then(Value::as_str) == Some(id))
            .filter_map(|o| o.get("id").and_then(Value::as_str).map(str::to_owned))
            .collect()
    };
    let mut bills = HashMap::new();
    let mut transactions = HashMap::new();
    for id in accounts {
        let commitments = [before, after]
            .iter()
            .any(|org| !of_account(org, Kind::Commitment, id).is_empty());
        // Only balances that exist have transactions.
        let balances = of_account(before, Kind::Balance, id);
        let planned_balances = !of_account(after, Kind::Balance, id).is_empty();
        if !commitments && balances.is_empty() && !planned_balances {
            continue;
        }
        let mut earlier = Vec::new();
        let listed =
            crate::usage::bills::list_pages(client, "bills", &[("accountId", id.clone())]).await?;
        for bill in listed {
            let ends = bill
                .get("endDateTimeUTC")
                .and_then(Value::as_str)
                .and_then(instant);
            if ends.is_none_or(|end| end > window.from) {
                continue;
            }
            let Some(bill_id) = bill.get("id").and_then(Value::as_str) else {
                continue;
            };
            let mut full = bill.as_object().cloned().unwrap_or_default();
            let lines =
                crate::usage::bills::list_pages(client, &format!("bills/{bill_id}/lineitems"), &[])
                    .await?;
            full.insert("lineItems".into(), Value::Array(lines));
            earlier.push(full);
        }
        bills.insert(id.clone(), earlier);
        for balance in balances {
            let listed = crate::usage::bills::list_pages(
                client,
                &format!("balances/{balance}/transactions"),
                &[],
            )
            .await?;
            let list = listed
                .into_iter()
                .filter_map(|v| v.as_object().cloned())
                .collect();
            transactions.insert(balance, list);
        }
    }
    Ok((bills, transactions))
}

fn str_of<'a>(o: &'a Object, key: &str) -> Option<&'a str> {
    o.get(key).and_then(Value::as_str)
}

/// A line item reduced to what the comparison needs.
struct Line {
    key: String,
    kind: String,
    description: String,
    plan: Option<String>,
    source: Option<String>,
    subtotal: Decimal,
}

/// The code of an entity, or its id when it has none.
fn code_of(org: &OrgView, kind: Kind, id: &str) -> String {
    org.get(kind, id)
        .and_then(|o| str_of(o, "code").or_else(|| str_of(o, "name")))
        .unwrap_or(id)
        .to_owned()
}

/// A bill's lines keyed by what they bill (type, plan, source, segment), so
/// the same line matches in both configurations whatever its ids; repeated
/// keys (several service periods) are numbered in order.
fn lines_of(org: &OrgView, bill: &m3ter_rating::AccountBill) -> Vec<Line> {
    const SOURCES: &[(&str, Kind)] = &[
        ("aggregationId", Kind::Aggregation),
        ("compoundAggregationId", Kind::CompoundAggregation),
        ("counterId", Kind::Counter),
        ("commitmentId", Kind::Commitment),
        ("balanceId", Kind::Balance),
    ];
    let mut seen: HashMap<String, usize> = HashMap::new();
    bill.lines
        .iter()
        .map(|l| {
            let kind = str_of(l, "lineItemType").unwrap_or("LINE").to_owned();
            let plan = str_of(l, "planId")
                .map(|id| code_of(org, Kind::Plan, id))
                .or_else(|| str_of(l, "planGroupId").map(|id| code_of(org, Kind::PlanGroup, id)));
            let source = SOURCES
                .iter()
                .find_map(|(field, k)| str_of(l, field).map(|id| code_of(org, *k, id)));
            let segment = l.get("segment").map(Value::to_string).unwrap_or_default();
            let base = format!(
                "{kind}|{}|{}|{segment}",
                plan.as_deref().unwrap_or(""),
                source.as_deref().unwrap_or("")
            );
            let n = seen.entry(base.clone()).or_default();
            *n += 1;
            Line {
                key: format!("{base}#{n}"),
                kind,
                description: str_of(l, "description").unwrap_or_default().to_owned(),
                plan,
                source,
                subtotal: l
                    .get("subtotal")
                    .and_then(money::decimal)
                    .unwrap_or_default(),
            }
        })
        .collect()
}

fn account_impact(
    before_org: &OrgView,
    after_org: &OrgView,
    account_id: &str,
    before: Rated,
    after: Rated,
) -> Option<AccountImpact> {
    let account = after_org
        .get(Kind::Account, account_id)
        .or_else(|| before_org.get(Kind::Account, account_id))?;
    let old = before
        .as_ref()
        .map(|b| lines_of(before_org, b))
        .unwrap_or_default();
    let new = after
        .as_ref()
        .map(|b| lines_of(after_org, b))
        .unwrap_or_default();
    let mut items = Vec::new();
    let line = |l: &Line, exact: Amounts, change: &'static str| {
        let [b, a, d, p] = exact.json();
        let (b, a) = match change {
            "added" => (Value::Null, a),
            "removed" => (b, Value::Null),
            _ => (b, a),
        };
        LineImpact {
            line_item_type: l.kind.clone(),
            description: l.description.clone(),
            plan: l.plan.clone(),
            source: l.source.clone(),
            change,
            before: b,
            after: a,
            delta: d,
            percent: p,
        }
    };
    for n in &new {
        let exact = match old.iter().find(|o| o.key == n.key) {
            Some(o) => Amounts {
                before: o.subtotal,
                after: n.subtotal,
            },
            None => Amounts {
                before: Decimal::ZERO,
                after: n.subtotal,
            },
        };
        let change = match old.iter().any(|o| o.key == n.key) {
            false => "added",
            true if exact.before == exact.after => "unchanged",
            true => "changed",
        };
        items.push(line(n, exact, change));
    }
    for o in old.iter().filter(|o| !new.iter().any(|n| n.key == o.key)) {
        let exact = Amounts {
            before: o.subtotal,
            after: Decimal::ZERO,
        };
        items.push(line(o, exact, "removed"));
    }
    let exact = Amounts {
        before: before.as_ref().map_or(Decimal::ZERO, |b| b.total),
        after: after.as_ref().map_or(Decimal::ZERO, |b| b.total),
    };
    let currency = after
        .as_ref()
        .or(before.as_ref())
        .map_or_else(|| "USD".to_owned(), |b| b.currency.clone());
    let [b, a, d, p] = exact.json();
    Some(AccountImpact {
        account: str_of(account, "code").unwrap_or(account_id).to_owned(),
        name: str_of(account, "name").unwrap_or_default().to_owned(),
        currency,
        before: b,
        after: a,
        delta: d,
        percent: p,
        line_items: items,
        exact,
    })
}

fn totals(accounts: &[AccountImpact]) -> Totals {
    let mut by: Vec<CurrencyTotal> = Vec::new();
    for a in accounts {
        let slot = match by.iter_mut().position(|t| t.currency == a.currency) {
            Some(i) => &mut by[i],
            None => {
                by.push(CurrencyTotal {
                    currency: a.currency.clone(),
                    before: Value::Null,
                    after: Value::Null,
                    delta: Value::Null,
                    percent: Value::Null,
                    exact: Amounts::default(),
                });
                by.last_mut().expect("just pushed")
            }
        };
        slot.exact.before = money::add(slot.exact.before, a.exact.before);
        slot.exact.after = money::add(slot.exact.after, a.exact.after);
    }
    for t in &mut by {
        [t.before, t.after, t.delta, t.percent] = t.exact.json();
    }
    if by.len() <= 1 {
        let one = by.pop();
        let exact = one.as_ref().map(|t| t.exact).unwrap_or_default();
        let [before, after, delta, percent] = exact.json();
        return Totals {
            currency: one.map(|t| t.currency),
            before,
            after,
            delta,
            percent,
            by_currency: Vec::new(),
        };
    }
    Totals {
        currency: None,
        before: Value::Null,
        after: Value::Null,
        delta: Value::Null,
        percent: Value::Null,
        by_currency: by,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn the_default_period_is_the_last_complete_calendar_month() {
        let p = Period::last_month(day("2026-12-02"));
        assert_eq!((p.start, p.end), (day("2026-11-01"), day("2026-12-01")));
        let p = Period::last_month(day("2025-01-31"));
        assert_eq!((p.start, p.end), (day("2024-12-01"), day("2025-01-01")));
        assert_eq!(p.last_day(), day("2024-12-31"));
    }

    #[test]
    fn periods_are_a_month_or_days_with_both_ends_included() {
        let p = Period::month("2024-12").expect("month");
        assert_eq!((p.start, p.end), (day("2024-12-01"), day("2025-01-01")));
        let p = Period::days("2024-12-01", "2024-12-15").expect("days");
        assert_eq!((p.start, p.end), (day("2024-12-01"), day("2024-12-16")));
        assert_eq!(
            Period::month("2024-13").unwrap_err(),
            "--period `2024-13` is not a month like 2026-11"
        );
        assert_eq!(
            Period::days("2024-12-15", "2024-12-01").unwrap_err(),
            "--to 2024-12-01 is before --from 2024-12-15"
        );
        assert_eq!(
            Period::days("12/01/2024", "2024-12-01").unwrap_err(),
            "--from `12/01/2024` is not a date like 2026-11-01"
        );
    }
}
