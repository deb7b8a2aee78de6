//! Pricing rules: its bands, and its segment against the aggregation's.

use serde_json::Value;

use super::{Body, Catalog, Finding, code_or, num_text, str_of};
use crate::Kind;

pub(crate) const OVERAGE: &str = "pricing.overageBands";
pub(crate) const BANDS: &str = "pricing.bands";
pub(crate) const SEGMENT: &str = "pricing.segment";
pub(crate) const NEGATIVE_PRICE: &str = "pricing.negativePrice";
pub(crate) const ALL_ZERO: &str = "pricing.allZero";

const BAND_LISTS: [&str; 2] = ["pricingBands", "overagePricingBands"];

pub(crate) fn check(pricing: &Body, catalog: &dyn Catalog, out: &mut Vec<Finding>) {
    overage(pricing, out);
    for key in BAND_LISTS {
        bands(pricing, key, out);
    }
    segment(pricing, catalog, out);
    warnings(pricing, out);
}

fn band_list<'a>(pricing: &'a Body, key: &str) -> &'a [Value] {
    pricing
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// SPEC (overagePricingBands): "Can only be used for a Tiered pricing
/// structure" and not with `tiersSpanPlan`. An absent `cumulative` is
/// tiered: the emulator's default (the spec contradicts itself).
fn overage(pricing: &Body, out: &mut Vec<Finding>) {
    let flag = |k: &str, default: bool| pricing.get(k).and_then(Value::as_bool).unwrap_or(default);
    let (cumulative, spans) = (flag("cumulative", true), flag("tiersSpanPlan", false));
    if band_list(pricing, "overagePricingBands").is_empty() || (cumulative && !spans) {
        return;
    }
    let why = if cumulative {
        "`tiersSpanPlan` is true"
    } else {
        "`cumulative` is false (volume pricing)"
    };
    out.push(Finding::error(
        OVERAGE,
        "overagePricingBands",
        format!(
            "`overagePricingBands` need `cumulative` true and `tiersSpanPlan` false, but {why}; \
             remove the overage bands or make the pricing tiered"
        ),
    ));
}

/// Bands are found by their lower limit, so two bands may not share one,
/// and the lowest must start at 0 or the first units have no price.
fn bands(pricing: &Body, key: &str, out: &mut Vec<Finding>) {
    let limits: Vec<(usize, &Value, f64)> = band_list(pricing, key)
        .iter()
        .enumerate()
        .filter_map(|(i, b)| {
            let v = b.get("lowerLimit")?;
            Some((i, v, v.as_f64()?))
        })
        .collect();
    for (n, (i, v, limit)) in limits.iter().enumerate() {
        if let Some((j, _, _)) = limits[..n].iter().find(|(_, _, l)| l == limit) {
            out.push(Finding::error(
                BANDS,
                format!("{key}[{i}].lowerLimit"),
                format!(
                    "`{key}[{i}].lowerLimit` {} repeats `{key}[{j}].lowerLimit`; each band needs \
                     its own lower limit, so change or remove one of them",
                    num_text(v)
                ),
            ));
        }
    }
    let lowest = limits.iter().min_by(|a, b| a.2.total_cmp(&b.2));
    if let Some((i, v, limit)) = lowest
        && *limit > 0.0
    {
        out.push(Finding::error(
            BANDS,
            format!("{key}[{i}].lowerLimit"),
            format!(
                "`{key}[{i}].lowerLimit` is {}, but the lowest band must start at 0; add a band \
                 with `lowerLimit: 0` or lower this one to 0",
                num_text(v)
            ),
        ));
    }
}

/// `{k=v, …}`, sorted by key like `segmentString`.
fn show(seg: &Body) -> String {
    let mut parts: Vec<String> = seg
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    parts.sort();
    format!("{{{}}}", parts.join(", "))
}

/// SPEC (Pricing.segment): "If you specify a segment value that has not
/// been defined for the Aggregation, you'll receive an error", wildcard
/// segments included. We read a defined `*` as matching any value.
fn segment(pricing: &Body, catalog: &dyn Catalog, out: &mut Vec<Finding>) {
    let Some(seg) = pricing
        .get("segment")
        .and_then(Value::as_object)
        .filter(|s| !s.is_empty())
    else {
        return;
    };
    let Some(agg_ref) = str_of(pricing, "aggregationId") else {
        return;
    };
    let Some(agg) = catalog.get(Kind::Aggregation, agg_ref) else {
        return;
    };
    let code = code_or(Some(agg), agg_ref);
    let defined: Vec<&Body> = agg
        .get("segments")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default();
    let matches = |d: &&Body| {
        d.len() == seg.len()
            && d.iter().all(|(k, want)| {
                seg.get(k)
                    .is_some_and(|got| want == got || want.as_str() == Some("*"))
            })
    };
    if defined.iter().any(matches) {
        return;
    }
    let message = if defined.is_empty() {
        format!(
            "`segment` {} is not a segment of aggregation `{code}`, which defines no `segments`; \
             remove `segment`, or add the value to the aggregation's `segments`",
            show(seg)
        )
    } else {
        let shown: Vec<String> = defined.iter().take(10).map(|d| show(d)).collect();
        format!(
            "`segment` {} is not among the segments aggregation `{code}` defines: {}{}; use one \
             of them, or add it to the aggregation's `segments`",
            show(seg),
            shown.join(", "),
            if defined.len() > 10 { ", …" } else { "" }
        )
    };
    out.push(Finding::error(SEGMENT, "segment", message));
}

/// Legal but suspicious: the spec sets no minimum on prices, and a pricing
/// of zeros charges nothing.
fn warnings(pricing: &Body, out: &mut Vec<Finding>) {
    for key in BAND_LISTS {
        for (i, band) in band_list(pricing, key).iter().enumerate() {
            for price in ["unitPrice", "fixedPrice"] {
                if let Some(v) = band
                    .get(price)
                    .filter(|v| v.as_f64().is_some_and(|p| p < 0.0))
                {
                    out.push(Finding::warning(
                        NEGATIVE_PRICE,
                        format!("{key}[{i}].{price}"),
                        format!(
                            "`{key}[{i}].{price}` is negative ({}), so this band lowers the bill; \
                             for a credit, use a pricing of `type` PRODUCT_CREDIT or GLOBAL_CREDIT",
                            num_text(v)
                        ),
                    ));
                }
            }
        }
    }
    let bands = band_list(pricing, "pricingBands");
    let zero = |b: &Value, k: &str| b.get(k).and_then(Value::as_f64) == Some(0.0);
    if !bands.is_empty()
        && bands
            .iter()
            .all(|b| zero(b, "unitPrice") && zero(b, "fixedPrice"))
    {
        out.push(Finding::warning(
            ALL_ZERO,
            "pricingBands",
            "every band of `pricingBands` has `unitPrice` and `fixedPrice` 0, so this pricing \
             charges nothing; set a price, or remove the pricing if it is not needed"
                .to_owned(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::Kind;
    use crate::rules::fixture::{Fixture, body};

    fn fixture() -> Fixture {
        Fixture::default()
            .with(Kind::Aggregation, "plain", json!({"code": "plain"}))
            .with(
                Kind::Aggregation,
                "by_region",
                json!({"code": "by_region", "segmentedFields": ["region", "tier"],
                       "segments": [{"region": "eu", "tier": "gold"}, {"region": "us", "tier": "*"}]}),
            )
    }

    fn pricing(extra: Value) -> crate::rules::Body {
        let mut b = body(
            json!({"planId": "p", "aggregationId": "plain", "startDate": "2024-01-01T00:00:00Z",
                                "pricingBands": [{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 0.5},
                                                 {"lowerLimit": 50, "fixedPrice": 0, "unitPrice": 0.1}]}),
        );
        b.extend(body(extra));
        b
    }

    #[test]
    fn a_good_pricing_has_no_findings() {
        let f = fixture();
        assert_eq!(f.render(Kind::Pricing, &pricing(json!({}))), "");
        let tiered = pricing(
            json!({"overagePricingBands": [{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 1}]}),
        );
        assert_eq!(f.render(Kind::Pricing, &tiered), "");
        for seg in [
            json!({"region": "eu", "tier": "gold"}),
            json!({"region": "us", "tier": "silver"}),
        ] {
            let p = pricing(json!({"aggregationId": "by_region", "segment": seg}));
            assert_eq!(f.render(Kind::Pricing, &p), "");
        }
    }

    #[test]
    fn overage_bands_only_on_tiered_pricing() {
        let f = fixture();
        let over = json!([{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 1}]);
        let volume = pricing(json!({"cumulative": false, "overagePricingBands": over}));
        let spans = pricing(json!({"tiersSpanPlan": true, "overagePricingBands": over}));
        insta::assert_snapshot!(
            f.render(Kind::Pricing, &volume) + &f.render(Kind::Pricing, &spans)
        );
    }

    #[test]
    fn bands_start_at_zero_with_distinct_limits() {
        let p = pricing(json!({
            "pricingBands": [{"lowerLimit": 100, "fixedPrice": 0, "unitPrice": 1},
                             {"lowerLimit": 10, "fixedPrice": 0, "unitPrice": 1},
                             {"lowerLimit": 100.0, "fixedPrice": 0, "unitPrice": 2}],
            "overagePricingBands": [{"lowerLimit": 5, "fixedPrice": 0, "unitPrice": 1}]}));
        insta::assert_snapshot!(fixture().render(Kind::Pricing, &p));
    }

    #[test]
    fn segment_is_one_the_aggregation_defines() {
        let f = fixture();
        let unknown = pricing(
            json!({"aggregationId": "by_region", "segment": {"region": "apac", "tier": "gold"}}),
        );
        let unsegmented = pricing(json!({"segment": {"region": "eu"}}));
        insta::assert_snapshot!(
            f.render(Kind::Pricing, &unknown) + &f.render(Kind::Pricing, &unsegmented)
        );
    }

    #[test]
    fn negative_and_all_zero_prices_are_warnings() {
        let f = fixture();
        let negative = pricing(
            json!({"pricingBands": [{"lowerLimit": 0, "fixedPrice": -5, "unitPrice": -0.5}]}),
        );
        let zero = pricing(
            json!({"pricingBands": [{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 0},
                                                   {"lowerLimit": 10, "fixedPrice": 0.0, "unitPrice": 0}]}),
        );
        insta::assert_snapshot!(
            f.render(Kind::Pricing, &negative) + &f.render(Kind::Pricing, &zero)
        );
    }
}
