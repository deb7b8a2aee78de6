//! Rating: turns an account's stored measurements into bill line items by
//! the emulator's documented rules (`design.md` §7). m3ter's own maths is
//! not public; these rules are ours.
//!
//! Per account plan active in the period, over the overlap of the two:
//! one USAGE line per rated pricing (even at 0), then MINIMUM_SPEND top-ups
//! (per pricing, then per plan) and a prorated STANDING_CHARGE, the last two
//! only when non-zero. Amounts stay exact (no rounding to cents).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use m3ter_api::Kind;
use m3ter_api::schema::NUMERIC_CATEGORIES;
use m3ter_api::validate::parse_date_time;

use super::rules::timestamp;
use super::store::{Object, Store};
use m3ter_api::calc as expr;

const NUMBER_MAPS: &[&str] = &["measure", "cost", "income"];
const STRING_MAPS: &[&str] = &["who", "what", "where", "other", "metadata"];

fn str_of<'a>(o: &'a Object, key: &str) -> Option<&'a str> {
    o.get(key).and_then(Value::as_str)
}
fn num_of(o: &Object, key: &str) -> Option<f64> {
    o.get(key).and_then(Value::as_f64)
}
fn time_of(o: &Object, key: &str) -> Option<DateTime<Utc>> {
    str_of(o, key).and_then(parse_date_time)
}

/// A half-open time window `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Window {
    fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from <= t && t < self.to
    }
    fn seconds(&self) -> f64 {
        (self.to - self.from).num_milliseconds() as f64 / 1000.0
    }
}

/// The line items of one account's bill for `period`; `measurements` are
/// the account's own.
pub fn rate(
    store: &Store,
    account_plans: &[Object],
    measurements: &[&Object],
    period: Window,
) -> Vec<Object> {
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
            store,
            measurements,
            window,
            quantities: HashMap::new(),
        };
        lines.extend(ctx.rate_account_plan(ap, period));
    }
    for (i, line) in lines.iter_mut().enumerate() {
        line.insert("sequenceNumber".into(), json!(i + 1));
    }
    lines
}

struct Context<'a> {
    store: &'a Store,
    /// The account's measurements (all times; filtered by window here).
    measurements: &'a [&'a Object],
    window: Window,
    /// Raw quantities by aggregation id (compound aggregations reuse them).
    quantities: HashMap<String, f64>,
}

/// What a line item is about, shared by all of one account plan's lines.
struct Common<'a> {
    plan: &'a Object,
    product: Option<&'a Object>,
    currency: String,
}

impl<'a> Context<'a> {
    fn rate_account_plan(&mut self, ap: &Object, period: Window) -> Vec<Object> {
        let store = self.store;
        let Some(plan) = str_of(ap, "planId").and_then(|id| store.kind(Kind::Plan).get(id)) else {
            return Vec::new();
        };
        let plan = &plan.value;
        let Some(template) =
            str_of(plan, "planTemplateId").and_then(|id| store.kind(Kind::PlanTemplate).get(id))
        else {
            return Vec::new();
        };
        let template = &template.value;
        let common = Common {
            plan,
            product: str_of(template, "productId")
                .and_then(|id| store.kind(Kind::Product).get(id))
                .map(|e| &e.value),
            currency: str_of(template, "currency").unwrap_or("USD").to_owned(),
        };
        let mut lines = Vec::new();
        let mut usage_total = 0.0;
        for pricing in self.pricings(plan, template) {
            let usage = self.usage_line(&common, pricing);
            let subtotal = num_of(&usage, "subtotal").unwrap_or(0.0);
            usage_total += subtotal;
            lines.push(usage);
            let minimum = num_of(pricing, "minimumSpend").unwrap_or(0.0);
            if minimum > subtotal {
                let mut top_up = self.line(&common, "MINIMUM_SPEND", minimum - subtotal);
                top_up.insert("pricingId".into(), pricing["id"].clone());
                let desc = str_of(pricing, "minimumSpendDescription").unwrap_or("Minimum spend");
                top_up.insert("description".into(), json!(desc));
                usage_total += minimum - subtotal;
                lines.push(top_up);
            }
        }
        let minimum = num_of(plan, "minimumSpend")
            .or_else(|| num_of(template, "minimumSpend"))
            .unwrap_or(0.0);
        if minimum > usage_total {
            let mut top_up = self.line(&common, "MINIMUM_SPEND", minimum - usage_total);
            let desc = str_of(plan, "minimumSpendDescription")
                .or_else(|| str_of(template, "minimumSpendDescription"))
                .unwrap_or("Minimum spend");
            top_up.insert("description".into(), json!(desc));
            lines.push(top_up);
        }
        let charge = num_of(plan, "standingCharge")
            .or_else(|| num_of(template, "standingCharge"))
            .unwrap_or(0.0);
        let fraction = if period.seconds() > 0.0 {
            self.window.seconds() / period.seconds()
        } else {
            0.0
        };
        if charge * fraction != 0.0 {
            let mut line = self.line(&common, "STANDING_CHARGE", charge * fraction);
            let desc = str_of(plan, "standingChargeDescription")
                .or_else(|| str_of(template, "standingChargeDescription"))
                .unwrap_or("Standing charge");
            line.insert("description".into(), json!(desc));
            line.insert("quantity".into(), json!(fraction));
            line.insert("units".into(), json!(fraction));
            lines.push(line);
        }
        lines
    }

    /// The pricings that rate this plan in the window: per aggregation and
    /// segment, plan-level pricings replace template-level ones; the one in
    /// effect at the window start wins, else the earliest starting inside
    /// it; only DEBIT pricings are rated.
    fn pricings(&self, plan: &Object, template: &Object) -> Vec<&'a Object> {
        let w = self.window;
        let all: Vec<&Object> = {
            let mut v: Vec<&Object> = self
                .store
                .kind(Kind::Pricing)
                .iter_newest_first()
                .map(|e| &e.value)
                .collect();
            v.reverse(); // oldest first: a stable line order
            v
        };
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
        let key = |p: &Object| {
            let target = str_of(p, "aggregationId").or_else(|| str_of(p, "compoundAggregationId"));
            let segment = p.get("segment").map(Value::to_string).unwrap_or_default();
            (target.unwrap_or_default().to_owned(), segment)
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

    /// A line item with the fields every type shares.
    fn line(&self, c: &Common<'_>, kind: &str, subtotal: f64) -> Object {
        let subtotal = finite(subtotal);
        let mut l = Object::new();
        l.insert("id".into(), json!(uuid::Uuid::new_v4().to_string()));
        l.insert("lineItemType".into(), json!(kind));
        l.insert("description".into(), json!(kind));
        l.insert("quantity".into(), json!(1));
        l.insert("units".into(), json!(1));
        l.insert("unit".into(), json!(""));
        l.insert("subtotal".into(), json!(subtotal));
        l.insert("currency".into(), json!(c.currency));
        l.insert("conversionRate".into(), json!(1));
        l.insert("convertedSubtotal".into(), json!(subtotal));
        l.insert("averageUnitPrice".into(), json!(subtotal));
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
        l.insert(
            "servicePeriodStartDate".into(),
            json!(timestamp(self.window.from)),
        );
        l.insert(
            "servicePeriodEndDate".into(),
            json!(timestamp(self.window.to)),
        );
        l
    }

    fn usage_line(&mut self, c: &Common<'_>, pricing: &Object) -> Object {
        let store = self.store;
        let segment = pricing.get("segment").and_then(Value::as_object);
        let simple = str_of(pricing, "aggregationId")
            .and_then(|id| store.kind(Kind::Aggregation).get(id))
            .map(|e| &e.value);
        let compound = str_of(pricing, "compoundAggregationId")
            .and_then(|id| store.kind(Kind::CompoundAggregation).get(id))
            .map(|e| &e.value);
        // The aggregation object whose settings apply, its id field, and the raw quantity.
        let (agg, id_field, quantity) = match (simple, compound) {
            (Some(a), _) => (Some(a), "aggregationId", self.aggregate(a, segment)),
            (None, Some(a)) => (Some(a), "compoundAggregationId", self.compound(a)),
            (None, None) => (None, "aggregationId", 0.0),
        };
        let setting = |k: &str| agg.and_then(|a| a.get(k));
        let qpu = setting("quantityPerUnit").and_then(Value::as_f64);
        let rounding = setting("rounding").and_then(Value::as_str);
        let unit = setting("unit").and_then(Value::as_str);
        let name = setting("name").and_then(Value::as_str);
        let qpu = qpu.filter(|q| *q > 0.0).unwrap_or(1.0);
        let quantity = finite(quantity);
        let units = finite(round(quantity / qpu, rounding.unwrap_or("NONE")));
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
        let subtotal = finite(subtotal);
        let mut l = self.line(c, "USAGE", subtotal);
        l.insert("quantity".into(), json!(quantity));
        l.insert("units".into(), json!(units));
        l.insert("unit".into(), json!(unit.unwrap_or_default()));
        let desc = str_of(pricing, "description").or(name).unwrap_or("Usage");
        l.insert("description".into(), json!(desc));
        l.insert(
            "averageUnitPrice".into(),
            json!(if units != 0.0 { subtotal / units } else { 0.0 }),
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
        l
    }

    /// Raw quantity of a compound aggregation: its calculation over the raw
    /// quantities of the aggregations it names (by code, or `aggregation.<code>`).
    fn compound(&mut self, ca: &Object) -> f64 {
        let calc = str_of(ca, "calculation").unwrap_or_default();
        let store = self.store;
        // Resolve every name first: eval's lookup cannot borrow self mutably.
        let mut values: HashMap<String, f64> = HashMap::new();
        for token in calc.split(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '$' | '.'))) {
            let code = token.rsplit('.').next().unwrap_or(token);
            if code.is_empty() || values.contains_key(token) {
                continue;
            }
            if let Some(agg) = store
                .kind(Kind::Aggregation)
                .id_by_code(code)
                .and_then(|id| store.kind(Kind::Aggregation).get(id))
            {
                let q = self.aggregate(&agg.value, None);
                values.insert(token.to_owned(), q);
            }
        }
        expr::eval(calc, &|name| values.get(name).copied()).unwrap_or(0.0)
    }

    /// Raw quantity of a simple aggregation over the account's measurements
    /// in the window (optionally only one segment).
    fn aggregate(&mut self, agg: &Object, segment: Option<&Object>) -> f64 {
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

    fn compute(&self, agg: &Object, segment: Option<&Object>) -> f64 {
        let store = self.store;
        let default = num_of(agg, "defaultValue").unwrap_or(0.0);
        let Some(meter_id) = str_of(agg, "meterId") else {
            return default;
        };
        let Some(meter) = store.kind(Kind::Meter).get(meter_id) else {
            return default;
        };
        let target = str_of(agg, "targetField").unwrap_or_default();
        let field = ["dataFields", "derivedFields"]
            .iter()
            .filter_map(|k| meter.value.get(*k).and_then(Value::as_array))
            .flatten()
            .filter_map(Value::as_object)
            .find(|f| str_of(f, "code") == Some(target));
        let Some(field) = field else { return default };
        let numeric = str_of(field, "category").is_some_and(|c| NUMERIC_CATEGORIES.contains(&c));
        let calculation = str_of(field, "calculation");

        let mut numbers: Vec<(DateTime<Utc>, f64)> = Vec::new();
        let mut strings: Vec<String> = Vec::new();
        for m in self.measurements {
            if str_of(m, "meterId") != Some(meter_id) {
                continue;
            }
            let Some(ts) = time_of(m, "ts").filter(|t| self.window.contains(*t)) else {
                continue;
            };
            if !segment.is_none_or(|seg| in_segment(m, seg)) {
                continue;
            }
            if let Some(calc) = calculation {
                if let Ok(v) = expr::eval(calc, &|name| number_in(m, name)) {
                    numbers.push((ts, v));
                }
            } else if numeric {
                if let Some(v) = number_in(m, target) {
                    numbers.push((ts, v));
                }
            } else if let Some(s) = string_in(m, target) {
                strings.push(s.to_owned());
            }
        }
        let count = numbers.len() + strings.len();
        if count == 0 {
            return default;
        }
        let values = numbers.iter().map(|(_, v)| *v);
        match str_of(agg, "aggregation").unwrap_or("SUM") {
            "SUM" => values.sum(),
            "MIN" => values.fold(f64::INFINITY, f64::min).min(f64::MAX),
            "MAX" => values.fold(f64::NEG_INFINITY, f64::max).max(f64::MIN),
            "COUNT" => count as f64,
            "MEAN" if !numbers.is_empty() => values.sum::<f64>() / numbers.len() as f64,
            // Latest by `ts`; on a tie the later arrival wins.
            "LATEST" => numbers
                .iter()
                .rev()
                .max_by_key(|(ts, _)| *ts)
                .map_or(0.0, |(_, v)| *v),
            "UNIQUE" => {
                let mut distinct: HashSet<String> = strings.into_iter().collect();
                distinct.extend(numbers.iter().map(|(_, v)| v.to_string()));
                distinct.len() as f64
            }
            _ => 0.0, // CUSTOM_SQL is not modelled
        }
    }
}

fn number_in(m: &Object, code: &str) -> Option<f64> {
    NUMBER_MAPS
        .iter()
        .filter_map(|k| m.get(*k).and_then(Value::as_object))
        .find_map(|map| map.get(code).and_then(Value::as_f64))
}

fn string_in<'m>(m: &'m Object, code: &str) -> Option<&'m str> {
    STRING_MAPS
        .iter()
        .filter_map(|k| m.get(*k).and_then(Value::as_object))
        .find_map(|map| map.get(code).and_then(Value::as_str))
}

/// Whether a measurement's string fields match a pricing segment (`*` = any).
fn in_segment(m: &Object, segment: &Object) -> bool {
    segment.iter().all(|(field, want)| match want.as_str() {
        Some("*") => true,
        Some(w) => string_in(m, field) == Some(w),
        None => false,
    })
}

/// A number JSON can carry: an overflow to ±infinity becomes ±f64::MAX and
/// NaN becomes 0 (serde_json would write `null` for either).
pub fn finite(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(f64::MIN, f64::MAX)
    }
}

/// Units after rounding: NONE, UP = ceiling, DOWN = floor, NEAREST = half up.
pub fn round(x: f64, rounding: &str) -> f64 {
    match rounding {
        "UP" => x.ceil(),
        "DOWN" => x.floor(),
        "NEAREST" => (x + 0.5).floor(),
        _ => x,
    }
}

/// Charges `units` over `bands` (a band is reached when units > its
/// lowerLimit). Tiered: each reached band charges its fixedPrice plus
/// unitPrice × the units inside it. Volume: all units at the highest reached
/// band's unitPrice plus its fixedPrice. Returns the subtotal and the
/// per-band breakdown.
pub fn charge(bands: &[&Object], units: f64, cumulative: bool, qpu: f64) -> (f64, Vec<Value>) {
    let mut sorted: Vec<&Object> = bands.to_vec();
    sorted.sort_by(|a, b| {
        let (x, y) = (
            num_of(a, "lowerLimit").unwrap_or(0.0),
            num_of(b, "lowerLimit").unwrap_or(0.0),
        );
        x.total_cmp(&y)
    });
    let lower = |b: &Object| num_of(b, "lowerLimit").unwrap_or(0.0);
    let highest = sorted.iter().rposition(|b| units > lower(b));
    let mut total = 0.0;
    let mut out = Vec::new();
    for (i, b) in sorted.iter().enumerate() {
        let (fixed, unit_price) = (
            num_of(b, "fixedPrice").unwrap_or(0.0),
            num_of(b, "unitPrice").unwrap_or(0.0),
        );
        let band_units = match highest {
            Some(h) if cumulative && i <= h => {
                let upper = sorted.get(i + 1).map_or(f64::INFINITY, |n| lower(n));
                units.min(upper) - lower(b)
            }
            Some(h) if !cumulative && i == h => units,
            _ => 0.0,
        };
        let reached = match highest {
            Some(h) if cumulative => i <= h,
            Some(h) => i == h,
            None => false,
        };
        let unit_subtotal = finite(unit_price * band_units);
        let band_subtotal = finite(if reached { fixed + unit_subtotal } else { 0.0 });
        total = finite(total + band_subtotal);
        out.push(json!({
            "pricingBandId": b.get("id").cloned().unwrap_or(Value::Null),
            "lowerLimit": lower(b),
            "fixedPrice": fixed,
            "unitPrice": unit_price,
            "bandUnits": band_units,
            "bandQuantity": finite(band_units * qpu),
            "unitSubtotal": unit_subtotal,
            "bandSubtotal": band_subtotal,
            "convertedBandSubtotal": band_subtotal,
        }));
    }
    (total, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn band(lower: f64, fixed: f64, unit: f64) -> Object {
        json!({"lowerLimit": lower, "fixedPrice": fixed, "unitPrice": unit})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn tiered_and_volume_bands() {
        let bands = [band(0.0, 0.0, 0.5), band(50.0, 2.0, 0.1)];
        let refs: Vec<&Object> = bands.iter().collect();
        assert_eq!(
            charge(&refs, 60.0, true, 1.0).0,
            50.0 * 0.5 + 2.0 + 10.0 * 0.1
        );
        assert_eq!(charge(&refs, 60.0, false, 1.0).0, 2.0 + 60.0 * 0.1);
        assert_eq!(
            charge(&refs, 50.0, true, 1.0).0,
            25.0,
            "50 does not reach the band at 50"
        );
        assert_eq!(charge(&refs, 0.0, true, 1.0).0, 0.0, "nothing reached at 0");
    }

    #[test]
    fn non_finite_numbers_are_clamped() {
        assert_eq!(finite(f64::INFINITY), f64::MAX);
        assert_eq!(finite(f64::NEG_INFINITY), f64::MIN);
        assert_eq!(finite(f64::NAN), 0.0);
        assert_eq!(finite(1.5), 1.5);
        let bands = [band(0.0, 0.0, 2.0)];
        let refs: Vec<&Object> = bands.iter().collect();
        assert_eq!(charge(&refs, f64::MAX, true, 1.0).0, f64::MAX);
    }

    #[test]
    fn rounding_modes() {
        assert_eq!(round(97.8, "UP"), 98.0);
        assert_eq!(round(97.8, "DOWN"), 97.0);
        assert_eq!(round(3.5, "NEAREST"), 4.0);
        assert_eq!(round(3.49, "NEAREST"), 3.0);
        assert_eq!(round(3.49, "NONE"), 3.49);
    }
}
