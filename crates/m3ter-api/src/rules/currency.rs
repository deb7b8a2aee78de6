//! Currency fields (`Type::CodeRef(Kind::Currency, …)`: plan template,
//! plan group and account `currency`, …) hold a currency's code. Which
//! codes are right depends on whether the org's currency picklist is
//! managed alongside: when the catalog has currencies (the desired state
//! declares `currencies`, or the emulator's org has picklist entries), the
//! code must be one of them; when it has none, the picklist is managed
//! elsewhere and any ISO 4217 code is accepted (SPEC: "ISO code").

use super::{Body, Catalog, Finding, did_you_mean, list, str_of};
use crate::Kind;

pub(crate) const ISO: &str = "currency.iso4217";
pub(crate) const KNOWN: &str = "currency.known";

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

/// Checks every currency field of `kind` in `body`.
pub(crate) fn check(kind: Kind, body: &Body, catalog: &dyn Catalog, out: &mut Vec<Finding>) {
    let fields = kind.code_refs();
    let fields = fields.iter().filter(|(_, t)| *t == Kind::Currency);
    for (field, _) in fields {
        let Some(code) = str_of(body, field) else {
            continue;
        };
        let declared = catalog.each(Kind::Currency);
        if declared.is_empty() {
            iso(field, code, out);
            continue;
        }
        let mut codes: Vec<&str> = declared
            .iter()
            .filter_map(|(_, b)| str_of(b, "code"))
            .collect();
        if codes.contains(&code) {
            continue;
        }
        codes.sort_unstable();
        out.push(Finding::error(
            KNOWN,
            *field,
            format!(
                "`{field}` \"{code}\" is not a currency of the org's picklist{}; \
                 the currencies are {}: use one of them, or add a currency with code \"{code}\"",
                did_you_mean(code, &codes),
                list(&codes)
            ),
        ));
    }
}

/// No picklist to check against: the code must be ISO 4217.
fn iso(field: &str, currency: &str, out: &mut Vec<Finding>) {
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
        field,
        format!("`{field}` \"{currency}\" is not an ISO 4217 currency code; {hint}"),
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

    #[test]
    fn declared_currencies_are_the_only_ones() {
        let f = Fixture::default()
            .with(
                Kind::Currency,
                "USD",
                json!({"code": "USD", "name": "Dollar"}),
            )
            .with(
                Kind::Currency,
                "GBP",
                json!({"code": "GBP", "name": "Pound"}),
            );
        let ok = body(json!({"name": "G", "currency": "GBP"}));
        assert_eq!(f.render(Kind::PlanGroup, &ok), "");
        // A declared code need not be ISO: the picklist is the authority.
        let credits = Fixture::default().with(
            Kind::Currency,
            "CREDITS",
            json!({"code": "CREDITS", "name": "Credits"}),
        );
        assert_eq!(
            credits.render(
                Kind::Account,
                &body(json!({"code": "a", "currency": "CREDITS"}))
            ),
            ""
        );
        insta::assert_snapshot!(
            f.render(Kind::PlanTemplate, &body(json!({"currency": "USX"})))
                + &f.render(
                    Kind::PlanGroup,
                    &body(json!({"name": "G", "currency": "EUR"}))
                )
        );
    }
}
