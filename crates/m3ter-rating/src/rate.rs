//! Rating: turns an account's configuration and usage into bill line items
//! by the tool's documented rules (`design.md` §7). m3ter's own maths is
//! not public; these rules are ours.
//!
//! Per account plan active in the period, over the overlap of the two:
//! one USAGE line per rated pricing (even at 0), then the counter lines
//! ([`counters`]), then MINIMUM_SPEND top-ups (per pricing, then per plan)
//! and a prorated STANDING_CHARGE, the last two only when non-zero. An
//! account plan of a plan group rates each plan linked to the group, then
//! the group's own minimum spend and standing charge. Then the account's
//! commitment fees and the draws of its commitments and balances
//! ([`drawdown`]). Amounts stay exact (no rounding to cents): prices,
//! quantities and amounts are decimals ([`crate::money`]).

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use m3ter_api::Kind;
use m3ter_api::calc as expr;

use crate::counters;
use crate::drawdown::{Cycle, Drawn, Ledger, commitment_fees, draw};
use crate::fields::{instant, num_of, str_of, time_of, timestamp};
use crate::money::{self, Decimal, add, decimal, div, mul, sub};
use crate::usage::FieldQuery;
use crate::{Object, Org, Usage, Window};

/// A bill's line items and their exact total.
pub struct LineItems {
    /// The line items in bill order, each with its `sequenceNumber`.
    pub lines: Vec<Object>,
    /// The sum of the lines' subtotals (`billTotal`).
    pub total: Decimal,
}

/// The line items of one account's bill for `period` from the given
/// account plans (the caller chooses them: [`crate::account_bill`] takes
/// the account's plans overlapping the period); `usage` answers for the
/// account's measurements.
pub fn rate(
    org: &dyn Org,
    usage: &dyn Usage,
    account_id: &str,
    account_plans: &[Object],
    period: Window,
) -> LineItems {
    let mut plans: Vec<&Object> = account_plans.iter().collect();
    plans.sort_by_key(|ap| time_of(ap, "startDate"));
    let mut lines = Vec::new();
    for ap in plans {
        let from = time_of(ap, "startDate").map_or(period.from, |s| s.max(period.from));
        let to = time_of(ap, "endDate").map_or(period.to, |e| e.min(period.to));
        if from >= to {
            continue;
        }
        let window = Window { from, to };
        let mut ctx = Context {
            org,
            usage,
            account_id,
            window,
            quantities: HashMap::new(),
        };
        let plan = str_of(ap, "planId").and_then(|id| org.get(Kind::Plan, id));
        let group = str_of(ap, "planGroupId").and_then(|id| org.get(Kind::PlanGroup, id));
        if let Some(plan) = plan {
            lines.extend(ctx.rate_plan(plan, period, None));
        } else if let Some(group) = group {
            lines.extend(ctx.rate_group(group, period));
        }
    }
    let lines = account_level(org, account_id, lines, period);
    let mut total = Decimal::ZERO;
    let mut out = Vec::with_capacity(lines.len());
    for (i, (mut line, subtotal)) in lines.into_iter().enumerate() {
        total = add(total, subtotal);
        line.insert("sequenceNumber".into(), json!(i + 1));
        out.push(line);
    }
    LineItems { lines: out, total }
}

/// The account's entities of `kind`, oldest first, in `startDate` order
/// where they have one.
fn of_account<'s>(org: &'s dyn Org, kind: Kind, account_id: &str) -> Vec<&'s Object> {
    let mut v: Vec<&Object> = org
        .all(kind)
        .into_iter()
        .filter(|o| str_of(o, "accountId") == Some(account_id))
        .collect();
    v.sort_by_key(|o| instant(o, "startDate"));
    v
}

/// Appends the account-level lines (commitment fees, then the draws of
/// commitments and balances: [`drawdown`]) to the plans' lines.
fn account_level(
    org: &dyn Org,
    account_id: &str,
    lines: Vec<(Object, Decimal)>,
    period: Window,
) -> Vec<(Object, Decimal)> {
    let commitments = of_account(org, Kind::Commitment, account_id);
    let balances = of_account(org, Kind::Balance, account_id);
    let mut ledger = Ledger::new(lines);
    let base = |currency: &str| {
        let currency = currency.to_owned();
        move |kind: &str, subtotal: Decimal, service: Window| {
            let clipped = Window {
                from: service.from.max(period.from),
                to: service.to.min(period.to),
            };
            base_line(kind, subtotal, &currency, clipped)
        }
    };
    for c in &commitments {
        let currency = str_of(c, "currency").unwrap_or("USD");
        let billing_plan = str_of(c, "billingPlanId");
        let template = billing_plan
            .and_then(|id| org.get(Kind::Plan, id))
            .and_then(|p| str_of(p, "planTemplateId"))
            .and_then(|id| org.get(Kind::PlanTemplate, id));
        let cycle = template.map(|t| Cycle {
            frequency: str_of(t, "billFrequency").unwrap_or("MONTHLY"),
            interval: t
                .get("billFrequencyInterval")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(1),
        });
        for fee in commitment_fees(c, period, cycle) {
            // The fee's own service period, not clipped to the bill's.
            let mut line = base_line("COMMITMENT_FEE", fee.amount, currency, fee.service);
            let desc = str_of(c, "commitmentFeeDescription").unwrap_or("Commitment fee");
            line.insert("description".into(), json!(desc));
            line.insert("commitmentId".into(), c["id"].clone());
            if let Some(plan) = billing_plan {
                line.insert("planId".into(), json!(plan));
            }
            ledger.push(line, fee.amount, false);
        }
    }
    for c in &commitments {
        let amount = num_of(c, "amount").unwrap_or_default();
        let left = sub(
            amount,
            drawn_before(org, account_id, period, Drawn::Commitment, c),
        );
        let base = base(str_of(c, "currency").unwrap_or("USD"));
        draw(&mut ledger, Drawn::Commitment, c, left, &base);
    }
    for b in &balances {
        let amount = balance_amount(org, b);
        let left = sub(
            amount,
            drawn_before(org, account_id, period, Drawn::Balance, b),
        );
        let base = base(str_of(b, "currency").unwrap_or("USD"));
        draw(&mut ledger, Drawn::Balance, b, left, &base);
    }
    ledger.lines
}

/// What the account's bills for periods ending by `period`'s start drew
/// from `entity` (its COMMITMENT_CONSUMED or BALANCE_CONSUMED lines).
fn drawn_before(
    org: &dyn Org,
    account_id: &str,
    period: Window,
    what: Drawn,
    entity: &Object,
) -> Decimal {
    let id = str_of(entity, "id");
    let mut drawn = Decimal::ZERO;
    for bill in org.bills(account_id) {
        if str_of(bill, "accountId") != Some(account_id)
            || time_of(bill, "endDateTimeUTC").is_none_or(|end| end > period.from)
        {
            continue;
        }
        let lines = bill.get("lineItems").and_then(Value::as_array);
        for l in lines.into_iter().flatten().filter_map(Value::as_object) {
            if str_of(l, "lineItemType") == Some(what.consumed())
                && str_of(l, what.id_field()) == id
            {
                drawn = sub(drawn, num_of(l, "subtotal").unwrap_or_default());
            }
        }
    }
    drawn
}

/// A balance's amount: the sum of its transactions (its own `amount`
/// field is not read).
pub fn balance_amount(org: &dyn Org, balance: &Object) -> Decimal {
    let Some(id) = str_of(balance, "id") else {
        return Decimal::ZERO;
    };
    org.balance_transactions(id)
        .into_iter()
        .fold(Decimal::ZERO, |acc, t| {
            add(acc, num_of(t, "amount").unwrap_or_default())
        })
}

/// `amount × part / whole`, multiplied first so that 62 × 16 days / 31
/// days is exactly 32.
pub(crate) fn prorate(amount: Decimal, part: Decimal, whole: Decimal) -> Decimal {
    amount
        .checked_mul(part)
        .and_then(|x| x.checked_div(whole))
        .unwrap_or_else(|| mul(amount, div(part, whole)))
}

/// A line item with the fields every type shares, for `service`.
pub(crate) fn base_line(kind: &str, subtotal: Decimal, currency: &str, service: Window) -> Object {
    let subtotal = money::number(subtotal);
    let mut l = Object::new();
    l.insert("id".into(), json!(uuid::Uuid::new_v4().to_string()));
    l.insert("lineItemType".into(), json!(kind));
    l.insert("description".into(), json!(kind));
    l.insert("quantity".into(), json!(1));
    l.insert("units".into(), json!(1));
    l.insert("unit".into(), json!(""));
    l.insert("subtotal".into(), subtotal.clone());
    l.insert("currency".into(), json!(currency));
    l.insert("conversionRate".into(), json!(1));
    l.insert("convertedSubtotal".into(), subtotal.clone());
    l.insert("averageUnitPrice".into(), subtotal);
    l.insert(
        "servicePeriodStartDate".into(),
        json!(timestamp(service.from)),
    );
    l.insert("servicePeriodEndDate".into(), json!(timestamp(service.to)));
    l
}

struct Context<'a> {
    org: &'a dyn Org,
    /// The account's usage (all times; each query names the window).
    usage: &'a dyn Usage,
    account_id: &'a str,
    window: Window,
    /// Raw quantities by aggregation id (compound aggregations reuse them).
    quantities: HashMap<String, Decimal>,
}

/// What a line item is about, shared by all of one account plan's lines.
struct Common<'a> {
    plan: &'a Object,
    product: Option<&'a Object>,
    currency: String,
}

/// Lines that a minimum spend does not count: standing charges.
fn counts_for_minimum(line: &Object) -> bool {
    str_of(line, "lineItemType") != Some("STANDING_CHARGE")
}

impl<'a> Context<'a> {
    /// The lines of a plan group attached to the account: every linked
    /// plan's lines, then the group's MINIMUM_SPEND top-up (of those lines
    /// but their standing charges) and its prorated STANDING_CHARGE.
    fn rate_group(&mut self, group: &Object, period: Window) -> Vec<(Object, Decimal)> {
        let org = self.org;
        // Oldest first: a stable line order.
        let links: Vec<&Object> = org
            .all(Kind::PlanGroupLink)
            .into_iter()
            .filter(|l| str_of(l, "planGroupId") == str_of(group, "id"))
            .collect();
        let mut lines = Vec::new();
        for link in links {
            if let Some(plan) = str_of(link, "planId").and_then(|id| org.get(Kind::Plan, id)) {
                lines.extend(self.rate_plan(plan, period, Some(group)));
            }
        }
        let charged = lines
            .iter()
            .filter(|(l, _)| counts_for_minimum(l))
            .fold(Decimal::ZERO, |acc, (_, s)| add(acc, *s));
        let currency = str_of(group, "currency").unwrap_or("USD");
        let group_line = |kind: &str, subtotal: Decimal, desc: &str| {
            let mut line = base_line(kind, subtotal, currency, self.window);
            line.insert("description".into(), json!(desc));
            line.insert("planGroupId".into(), group["id"].clone());
            line
        };
        let minimum = num_of(group, "minimumSpend").unwrap_or_default();
        if minimum > charged {
            let top_up = sub(minimum, charged);
            let desc = str_of(group, "minimumSpendDescription").unwrap_or("Minimum spend");
            lines.push((group_line("MINIMUM_SPEND", top_up, desc), top_up));
        }
        let charge = num_of(group, "standingCharge").unwrap_or_default();
        let prorated = prorate(charge, self.window.millis(), period.millis());
        if !prorated.is_zero() {
            let desc = str_of(group, "standingChargeDescription").unwrap_or("Standing charge");
            lines.push((group_line("STANDING_CHARGE", prorated, desc), prorated));
        }
        lines
    }

    /// A plan's lines over the window, each with its exact subtotal; in a
    /// plan group, each names the group.
    fn rate_plan(
        &mut self,
        plan: &Object,
        period: Window,
        group: Option<&Object>,
    ) -> Vec<(Object, Decimal)> {
        let org = self.org;
        let Some(template) =
            str_of(plan, "planTemplateId").and_then(|id| org.get(Kind::PlanTemplate, id))
        else {
            return Vec::new();
        };
        let common = Common {
            plan,
            product: str_of(template, "productId").and_then(|id| org.get(Kind::Product, id)),
            currency: str_of(template, "currency").unwrap_or("USD").to_owned(),
        };
        let mut lines = Vec::new();
        let mut usage_total = Decimal::ZERO;
        let pricings = self.choose(Kind::Pricing, plan, template, &|p| {
            let target = str_of(p, "aggregationId").or_else(|| str_of(p, "compoundAggregationId"));
            let segment = p.get("segment").map(Value::to_string).unwrap_or_default();
            (target.unwrap_or_default().to_owned(), segment)
        });
        for pricing in pricings {
            let (usage, subtotal) = self.usage_line(&common, pricing);
            usage_total = add(usage_total, subtotal);
            lines.push((usage, subtotal));
            let minimum = num_of(pricing, "minimumSpend").unwrap_or_default();
            if minimum > subtotal {
                let top_up = sub(minimum, subtotal);
                let mut line = self.line(&common, "MINIMUM_SPEND", top_up);
                line.insert("pricingId".into(), pricing["id"].clone());
                let desc = str_of(pricing, "minimumSpendDescription").unwrap_or("Minimum spend");
                line.insert("description".into(), json!(desc));
                usage_total = add(usage_total, top_up);
                lines.push((line, top_up));
            }
        }
        for (line, subtotal) in self.counter_lines(&common, plan, template, period) {
            usage_total = add(usage_total, subtotal);
            lines.push((line, subtotal));
        }
        let minimum = num_of(plan, "minimumSpend")
            .or_else(|| num_of(template, "minimumSpend"))
            .unwrap_or_default();
        if minimum > usage_total {
            let top_up = sub(minimum, usage_total);
            let mut line = self.line(&common, "MINIMUM_SPEND", top_up);
            let desc = str_of(plan, "minimumSpendDescription")
                .or_else(|| str_of(template, "minimumSpendDescription"))
                .unwrap_or("Minimum spend");
            line.insert("description".into(), json!(desc));
            lines.push((line, top_up));
        }
        let charge = num_of(plan, "standingCharge")
            .or_else(|| num_of(template, "standingCharge"))
            .unwrap_or_default();
        let (active, whole) = (self.window.millis(), period.millis());
        let fraction = div(active, whole);
        let prorated = prorate(charge, active, whole);
        if !prorated.is_zero() {
            let mut line = self.line(&common, "STANDING_CHARGE", prorated);
            let desc = str_of(plan, "standingChargeDescription")
                .or_else(|| str_of(template, "standingChargeDescription"))
                .unwrap_or("Standing charge");
            line.insert("description".into(), json!(desc));
            line.insert("quantity".into(), money::number(fraction));
            line.insert("units".into(), money::number(fraction));
            lines.push((line, prorated));
        }
        if let Some(group) = group {
            for (line, _) in &mut lines {
                line.insert("planGroupId".into(), group["id"].clone());
            }
        }
        lines
    }

    /// The plan's counter lines ([`counters`]): per counter, the counter
    /// pricing chosen as for pricings, over the account's adjustments.
    fn counter_lines(
        &self,
        c: &Common<'_>,
        plan: &Object,
        template: &Object,
        period: Window,
    ) -> Vec<(Object, Decimal)> {
        let org = self.org;
        let chosen = self.choose(Kind::CounterPricing, plan, template, &|p| {
            (
                str_of(p, "counterId").unwrap_or_default().to_owned(),
                String::new(),
            )
        });
        let mut lines = Vec::new();
        for pricing in chosen {
            let counter_id = str_of(pricing, "counterId");
            let counter = counter_id.and_then(|id| org.get(Kind::Counter, id));
            // Newest first: of two adjustments on one date, the newer counts.
            let adjustments: Vec<&Object> = org
                .all(Kind::CounterAdjustment)
                .into_iter()
                .rev()
                .filter(|a| {
                    str_of(a, "accountId") == Some(self.account_id)
                        && str_of(a, "counterId") == counter_id
                })
                .collect();
            let name = counter.and_then(|k| str_of(k, "name"));
            let unit = counter.and_then(|k| str_of(k, "unit")).unwrap_or_default();
            for ch in counters::counter_charges(pricing, &adjustments, self.window, period) {
                let mut line = self.line(c, ch.line_type, ch.subtotal);
                let desc = str_of(pricing, "description").or(name).unwrap_or("Counter");
                line.insert("description".into(), json!(desc));
                line.insert("quantity".into(), money::number(ch.units));
                line.insert("units".into(), money::number(ch.units));
                line.insert("unit".into(), json!(unit));
                line.insert(
                    "averageUnitPrice".into(),
                    money::number(div(ch.subtotal, ch.units)),
                );
                line.insert("counterId".into(), json!(counter_id));
                line.insert("pricingId".into(), pricing["id"].clone());
                line.insert(
                    "servicePeriodStartDate".into(),
                    json!(timestamp(ch.service.from)),
                );
                line.insert(
                    "servicePeriodEndDate".into(),
                    json!(timestamp(ch.service.to)),
                );
                lines.push((line, ch.subtotal));
            }
        }
        lines
    }

    /// The pricings of `kind` (pricings or counter pricings) that rate this
    /// plan in the window: per `key` (aggregation and segment, or counter),
    /// plan-level pricings replace template-level ones; the one in effect
    /// at the window start wins, else the earliest starting inside it; only
    /// DEBIT pricings are rated.
    fn choose(
        &self,
        kind: Kind,
        plan: &Object,
        template: &Object,
        key: &dyn Fn(&Object) -> (String, String),
    ) -> Vec<&'a Object> {
        let w = self.window;
        // Oldest first: a stable line order.
        let all: Vec<&Object> = self.org.all(kind);
        let applies = |p: &Object| {
            let start = time_of(p, "startDate");
            let end = time_of(p, "endDate");
            start.is_none_or(|s| s < w.to) && end.is_none_or(|e| w.from < e)
        };
        let level = |p: &Object| {
            if str_of(p, "planId").is_some() && str_of(p, "planId") == str_of(plan, "id") {
                Some(0)
            } else if str_of(p, "planTemplateId").is_some()
                && str_of(p, "planTemplateId") == str_of(template, "id")
            {
                Some(1)
            } else {
                None
            }
        };
        let mut keys: Vec<(String, String)> = Vec::new();
        let mut seen = HashSet::new();
        for p in all.iter().filter(|p| applies(p) && level(p).is_some()) {
            if seen.insert(key(p)) {
                keys.push(key(p));
            }
        }
        let mut chosen = Vec::new();
        for k in keys {
            let group: Vec<&Object> = all
                .iter()
                .copied()
                .filter(|p| applies(p) && key(p) == k)
                .collect();
            let best_level = group.iter().filter_map(|p| level(p)).min();
            let group: Vec<&Object> = group
                .into_iter()
                .filter(|p| level(p).is_some() && level(p) == best_level)
                .collect();
            let in_effect = group
                .iter()
                .filter(|p| time_of(p, "startDate").is_none_or(|s| s <= w.from))
                .max_by_key(|p| time_of(p, "startDate"));
            let pick = in_effect.or_else(|| group.iter().min_by_key(|p| time_of(p, "startDate")));
            if let Some(p) = pick
                && str_of(p, "type").unwrap_or("DEBIT") == "DEBIT"
            {
                chosen.push(*p);
            }
        }
        chosen
    }

    /// A line item of a plan, with its product and plan.
    fn line(&self, c: &Common<'_>, kind: &str, subtotal: Decimal) -> Object {
        let mut l = base_line(kind, subtotal, &c.currency, self.window);
        if let Some(p) = c.product {
            l.insert("productId".into(), p["id"].clone());
            l.insert(
                "productName".into(),
                p.get("name").cloned().unwrap_or(Value::Null),
            );
            l.insert(
                "productCode".into(),
                p.get("code").cloned().unwrap_or(Value::Null),
            );
        }
        l.insert("planId".into(), c.plan["id"].clone());
        l
    }

    /// A pricing's USAGE line and its exact subtotal.
    fn usage_line(&mut self, c: &Common<'_>, pricing: &Object) -> (Object, Decimal) {
        let org = self.org;
        let segment = pricing.get("segment").and_then(Value::as_object);
        let simple = str_of(pricing, "aggregationId").and_then(|id| org.get(Kind::Aggregation, id));
        let compound = str_of(pricing, "compoundAggregationId")
            .and_then(|id| org.get(Kind::CompoundAggregation, id));
        // The aggregation object whose settings apply, its id field, and the raw quantity.
        let (agg, id_field, quantity) = match (simple, compound) {
            (Some(a), _) => (Some(a), "aggregationId", self.aggregate(a, segment)),
            (None, Some(a)) => (Some(a), "compoundAggregationId", self.compound(a)),
            (None, None) => (None, "aggregationId", Decimal::ZERO),
        };
        let setting = |k: &str| agg.and_then(|a| a.get(k));
        let qpu = setting("quantityPerUnit").and_then(decimal);
        let rounding = setting("rounding").and_then(Value::as_str);
        let unit = setting("unit").and_then(Value::as_str);
        let name = setting("name").and_then(Value::as_str);
        let qpu = qpu.filter(|q| q.is_sign_positive() && !q.is_zero());
        let qpu = qpu.unwrap_or(Decimal::ONE);
        let units = round(div(quantity, qpu), rounding.unwrap_or("NONE"));
        let cumulative = pricing
            .get("cumulative")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let bands = pricing
            .get("pricingBands")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_object).collect::<Vec<_>>())
            .unwrap_or_default();
        let (subtotal, per_band) = charge(&bands, units, cumulative, qpu);
        let mut l = self.line(c, "USAGE", subtotal);
        l.insert("quantity".into(), money::number(quantity));
        l.insert("units".into(), money::number(units));
        l.insert("unit".into(), json!(unit.unwrap_or_default()));
        let desc = str_of(pricing, "description").or(name).unwrap_or("Usage");
        l.insert("description".into(), json!(desc));
        l.insert(
            "averageUnitPrice".into(),
            money::number(div(subtotal, units)),
        );
        l.insert(
            id_field.into(),
            setting("id").cloned().unwrap_or(Value::Null),
        );
        if let Some(meter) = simple.and_then(|a| a.get("meterId")) {
            l.insert("meterId".into(), meter.clone());
        }
        l.insert("pricingId".into(), pricing["id"].clone());
        if let Some(seg) = segment {
            l.insert("segment".into(), Value::Object(seg.clone()));
        }
        l.insert("usagePerPricingBand".into(), Value::Array(per_band));
        (l, subtotal)
    }

    /// Raw quantity of a compound aggregation: its calculation over the raw
    /// quantities of the aggregations it names (by code, or `aggregation.<code>`).
    fn compound(&mut self, ca: &Object) -> Decimal {
        let calc = str_of(ca, "calculation").unwrap_or_default();
        let org = self.org;
        // Resolve every name first: eval's lookup cannot borrow self mutably.
        let mut values: HashMap<String, f64> = HashMap::new();
        for token in calc.split(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '$' | '.'))) {
            let code = token.rsplit('.').next().unwrap_or(token);
            if code.is_empty() || values.contains_key(token) {
                continue;
            }
            if let Some(agg) = org
                .id_by_code(Kind::Aggregation, code)
                .and_then(|id| org.get(Kind::Aggregation, id))
            {
                // The formula evaluator computes in f64.
                let q = money::to_f64(self.aggregate(agg, None));
                values.insert(token.to_owned(), q);
            }
        }
        money::from_f64(expr::eval(calc, &|name| values.get(name).copied()).unwrap_or(0.0))
    }

    /// Raw quantity of a simple aggregation over the account's measurements
    /// in the window (optionally only one segment).
    fn aggregate(&mut self, agg: &Object, segment: Option<&Object>) -> Decimal {
        let id = str_of(agg, "id").unwrap_or_default().to_owned();
        if segment.is_none()
            && let Some(q) = self.quantities.get(&id)
        {
            return *q;
        }
        let q = self.compute(agg, segment);
        if segment.is_none() {
            self.quantities.insert(id, q);
        }
        q
    }

    fn compute(&self, agg: &Object, segment: Option<&Object>) -> Decimal {
        let default = num_of(agg, "defaultValue").unwrap_or_default();
        let Some(meter) = str_of(agg, "meterId").and_then(|id| self.org.get(Kind::Meter, id))
        else {
            return default;
        };
        let query = FieldQuery {
            meter,
            field: str_of(agg, "targetField").unwrap_or_default(),
            function: str_of(agg, "aggregation").unwrap_or("SUM"),
            window: self.window,
            segment,
        };
        self.usage
            .aggregate(self.account_id, &query)
            .unwrap_or(default)
    }
}

/// Units after rounding: NONE, UP = ceiling, DOWN = floor, NEAREST = half up.
pub(crate) fn round(x: Decimal, rounding: &str) -> Decimal {
    match rounding {
        "UP" => x.ceil(),
        "DOWN" => x.floor(),
        "NEAREST" => add(x, Decimal::new(5, 1)).floor(),
        _ => x,
    }
}

/// Charges `units` over `bands` (a band is reached when units > its
/// lowerLimit). Tiered: each reached band charges its fixedPrice plus
/// unitPrice × the units inside it. Volume: all units at the highest reached
/// band's unitPrice plus its fixedPrice. Returns the subtotal and the
/// per-band breakdown.
pub(crate) fn charge(
    bands: &[&Object],
    units: Decimal,
    cumulative: bool,
    qpu: Decimal,
) -> (Decimal, Vec<Value>) {
    let lower = |b: &Object| num_of(b, "lowerLimit").unwrap_or_default();
    let mut sorted: Vec<&Object> = bands.to_vec();
    sorted.sort_by_key(|b| lower(b));
    let highest = sorted.iter().rposition(|b| units > lower(b));
    let mut total = Decimal::ZERO;
    let mut out = Vec::new();
    for (i, b) in sorted.iter().enumerate() {
        let (fixed, unit_price) = (
            num_of(b, "fixedPrice").unwrap_or_default(),
            num_of(b, "unitPrice").unwrap_or_default(),
        );
        let band_units = match highest {
            Some(h) if cumulative && i <= h => {
                let upper = sorted.get(i + 1).map(|n| lower(n));
                sub(upper.map_or(units, |u| units.min(u)), lower(b))
            }
            Some(h) if !cumulative && i == h => units,
            _ => Decimal::ZERO,
        };
        let reached = match highest {
            Some(h) if cumulative => i <= h,
            Some(h) => i == h,
            None => false,
        };
        let unit_subtotal = mul(unit_price, band_units);
        let band_subtotal = if reached {
            add(fixed, unit_subtotal)
        } else {
            Decimal::ZERO
        };
        total = add(total, band_subtotal);
        out.push(json!({
            "pricingBandId": b.get("id").cloned().unwrap_or(Value::Null),
            "lowerLimit": money::number(lower(b)),
            "fixedPrice": money::number(fixed),
            "unitPrice": money::number(unit_price),
            "bandUnits": money::number(band_units),
            "bandQuantity": money::number(mul(band_units, qpu)),
            "unitSubtotal": money::number(unit_subtotal),
            "bandSubtotal": money::number(band_subtotal),
            "convertedBandSubtotal": money::number(band_subtotal),
        }));
    }
    (total, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Measurements;
    use crate::testing::{MemOrg, obj};
    use m3ter_api::validate::parse_date_time;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn band(lower: f64, fixed: f64, unit: f64) -> Object {
        obj(json!({"lowerLimit": lower, "fixedPrice": fixed, "unitPrice": unit}))
    }

    fn charged(bands: &[Object], units: &str, cumulative: bool) -> Decimal {
        let refs: Vec<&Object> = bands.iter().collect();
        charge(&refs, d(units), cumulative, Decimal::ONE).0
    }

    #[test]
    fn tiered_and_volume_bands() {
        let bands = [band(0.0, 0.0, 0.5), band(50.0, 2.0, 0.1)];
        assert_eq!(charged(&bands, "60", true), d("28"), "25 + 2 + 10 × 0.1");
        assert_eq!(charged(&bands, "60", false), d("8"), "2 + 60 × 0.1");
        assert_eq!(
            charged(&bands, "50", true),
            d("25"),
            "50 does not reach the band at 50"
        );
        assert_eq!(charged(&bands, "0", true), d("0"), "nothing reached at 0");
    }

    #[test]
    fn amounts_are_exact_where_f64_is_not() {
        // In f64, 3 × 0.1 is 0.30000000000000004 and 0.7 × 3 is 2.0999999999999996.
        assert_eq!(charged(&[band(0.0, 0.0, 0.1)], "3", true), d("0.3"));
        assert_eq!(charged(&[band(0.0, 0.0, 0.7)], "3", false), d("2.1"));
        // 0.1 + 0.2 is 0.30000000000000004 in f64.
        assert_eq!(
            charged(&[band(0.0, 0.1, 0.0), band(1.0, 0.2, 0.0)], "2", true),
            d("0.3")
        );
    }

    #[test]
    fn amounts_beyond_the_decimal_range_saturate() {
        let bands = [band(0.0, 0.0, 2.0)];
        let refs: Vec<&Object> = bands.iter().collect();
        assert_eq!(
            charge(&refs, Decimal::MAX, true, Decimal::ONE).0,
            Decimal::MAX
        );
        let huge = [band(0.0, 1e300, 0.0)];
        assert_eq!(charged(&huge, "1", true), Decimal::MAX);
    }

    #[test]
    fn extreme_prices_saturate_instead_of_panicking() {
        // Negative prices are legal (a warning, not an error).
        let bands = [band(0.0, -1e300, 0.0)];
        let refs: Vec<&Object> = bands.iter().collect();
        assert_eq!(
            charge(&refs, Decimal::ONE, true, Decimal::ONE).0,
            Decimal::MIN
        );
        let bands = [band(-1e300, 0.0, 1.0)];
        let refs: Vec<&Object> = bands.iter().collect();
        assert_eq!(
            charge(&refs, Decimal::MAX, true, Decimal::ONE).0,
            Decimal::MAX
        );
    }

    #[test]
    fn rounding_modes() {
        assert_eq!(round(d("97.8"), "UP"), d("98"));
        assert_eq!(round(d("97.8"), "DOWN"), d("97"));
        assert_eq!(round(d("3.5"), "NEAREST"), d("4"));
        assert_eq!(round(d("3.49"), "NEAREST"), d("3"));
        assert_eq!(round(d("3.49"), "NONE"), d("3.49"));
    }

    /// An org with one plan whose pricing charges `unit_price` per unit of
    /// the SUM of the measure `q`, and a standing charge of 0.1 a period.
    fn priced_org(unit_price: f64) -> MemOrg {
        let mut org = MemOrg::default();
        let entities = [
            (
                Kind::Product,
                json!({"id": "prod", "name": "P", "code": "p"}),
            ),
            (
                Kind::Meter,
                json!({"id": "meter", "code": "m", "productId": "prod",
                       "dataFields": [{"code": "q", "name": "Q", "category": "MEASURE"}]}),
            ),
            (
                Kind::Aggregation,
                json!({"id": "agg", "code": "a", "name": "A", "meterId": "meter",
                       "targetField": "q", "aggregation": "SUM", "quantityPerUnit": 1}),
            ),
            (
                Kind::PlanTemplate,
                json!({"id": "tpl", "productId": "prod", "currency": "USD",
                       "standingCharge": 0.1}),
            ),
            (Kind::Plan, json!({"id": "plan", "planTemplateId": "tpl"})),
            (
                Kind::Pricing,
                json!({"id": "pricing", "planId": "plan", "aggregationId": "agg",
                       "startDate": "2024-01-01T00:00:00Z",
                       "pricingBands": [{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": unit_price}]}),
            ),
        ];
        for (kind, value) in entities {
            org.put(kind, value);
        }
        org
    }

    #[test]
    fn a_bill_of_decimal_usage_totals_exactly() {
        let org = priced_org(1.1);
        let account_plan = obj(json!({"accountId": "acc", "planId": "plan",
                                      "startDate": "2024-12-01T00:00:00Z"}));
        let usage: Vec<Object> = [0.1, 0.2]
            .iter()
            .map(|q| {
                obj(json!({"meterId": "meter", "accountId": "acc",
                           "ts": "2024-12-10T00:00:00Z", "measure": {"q": q}}))
            })
            .collect();
        let usage: Vec<&Object> = usage.iter().collect();
        let period = Window {
            from: parse_date_time("2024-12-01T00:00:00Z").unwrap(),
            to: parse_date_time("2025-01-01T00:00:00Z").unwrap(),
        };
        let bill = rate(&org, &Measurements(&usage), "acc", &[account_plan], period);
        let usage_line = &bill.lines[0];
        assert_eq!(usage_line["lineItemType"], "USAGE");
        // In f64: 0.30000000000000004 units, a subtotal of
        // 0.33000000000000007 and a total of 0.43000000000000005.
        assert_eq!(usage_line["quantity"], json!(0.3));
        assert_eq!(usage_line["subtotal"], json!(0.33));
        assert_eq!(bill.lines[1]["lineItemType"], "STANDING_CHARGE");
        assert_eq!(bill.lines[1]["subtotal"], json!(0.1));
        assert_eq!(bill.total, d("0.43"));
    }

    fn december() -> Window {
        Window {
            from: parse_date_time("2024-12-01T00:00:00Z").unwrap(),
            to: parse_date_time("2025-01-01T00:00:00Z").unwrap(),
        }
    }

    fn types_and_subtotals(bill: &LineItems) -> Vec<(String, Decimal)> {
        bill.lines
            .iter()
            .map(|l| {
                let t = l["lineItemType"].as_str().unwrap().to_owned();
                (t, l.get("subtotal").and_then(decimal).unwrap())
            })
            .collect()
    }

    #[test]
    fn a_plan_group_rates_its_plans_then_tops_up_and_draws_a_commitment() {
        let mut org = priced_org(1.0);
        org.put(
            Kind::Counter,
            json!({"id": "seats", "code": "seats", "name": "Seats", "unit": "seat"}),
        );
        org.put(
            Kind::CounterPricing,
            json!({"id": "cp", "planId": "plan", "counterId": "seats",
            "startDate": "2024-01-01T00:00:00Z",
            "pricingBands": [{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 10}]}),
        );
        org.put(
            Kind::CounterAdjustment,
            json!({"id": "a1", "accountId": "acc",
            "counterId": "seats", "date": "2024-12-01", "value": 2}),
        );
        org.put(
            Kind::PlanGroup,
            json!({"id": "grp", "currency": "USD", "minimumSpend": 50}),
        );
        org.put(
            Kind::PlanGroupLink,
            json!({"id": "l", "planGroupId": "grp", "planId": "plan"}),
        );
        org.put(
            Kind::Commitment,
            json!({"id": "c", "accountId": "acc", "currency": "USD",
            "amount": 30, "startDate": "2024-12-01", "endDate": "2025-12-01",
            "feeDates": [{"date": "2024-12-01", "amount": 30,
                "servicePeriodStartDate": "2024-12-01T00:00:00Z",
                "servicePeriodEndDate": "2025-12-01T00:00:00Z"}]}),
        );
        let account_plan = obj(json!({"accountId": "acc", "planGroupId": "grp",
                                      "startDate": "2024-12-01T00:00:00Z"}));
        let m = obj(json!({"meterId": "meter", "accountId": "acc",
                           "ts": "2024-12-10T00:00:00Z", "measure": {"q": 7}}));
        let bill = rate(
            &org,
            &Measurements(&[&m]),
            "acc",
            &[account_plan],
            december(),
        );
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let s = |t: &str, a: &str| (t.to_owned(), d(a));
        assert_eq!(
            types_and_subtotals(&bill),
            [
                s("USAGE", "7"),
                s("COUNTER_RUNNING_TOTAL_CHARGE", "20"),
                s("STANDING_CHARGE", "0.1"),
                // 50 − (7 + 20): the standing charge does not count.
                s("MINIMUM_SPEND", "23"),
                s("COMMITMENT_FEE", "30"),
                // 7 + 20 + 0.1 + 23 = 50.1, of which the commitment covers 30.
                s("COMMITMENT_CONSUMED", "-30"),
            ]
        );
        assert!(bill.lines[..4].iter().all(|l| l["planGroupId"] == "grp"));
        assert_eq!(bill.lines[5]["commitmentId"], "c");
        assert_eq!(bill.total, d("50.1"));
    }

    #[test]
    fn a_balance_draws_from_its_transactions_less_earlier_bills() {
        let mut org = priced_org(1.0);
        org.put(
            Kind::Balance,
            json!({"id": "b", "accountId": "acc", "currency": "USD",
            "startDate": "2024-01-01T00:00:00Z", "endDate": "2026-01-01T00:00:00Z"}),
        );
        for amount in [5, 4] {
            org.transaction(
                json!({"id": format!("t{amount}"), "balanceId": "b", "amount": amount}),
            );
        }
        // November's bill drew 6 of the 9.
        org.bill(json!({"id": "nov", "accountId": "acc",
            "endDateTimeUTC": "2024-12-01T00:00:00Z",
            "lineItems": [{"lineItemType": "BALANCE_CONSUMED", "balanceId": "b", "subtotal": -6.0}]}));
        let account_plan = obj(json!({"accountId": "acc", "planId": "plan",
                                      "startDate": "2024-12-01T00:00:00Z"}));
        let m = obj(json!({"meterId": "meter", "accountId": "acc",
                           "ts": "2024-12-10T00:00:00Z", "measure": {"q": 7}}));
        let bill = rate(
            &org,
            &Measurements(&[&m]),
            "acc",
            &[account_plan],
            december(),
        );
        let last = bill.lines.last().unwrap();
        assert_eq!(last["lineItemType"], "BALANCE_CONSUMED");
        assert_eq!(last["subtotal"], json!(-3.0));
        assert_eq!(bill.total, "4.1".parse::<Decimal>().unwrap(), "7 + 0.1 − 3");
    }
}
