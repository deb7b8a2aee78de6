//! Exact numbers for rating (`design.md` §7: amounts stay exact). Prices,
//! usage quantities and every amount a bill shows are [`Decimal`]s from the
//! JSON request to the JSON answer, so `3 × 0.1` is `0.3` and the total of
//! `0.1 + 0.2` is `0.3`, not the binary doubles nearest to them.
//!
//! The wire stays as it is: serde_json (without `arbitrary_precision`, which
//! would change number handling for the whole workspace) parses a JSON
//! number to an `f64`, and we read it back by its shortest round-trip text,
//! which is the decimal the client wrote. Amounts are answered as the JSON
//! number nearest to the exact decimal, whose shortest text is that decimal
//! whenever it has at most 15 significant digits.
//!
//! A decimal has 28 significant digits and a range of about ±7.9e28; a value
//! beyond it saturates at the nearest bound (JSON has no infinity).

pub use rust_decimal::Decimal;
use serde_json::Value;

/// The decimal a JSON number stands for; None for anything else.
pub fn decimal(v: &Value) -> Option<Decimal> {
    v.as_number().map(decimal_of)
}

/// The decimal a JSON number stands for.
pub fn decimal_of(n: &serde_json::Number) -> Decimal {
    if let Some(i) = n.as_i64() {
        return Decimal::from(i);
    }
    if let Some(u) = n.as_u64() {
        return Decimal::from(u);
    }
    n.as_f64().map_or(Decimal::ZERO, from_f64)
}

/// The decimal an `f64` was written as (its shortest round-trip text):
/// `0.1` is 0.1, not 0.1000000000000000055…; NaN is 0, and values beyond
/// the decimal range saturate.
pub fn from_f64(x: f64) -> Decimal {
    if x.is_nan() {
        return Decimal::ZERO;
    }
    let saturated = if x > 0.0 { Decimal::MAX } else { Decimal::MIN };
    if x.is_infinite() {
        return saturated;
    }
    // A whole number (most calculations over whole measures) converts
    // exactly without formatting it; the same value as through `Display`.
    if x.fract() == 0.0 && x.abs() < 9_007_199_254_740_992.0 {
        return Decimal::from(x as i64);
    }
    // `Display` of f64 never uses an exponent; a value too small for 28
    // decimal places falls back to the rounding conversion.
    x.to_string()
        .parse::<Decimal>()
        .ok()
        .or_else(|| rust_decimal::prelude::FromPrimitive::from_f64(x))
        .unwrap_or(if x.abs() < 1.0 {
            Decimal::ZERO
        } else {
            saturated
        })
}

/// The `f64` nearest to `d` (through its text: correctly rounded).
pub fn to_f64(d: Decimal) -> f64 {
    if d.is_zero() {
        return 0.0;
    }
    d.to_string().parse().unwrap_or(0.0)
}

/// `d` as a JSON number, as amounts were always answered: a float (`0.0`,
/// `60.0`), and never `-0.0`.
pub fn number(d: Decimal) -> Value {
    Value::from(to_f64(d))
}

/// `a × b`, saturating at the decimal range.
pub fn mul(a: Decimal, b: Decimal) -> Decimal {
    a.saturating_mul(b)
}

/// `a + b`, saturating at the decimal range.
pub fn add(a: Decimal, b: Decimal) -> Decimal {
    a.saturating_add(b)
}

/// `a - b`, saturating at the decimal range.
pub fn sub(a: Decimal, b: Decimal) -> Decimal {
    a.saturating_sub(b)
}

/// `a / b`; 0 when `b` is 0, saturating at the decimal range.
pub fn div(a: Decimal, b: Decimal) -> Decimal {
    if b.is_zero() {
        return Decimal::ZERO;
    }
    a.checked_div(b)
        .unwrap_or(if a.is_sign_negative() == b.is_sign_negative() {
            Decimal::MAX
        } else {
            Decimal::MIN
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn json_numbers_read_as_the_decimal_written() {
        assert_eq!(decimal(&json!(0.1)), Some(d("0.1")));
        assert_eq!(decimal(&json!(7)), Some(d("7")));
        assert_eq!(decimal(&json!(-2.5e-3)), Some(d("-0.0025")));
        assert_eq!(decimal(&json!(u64::MAX)), Some(Decimal::from(u64::MAX)));
        assert_eq!(decimal(&json!("1")), None);
        assert_eq!(decimal(&json!(1e300)), Some(Decimal::MAX));
        assert_eq!(decimal(&json!(-1e300)), Some(Decimal::MIN));
        assert_eq!(from_f64(1e-40), Decimal::ZERO);
        assert_eq!(from_f64(f64::NAN), Decimal::ZERO);
        assert_eq!(from_f64(f64::NEG_INFINITY), Decimal::MIN);
        // Whole numbers skip formatting, with the same value and sign.
        for x in [0.0, -0.0, 3.0, -7.0, 9_007_199_254_740_991.0, 1e20, 2.5] {
            let through_display: Decimal = x.to_string().parse().unwrap();
            let got = from_f64(x);
            assert_eq!(got, through_display, "{x}");
            assert_eq!(
                got.is_sign_negative(),
                through_display.is_sign_negative(),
                "{x}"
            );
        }
    }

    #[test]
    fn amounts_answer_as_floats_and_never_negative_zero() {
        assert_eq!(number(d("0.3")).to_string(), "0.3");
        assert_eq!(number(d("60")).to_string(), "60.0");
        assert_eq!(number(-Decimal::ZERO).to_string(), "0.0");
        assert_eq!(number(Decimal::MAX), json!(7.922816251426434e28));
    }

    #[test]
    fn arithmetic_saturates_instead_of_failing() {
        assert_eq!(mul(Decimal::MAX, d("2")), Decimal::MAX);
        assert_eq!(add(Decimal::MIN, d("-1")), Decimal::MIN);
        assert_eq!(sub(Decimal::MAX, d("-1")), Decimal::MAX);
        assert_eq!(div(d("1"), Decimal::ZERO), Decimal::ZERO);
        assert_eq!(div(Decimal::MAX, d("0.5")), Decimal::MAX);
        assert_eq!(div(d("1"), d("8")), d("0.125"));
    }
}
