//! ISO 4217 currency codes: plan template `currency` (SPEC: "ISO code") and
//! account `currency`.

use super::{Body, Finding, str_of};

pub(crate) const ISO: &str = "currency.iso4217";

/// The ISO 4217 alphabetic codes in the current list (funds, precious
/// metals and the test/no-currency codes included, as the standard lists
/// them), sorted.
pub const ISO_4217: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD",
    "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUC", "CUP",
    "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP",
    "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS",
    "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW",
    "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD",
    "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN",
    "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR",
    "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SLL",
    "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY",
    "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES",
    "VND", "VUV", "WST", "XAF", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XCD", "XCG", "XDR",
    "XOF", "XPD", "XPF", "XPT", "XSU", "XTS", "XUA", "XXX", "YER", "ZAR", "ZMW", "ZWG", "ZWL",
];

pub(crate) fn check(body: &Body, out: &mut Vec<Finding>) {
    let Some(currency) = str_of(body, "currency") else {
        return;
    };
    if ISO_4217.binary_search(&currency).is_ok() {
        return;
    }
    let upper = currency.to_ascii_uppercase();
    let hint = if ISO_4217.binary_search(&upper.as_str()).is_ok() {
        format!("write it in capitals: `{upper}`")
    } else {
        "use an ISO 4217 code such as USD, EUR or GBP".to_owned()
    };
    out.push(Finding::error(
        ISO,
        "currency",
        format!("`currency` \"{currency}\" is not an ISO 4217 currency code; {hint}"),
    ));
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::ISO_4217;
    use crate::Kind;
    use crate::rules::fixture::{Fixture, body};

    #[test]
    fn the_list_is_sorted_for_binary_search() {
        assert!(ISO_4217.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn currency_is_iso_4217() {
        let f = Fixture::default();
        assert_eq!(
            f.render(Kind::PlanTemplate, &body(json!({"currency": "USD"}))),
            ""
        );
        assert_eq!(f.render(Kind::Account, &body(json!({"code": "a"}))), "");
        insta::assert_snapshot!(
            f.render(Kind::PlanTemplate, &body(json!({"currency": "usd"})))
                + &f.render(
                    Kind::Account,
                    &body(json!({"code": "a", "currency": "ABC"}))
                )
        );
    }
}
