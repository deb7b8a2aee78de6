//! Commitments and balances: amounts an account's charges are drawn
//! against, and a commitment's fees.
//!
//! Drawing (a commitment, then a balance, each in `startDate` order):
//! - The eligible lines of the bill are those whose type is in the
//!   entity's `lineItemTypes` (default: every type the spec lists for it),
//!   whose product is in `productIds` (default: any), whose currency is the
//!   entity's and whose service period starts inside the entity's term.
//!   An OVERAGE_USAGE line counts as USAGE, and a COUNTER_ADJUSTMENT_CREDIT
//!   as the COUNTER_ADJUSTMENT_DEBIT it offsets.
//! - The amount drawn is the eligible lines' sum (what earlier drawdowns on
//!   this bill left of them), at most what remains of the entity: its
//!   amount (a balance: the sum of its transactions) less what the
//!   account's bills for earlier periods drew from it. It is one negative
//!   line: COMMITMENT_CONSUMED or BALANCE_CONSUMED.
//! - What is left over is the overage. A non-zero `overageSurchargePercent`
//!   charges it as one OVERAGE_SURCHARGE line (overage × percent / 100; a
//!   negative percent is a discount). A commitment with
//!   `separateOverageUsage` moves the overage out of its USAGE lines into
//!   OVERAGE_USAGE lines (the lines are drawn in bill order, so the first
//!   usage is covered and the last is overage; a line that straddles the
//!   limit is split, its units in proportion).

use chrono::{DateTime, Days, Months, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::fields::{instant, num_of, str_of};
use crate::money::{self, Decimal, add, div, mul, sub};
use crate::{Object, Window};

/// What is drawn down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drawn {
    Commitment,
    Balance,
}

impl Drawn {
    /// The line type of a draw.
    pub(crate) fn consumed(self) -> &'static str {
        match self {
            Drawn::Commitment => "COMMITMENT_CONSUMED",
            Drawn::Balance => "BALANCE_CONSUMED",
        }
    }
    /// The line item field naming the entity.
    pub(crate) fn id_field(self) -> &'static str {
        match self {
            Drawn::Commitment => "commitmentId",
            Drawn::Balance => "balanceId",
        }
    }
    /// The line types that may draw when `lineItemTypes` is empty (the
    /// options the spec lists for each).
    fn default_types(self) -> &'static [&'static str] {
        const COMMITMENT: &[&str] = &[
            "MINIMUM_SPEND",
            "STANDING_CHARGE",
            "USAGE",
            "COUNTER_RUNNING_TOTAL_CHARGE",
            "COUNTER_ADJUSTMENT_DEBIT",
        ];
        const BALANCE: &[&str] = &[
            "MINIMUM_SPEND",
            "STANDING_CHARGE",
            "USAGE",
            "COUNTER_RUNNING_TOTAL_CHARGE",
            "COUNTER_ADJUSTMENT_DEBIT",
            "AD_HOC",
        ];
        match self {
            Drawn::Commitment => COMMITMENT,
            Drawn::Balance => BALANCE,
        }
    }
    fn description(self) -> (&'static str, &'static str) {
        match self {
            Drawn::Commitment => ("commitmentUsageDescription", "Commitment consumed"),
            Drawn::Balance => ("balanceDrawDownDescription", "Balance consumed"),
        }
    }
}

/// A bill's lines while drawdowns run: each line, its subtotal, and how
/// much of it no drawdown has covered yet.
pub(crate) struct Ledger {
    pub(crate) lines: Vec<(Object, Decimal)>,
    left: Vec<Decimal>,
}

impl Ledger {
    pub(crate) fn new(lines: Vec<(Object, Decimal)>) -> Ledger {
        let left = lines.iter().map(|(_, s)| *s).collect();
        Ledger { lines, left }
    }

    pub(crate) fn push(&mut self, line: Object, subtotal: Decimal, drawable: bool) {
        self.lines.push((line, subtotal));
        self.left
            .push(if drawable { subtotal } else { Decimal::ZERO });
    }
}

/// The term of a commitment or balance: `[startDate, endDate)`.
pub(crate) fn term(entity: &Object) -> Option<Window> {
    let from = instant(entity, "startDate")?;
    let to = instant(entity, "endDate")?;
    (from < to).then_some(Window { from, to })
}

fn strings<'a>(o: &'a Object, key: &str) -> Vec<&'a str> {
    o.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The type a line draws as.
fn draw_type(line: &Object) -> &str {
    match str_of(line, "lineItemType").unwrap_or_default() {
        "OVERAGE_USAGE" => "USAGE",
        "COUNTER_ADJUSTMENT_CREDIT" => "COUNTER_ADJUSTMENT_DEBIT",
        t => t,
    }
}

/// Draws `entity` (of `available` remaining) against the ledger's eligible
/// lines and appends its lines; `base` makes a line item of a type,
/// subtotal and service period with the fields every line has.
pub(crate) fn draw(
    ledger: &mut Ledger,
    what: Drawn,
    entity: &Object,
    available: Decimal,
    base: &dyn Fn(&str, Decimal, Window) -> Object,
) {
    let Some(term) = term(entity) else { return };
    let currency = str_of(entity, "currency");
    let types = strings(entity, "lineItemTypes");
    let types: Vec<&str> = if types.is_empty() {
        what.default_types().to_vec()
    } else {
        types
    };
    let products = strings(entity, "productIds");
    let eligible: Vec<usize> = (0..ledger.lines.len())
        .filter(|&i| {
            let line = &ledger.lines[i].0;
            types.contains(&draw_type(line))
                && (products.is_empty()
                    || str_of(line, "productId").is_some_and(|p| products.contains(&p)))
                && currency.is_none_or(|c| str_of(line, "currency") == Some(c))
                && instant(line, "servicePeriodStartDate").is_some_and(|t| term.contains(t))
        })
        .collect();
    if eligible.is_empty() {
        return;
    }
    let sum = eligible
        .iter()
        .fold(Decimal::ZERO, |acc, &i| add(acc, ledger.left[i]));
    let drawn = sum.min(available).max(Decimal::ZERO);
    // Credits net against the charges: the positive lines give up the
    // drawn amount plus the credits' value.
    let mut rest = drawn;
    for &i in &eligible {
        if ledger.left[i].is_sign_negative() {
            rest = sub(rest, ledger.left[i]);
            ledger.left[i] = Decimal::ZERO;
        }
    }
    for &i in &eligible {
        let take = ledger.left[i].min(rest).max(Decimal::ZERO);
        ledger.left[i] = sub(ledger.left[i], take);
        rest = sub(rest, take);
    }
    let service = Window {
        from: term.from,
        to: term.to,
    };
    let id = entity.get("id").cloned().unwrap_or(Value::Null);
    if !drawn.is_zero() {
        let mut line = base(what.consumed(), -drawn, service);
        let (key, default) = what.description();
        line.insert(
            "description".into(),
            json!(str_of(entity, key).unwrap_or(default)),
        );
        line.insert(what.id_field().into(), id.clone());
        ledger.push(line, -drawn, false);
    }
    let overage = sub(sum, drawn);
    if overage <= Decimal::ZERO {
        return;
    }
    let description = str_of(entity, "overageDescription");
    if what == Drawn::Commitment
        && entity.get("separateOverageUsage").and_then(Value::as_bool) == Some(true)
    {
        for &i in &eligible {
            let (left, subtotal) = (ledger.left[i], ledger.lines[i].1);
            if str_of(&ledger.lines[i].0, "lineItemType") != Some("USAGE") || left <= Decimal::ZERO
            {
                continue;
            }
            let mut over = ledger.lines[i].0.clone();
            over.insert("lineItemType".into(), json!("OVERAGE_USAGE"));
            if let Some(d) = description {
                over.insert("description".into(), json!(d));
            }
            over.insert(what.id_field().into(), id.clone());
            if left == subtotal {
                ledger.lines[i].0 = over;
                continue;
            }
            over.insert("id".into(), json!(uuid::Uuid::new_v4().to_string()));
            over.remove("usagePerPricingBand");
            let covered = sub(subtotal, left);
            scale(&mut ledger.lines[i].0, covered, subtotal);
            ledger.lines[i].1 = covered;
            ledger.left[i] = Decimal::ZERO;
            scale(&mut over, left, subtotal);
            ledger.push(over, left, true);
        }
    }
    let percent = num_of(entity, "overageSurchargePercent").unwrap_or_default();
    let surcharge = div(mul(overage, percent), Decimal::from(100));
    if !surcharge.is_zero() {
        let mut line = base("OVERAGE_SURCHARGE", surcharge, service);
        line.insert(
            "description".into(),
            json!(description.unwrap_or("Overage surcharge")),
        );
        line.insert(what.id_field().into(), id);
        line.insert("quantity".into(), money::number(overage));
        line.insert("units".into(), money::number(overage));
        ledger.push(line, surcharge, false);
    }
}

/// Gives a line `part` of its `whole` subtotal, and its units and quantity
/// in proportion.
fn scale(line: &mut Object, part: Decimal, whole: Decimal) {
    for key in ["quantity", "units"] {
        if let Some(q) = num_of(line, key) {
            let q = q
                .checked_mul(part)
                .and_then(|x| x.checked_div(whole))
                .unwrap_or_default();
            line.insert(key.into(), money::number(q));
        }
    }
    for key in ["subtotal", "convertedSubtotal"] {
        line.insert(key.into(), money::number(part));
    }
}

/// One commitment fee: billed on the bill whose period holds `date`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fee {
    pub(crate) date: DateTime<Utc>,
    pub(crate) amount: Decimal,
    pub(crate) service: Window,
}

/// The billing cycle fees follow without `feeDates`: a billing plan's
/// `billFrequency` and `billFrequencyInterval`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cycle<'a> {
    pub(crate) frequency: &'a str,
    pub(crate) interval: u32,
}

impl Cycle<'_> {
    #[cfg(test)]
    pub(crate) const MONTHLY: Cycle<'static> = Cycle {
        frequency: "MONTHLY",
        interval: 1,
    };

    /// The `k`-th cycle start from `epoch` (None past the calendar, or for
    /// a frequency with one cycle only).
    fn nth(&self, epoch: NaiveDate, k: u32) -> Option<NaiveDate> {
        let n = self.interval.max(1).checked_mul(k)?;
        match self.frequency {
            "DAILY" => epoch.checked_add_days(Days::new(n.into())),
            "WEEKLY" => epoch.checked_add_days(Days::new(7 * u64::from(n))),
            "MONTHLY" => epoch.checked_add_months(Months::new(n)),
            "ANNUALLY" => epoch.checked_add_months(Months::new(n.checked_mul(12)?)),
            _ if k == 0 => Some(epoch),
            _ => None,
        }
    }
}

/// Most fee installments one commitment is split into.
const MAX_INSTALLMENTS: u32 = 100_000;

/// A commitment's fees in `period`: its `feeDates` whose date is in the
/// period; without them, with a billing plan (its `cycle`), its outstanding
/// amount (`amount` − `amountPrePaid`) in one installment per billing cycle
/// of the term (from `billEpoch` or `startDate`), dated at the cycle start:
/// the first is `amountFirstBill` when given, the rest share what remains
/// equally, and the last takes the rounding, so the installments add up
/// exactly. With neither, no fee is billed.
pub(crate) fn commitment_fees(
    commitment: &Object,
    period: Window,
    cycle: Option<Cycle<'_>>,
) -> Vec<Fee> {
    if let Some(dates) = commitment.get("feeDates").and_then(Value::as_array)
        && !dates.is_empty()
    {
        return dates
            .iter()
            .filter_map(Value::as_object)
            .filter_map(|f| {
                let date = instant(f, "date")?;
                let from = instant(f, "servicePeriodStartDate").unwrap_or(date);
                let to = instant(f, "servicePeriodEndDate").unwrap_or(from);
                Some(Fee {
                    date,
                    amount: num_of(f, "amount")?,
                    service: Window { from, to },
                })
            })
            .filter(|f| period.contains(f.date))
            .collect();
    }
    let (Some(term), Some(cycle)) = (term(commitment), cycle) else {
        return Vec::new();
    };
    let outstanding = sub(
        num_of(commitment, "amount").unwrap_or_default(),
        num_of(commitment, "amountPrePaid").unwrap_or_default(),
    );
    if outstanding <= Decimal::ZERO {
        return Vec::new();
    }
    let start = term.from.date_naive();
    let epoch = instant(commitment, "billEpoch")
        .map(|e| e.date_naive())
        .filter(|e| *e <= start)
        .unwrap_or(start);
    let midnight = |d: NaiveDate| d.and_time(chrono::NaiveTime::MIN).and_utc();
    // The cycles overlapping the term, clipped to it.
    let mut cycles: Vec<Window> = Vec::new();
    let mut k = 0;
    while let Some(c) = cycle.nth(epoch, k) {
        let next = cycle.nth(epoch, k + 1).map_or(term.to, midnight);
        let from = midnight(c).max(term.from);
        let to = next.min(term.to);
        if from >= term.to || k >= MAX_INSTALLMENTS {
            break;
        }
        if from < to {
            cycles.push(Window { from, to });
        }
        k += 1;
    }
    let n = cycles.len();
    if n == 0 {
        return Vec::new();
    }
    let first = num_of(commitment, "amountFirstBill")
        .filter(|f| *f > Decimal::ZERO && n > 1)
        .map(|f| f.min(outstanding));
    let (first, share) = match first {
        Some(f) => (f, div(sub(outstanding, f), Decimal::from(n - 1))),
        None => {
            let share = div(outstanding, Decimal::from(n));
            (share, share)
        }
    };
    let mut billed = Decimal::ZERO;
    let mut fees = Vec::new();
    for (i, service) in cycles.into_iter().enumerate() {
        let amount = match i {
            0 => first,
            _ if i + 1 == n => sub(outstanding, billed),
            _ => share,
        };
        billed = add(billed, amount);
        if period.contains(service.from) {
            fees.push(Fee {
                date: service.from,
                amount,
                service,
            });
        }
    }
    fees
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::{at, d, obj};
    fn month(from: &str, to: &str) -> Window {
        Window {
            from: at(&format!("{from}T00:00:00Z")),
            to: at(&format!("{to}T00:00:00Z")),
        }
    }
    fn line(kind: &str, subtotal: &str, product: &str) -> (Object, Decimal) {
        let l = obj(
            json!({"lineItemType": kind, "subtotal": subtotal.parse::<f64>().unwrap(),
            "currency": "USD", "productId": product, "quantity": 10, "units": 10,
            "servicePeriodStartDate": "2024-12-01T00:00:00Z"}),
        );
        (l, d(subtotal))
    }
    fn base(kind: &str, subtotal: Decimal, _: Window) -> Object {
        obj(json!({"lineItemType": kind, "subtotal": money::number(subtotal)}))
    }
    fn commitment(extra: Value) -> Object {
        let mut c = obj(json!({"id": "c1", "currency": "USD", "amount": 100,
            "startDate": "2024-12-01", "endDate": "2025-12-01"}));
        c.extend(obj(extra));
        c
    }
    fn summary(ledger: &Ledger) -> Vec<(String, Decimal)> {
        ledger
            .lines
            .iter()
            .map(|(l, s)| (str_of(l, "lineItemType").unwrap().to_owned(), *s))
            .collect()
    }
    fn s(kind: &str, amount: &str) -> (String, Decimal) {
        (kind.to_owned(), d(amount))
    }

    #[test]
    fn a_commitment_covers_charges_up_to_what_remains() {
        let mut ledger = Ledger::new(vec![
            line("USAGE", "60", "p"),
            line("STANDING_CHARGE", "10", "p"),
        ]);
        draw(
            &mut ledger,
            Drawn::Commitment,
            &commitment(json!({})),
            d("50"),
            &base,
        );
        assert_eq!(
            summary(&ledger),
            [
                s("USAGE", "60"),
                s("STANDING_CHARGE", "10"),
                s("COMMITMENT_CONSUMED", "-50")
            ]
        );
        // The balance after it draws what is left (20), up to its 15.
        let balance = obj(json!({"id": "b", "currency": "USD",
            "startDate": "2024-01-01T00:00:00Z", "endDate": "2026-01-01T00:00:00Z"}));
        draw(&mut ledger, Drawn::Balance, &balance, d("15"), &base);
        assert_eq!(summary(&ledger)[3], s("BALANCE_CONSUMED", "-15"));
    }

    #[test]
    fn types_products_and_term_limit_what_is_drawn() {
        let mut ledger = Ledger::new(vec![
            line("USAGE", "60", "p"),
            line("USAGE", "7", "other"),
            line("STANDING_CHARGE", "10", "p"),
        ]);
        let c = commitment(json!({"lineItemTypes": ["USAGE"], "productIds": ["p"]}));
        draw(&mut ledger, Drawn::Commitment, &c, d("1000"), &base);
        assert_eq!(summary(&ledger)[3], s("COMMITMENT_CONSUMED", "-60"));
        let later = commitment(json!({"startDate": "2025-01-01"}));
        let before = ledger.lines.len();
        draw(&mut ledger, Drawn::Commitment, &later, d("1000"), &base);
        assert_eq!(ledger.lines.len(), before, "the lines are before its term");
    }

    #[test]
    fn overage_is_surcharged() {
        let mut ledger = Ledger::new(vec![line("USAGE", "60", "p")]);
        let c = commitment(json!({"overageSurchargePercent": 12.5}));
        draw(&mut ledger, Drawn::Commitment, &c, d("50"), &base);
        assert_eq!(
            summary(&ledger),
            [
                s("USAGE", "60"),
                s("COMMITMENT_CONSUMED", "-50"),
                s("OVERAGE_SURCHARGE", "1.25")
            ]
        );
    }

    #[test]
    fn separate_overage_usage_splits_the_straddling_line() {
        let mut ledger = Ledger::new(vec![
            line("USAGE", "30", "p"),
            line("USAGE", "40", "p"),
            line("USAGE", "5", "p"),
        ]);
        let c = commitment(json!({"separateOverageUsage": true}));
        draw(&mut ledger, Drawn::Commitment, &c, d("50"), &base);
        assert_eq!(
            summary(&ledger),
            [
                s("USAGE", "30"),
                s("USAGE", "20"),
                s("OVERAGE_USAGE", "5"),
                s("COMMITMENT_CONSUMED", "-50"),
                s("OVERAGE_USAGE", "20"),
            ]
        );
        assert_eq!(ledger.lines[1].0["units"], json!(5.0), "10 units × 20/40");
        assert_eq!(ledger.lines[4].0["units"], json!(5.0));
        let total = ledger.lines.iter().fold(Decimal::ZERO, |a, (_, s)| a + s);
        assert_eq!(total, d("25"), "the overage is what is left to pay");
    }

    #[test]
    fn nothing_left_draws_nothing() {
        let mut ledger = Ledger::new(vec![line("USAGE", "60", "p")]);
        draw(
            &mut ledger,
            Drawn::Commitment,
            &commitment(json!({})),
            d("0"),
            &base,
        );
        assert_eq!(summary(&ledger), [s("USAGE", "60")]);
    }

    #[test]
    fn fee_dates_in_the_period() {
        let c = commitment(json!({"feeDates": [
            {"date": "2024-12-15", "amount": 40, "servicePeriodStartDate": "2024-12-01T00:00:00Z",
             "servicePeriodEndDate": "2025-01-01T00:00:00Z"},
            {"date": "2025-01-15", "amount": 60, "servicePeriodStartDate": "2025-01-01T00:00:00Z",
             "servicePeriodEndDate": "2025-02-01T00:00:00Z"}]}));
        let fees = commitment_fees(&c, month("2024-12-01", "2025-01-01"), Some(Cycle::MONTHLY));
        assert_eq!(fees.len(), 1);
        assert_eq!(fees[0].amount, d("40"));
        assert_eq!(fees[0].service, month("2024-12-01", "2025-01-01"));
    }

    #[test]
    fn installments_per_billing_cycle_add_up_exactly() {
        // 100 over 3 months: 33.33…, 33.33…, and the rest.
        let c = commitment(json!({"endDate": "2025-03-01"}));
        let all: Vec<Fee> = ["2024-12-01", "2025-01-01", "2025-02-01"]
            .iter()
            .zip(["2025-01-01", "2025-02-01", "2025-03-01"])
            .flat_map(|(f, t)| commitment_fees(&c, month(f, t), Some(Cycle::MONTHLY)))
            .collect();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].amount, d("100") / d("3"));
        let total = all.iter().fold(Decimal::ZERO, |a, f| a + f.amount);
        assert_eq!(total, d("100"));
        // Pre-paid and first-bill amounts.
        let c = commitment(
            json!({"endDate": "2025-03-01", "amountPrePaid": 10, "amountFirstBill": 30}),
        );
        let first = commitment_fees(&c, month("2024-12-01", "2025-01-01"), Some(Cycle::MONTHLY));
        assert_eq!(first[0].amount, d("30"));
        let second = commitment_fees(&c, month("2025-01-01", "2025-02-01"), Some(Cycle::MONTHLY));
        assert_eq!(second[0].amount, d("30"), "(100 - 10 - 30) / 2");
        // A quarterly plan: one fee for the three months.
        let quarterly = Cycle {
            frequency: "MONTHLY",
            interval: 3,
        };
        let fees = commitment_fees(&c, month("2024-12-01", "2025-01-01"), Some(quarterly));
        assert_eq!(fees[0].amount, d("90"));
        assert_eq!(fees[0].service, month("2024-12-01", "2025-03-01"));
    }
}
