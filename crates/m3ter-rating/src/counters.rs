//! Counter rating: a counter pricing charges an account's counter (seats)
//! by its bands, from the counter adjustments the account has (each sets
//! the counter's absolute value from its date on).
//!
//! Over an account plan's window `[from, to)` inside the billed period:
//! - COUNTER_RUNNING_TOTAL_CHARGE: the bands' charge for the value the
//!   counter has at `from` (the latest adjustment dated on or before it),
//!   times `|window| / |period|` when `proRateRunningTotal` (default true),
//!   else the whole charge; a line only when non-zero.
//! - per adjustment dated inside the window (after `from`, before `to`):
//!   the change of the bands' charge from the previous value to the new
//!   one, times `(to − date) / |period|` when the pricing prorates that
//!   direction (`proRateAdjustmentDebit` for an increase,
//!   `proRateAdjustmentCredit` for a decrease, both default true), else the
//!   whole change: COUNTER_ADJUSTMENT_DEBIT for an increase of the value,
//!   COUNTER_ADJUSTMENT_CREDIT (negative) for a decrease.
//!
//! With every flag at its default, the lines add up to the bands' charge of
//! each day's value, summed over the window's days and divided by the
//! period's days: a daily-prorated running total.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::fields::{instant, num_of};
use crate::money::{Decimal, sub};
use crate::rate::{charge, prorate};
use crate::{Object, Window};

/// One counter line before it becomes a line item.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CounterCharge {
    /// `COUNTER_RUNNING_TOTAL_CHARGE`, `COUNTER_ADJUSTMENT_DEBIT` or
    /// `COUNTER_ADJUSTMENT_CREDIT`.
    pub(crate) line_type: &'static str,
    /// The counter value charged (running total) or its change (adjustment).
    pub(crate) units: Decimal,
    pub(crate) subtotal: Decimal,
    /// The service period the line covers.
    pub(crate) service: Window,
}

fn flag(o: &Object, key: &str) -> bool {
    o.get(key).and_then(Value::as_bool).unwrap_or(true)
}

/// The counter lines of `pricing` over `window` (inside `period`), from the
/// account's adjustments of the pricing's counter.
pub(crate) fn counter_charges(
    pricing: &Object,
    adjustments: &[&Object],
    window: Window,
    period: Window,
) -> Vec<CounterCharge> {
    let bands: Vec<&Object> = pricing
        .get("pricingBands")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default();
    let cumulative = pricing
        .get("cumulative")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let price = |units: Decimal| charge(&bands, units, cumulative, Decimal::ONE).0;
    let mut dated: Vec<(DateTime<Utc>, Decimal)> = adjustments
        .iter()
        .filter_map(|a| Some((instant(a, "date")?, num_of(a, "value")?)))
        .collect();
    dated.sort_by_key(|(t, _)| *t);

    let start_value = dated
        .iter()
        .rev()
        .find(|(t, _)| *t <= window.from)
        .map_or(Decimal::ZERO, |(_, v)| *v);
    let mut out = Vec::new();
    let running = price(start_value);
    let running = if flag(pricing, "proRateRunningTotal") {
        prorate(running, window.millis(), period.millis())
    } else {
        running
    };
    if !running.is_zero() {
        out.push(CounterCharge {
            line_type: "COUNTER_RUNNING_TOTAL_CHARGE",
            units: start_value,
            subtotal: running,
            service: window,
        });
    }
    let mut value = start_value;
    for &(t, new) in dated
        .iter()
        .filter(|(t, _)| window.from < *t && *t < window.to)
    {
        if new == value {
            continue;
        }
        let increase = new > value;
        let change = sub(price(new), price(value));
        let rest = Window {
            from: t,
            to: window.to,
        };
        let prorated = if increase {
            flag(pricing, "proRateAdjustmentDebit")
        } else {
            flag(pricing, "proRateAdjustmentCredit")
        };
        let subtotal = if prorated {
            prorate(change, rest.millis(), period.millis())
        } else {
            change
        };
        out.push(CounterCharge {
            line_type: if increase {
                "COUNTER_ADJUSTMENT_DEBIT"
            } else {
                "COUNTER_ADJUSTMENT_CREDIT"
            },
            units: sub(new, value),
            subtotal,
            service: rest,
        });
        value = new;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::testing::{at, d, obj};
    fn december() -> Window {
        Window {
            from: at("2024-12-01T00:00:00Z"),
            to: at("2025-01-01T00:00:00Z"),
        }
    }
    fn pricing(extra: Value) -> Object {
        let mut p = obj(json!({"id": "cp", "counterId": "seats",
            "pricingBands": [{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 10}]}));
        p.extend(obj(extra));
        p
    }
    fn adj(date: &str, value: i64) -> Object {
        obj(json!({"counterId": "seats", "accountId": "acc", "date": date, "value": value}))
    }
    fn charges(p: &Object, adjs: &[Object], window: Window) -> Vec<(&'static str, Decimal)> {
        let refs: Vec<&Object> = adjs.iter().collect();
        counter_charges(p, &refs, window, december())
            .into_iter()
            .map(|c| (c.line_type, c.subtotal))
            .collect()
    }

    #[test]
    fn running_total_then_prorated_debit_and_credit() {
        let adjs = [
            adj("2024-11-20", 3),
            adj("2024-12-17", 5),
            adj("2024-12-25", 4),
        ];
        let got = charges(&pricing(json!({})), &adjs, december());
        let expected = [
            ("COUNTER_RUNNING_TOTAL_CHARGE", d("30")),
            // 2 more seats for the 15 days 17–31 of 31.
            ("COUNTER_ADJUSTMENT_DEBIT", d("20") * d("15") / d("31")),
            // 1 seat fewer for the 7 days 25–31.
            ("COUNTER_ADJUSTMENT_CREDIT", d("-10") * d("7") / d("31")),
        ];
        assert_eq!(got, expected);
    }

    #[test]
    fn an_adjustment_on_the_first_day_is_the_running_total() {
        let got = charges(&pricing(json!({})), &[adj("2024-12-01", 4)], december());
        assert_eq!(got, [("COUNTER_RUNNING_TOTAL_CHARGE", d("40"))]);
    }

    #[test]
    fn unprorated_flags_charge_the_whole_period() {
        let p = pricing(json!({"proRateRunningTotal": false,
            "proRateAdjustmentDebit": false, "proRateAdjustmentCredit": false}));
        let adjs = [
            adj("2024-12-01", 2),
            adj("2024-12-10", 3),
            adj("2024-12-20", 1),
        ];
        // An account plan starting on the 16th: half the running total would be prorated.
        let window = Window {
            from: at("2024-12-16T00:00:00Z"),
            to: december().to,
        };
        let got = charges(&p, &adjs, window);
        assert_eq!(
            got,
            [
                ("COUNTER_RUNNING_TOTAL_CHARGE", d("30")),
                ("COUNTER_ADJUSTMENT_CREDIT", d("-20")),
            ]
        );
        let prorated = charges(&pricing(json!({})), &adjs, window);
        assert_eq!(prorated[0].1, d("30") * d("16") / d("31"));
    }

    #[test]
    fn no_adjustment_no_line_and_later_ones_are_ignored() {
        assert!(charges(&pricing(json!({})), &[], december()).is_empty());
        assert!(charges(&pricing(json!({})), &[adj("2025-01-01", 9)], december()).is_empty());
    }

    #[test]
    fn bands_price_the_change_of_charge_not_of_units() {
        // Volume bands: 10 a seat up to 5 seats, then 8 a seat for all of them.
        let p = pricing(json!({"cumulative": false, "pricingBands": [
            {"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 10},
            {"lowerLimit": 5, "fixedPrice": 0, "unitPrice": 8}],
            "proRateAdjustmentDebit": false}));
        let got = charges(
            &p,
            &[adj("2024-12-01", 5), adj("2024-12-02", 6)],
            december(),
        );
        assert_eq!(
            got,
            [
                ("COUNTER_RUNNING_TOTAL_CHARGE", d("50")),
                ("COUNTER_ADJUSTMENT_DEBIT", d("48") - d("50")),
            ]
        );
    }
}
