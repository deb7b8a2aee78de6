//! Entity addresses: `kind.key`, the identity of an entity in plans, state
//! and on the command line (`shared/design.md` §2, §3.3).

use std::fmt;
use std::str::FromStr;

use m3ter_api::Kind;

/// `kind.key`; a key with characters outside `[A-Za-z0-9_$.\/@#=,-]` is
/// written `kind["key"]` (JSON string escaping). Both forms parse.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    pub kind: Kind,
    pub key: String,
}

impl Address {
    pub fn new(kind: Kind, key: impl Into<String>) -> Self {
        Address {
            kind,
            key: key.into(),
        }
    }
}

fn plain_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_$./\\@#=,-".contains(c))
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if plain_key(&self.key) {
            write!(f, "{}.{}", self.kind, self.key)
        } else {
            let quoted = serde_json::to_string(&self.key).map_err(|_| fmt::Error)?;
            write!(f, "{}[{}]", self.kind, quoted)
        }
    }
}

/// Why a string is not an address.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AddressError {
    #[error("`{0}` is not an address: expected `kind.key` or `kind[\"key\"]`")]
    Shape(String),
    #[error("`{0}` is not a kind; kinds are: {1}")]
    Kind(String, String),
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, key) = if let Some(i) = s.find("[\"") {
            let rest = &s[i + 1..];
            let key: String = rest
                .strip_suffix(']')
                .and_then(|q| serde_json::from_str(q).ok())
                .ok_or_else(|| AddressError::Shape(s.to_string()))?;
            (&s[..i], key)
        } else {
            let (k, key) = s
                .split_once('.')
                .ok_or_else(|| AddressError::Shape(s.to_string()))?;
            if key.is_empty() {
                return Err(AddressError::Shape(s.to_string()));
            }
            (k, key.to_string())
        };
        let kind = Kind::from_name(kind).ok_or_else(|| {
            let all: Vec<_> = Kind::ALL.iter().map(|k| k.name()).collect();
            AddressError::Kind(kind.to_string(), all.join(", "))
        })?;
        Ok(Address { kind, key })
    }
}

impl serde::Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_quoted_forms_round_trip() {
        for (addr, text) in [
            (
                Address::new(Kind::Product, "aws_lambda"),
                "product.aws_lambda",
            ),
            (
                Address::new(Kind::Pricing, "lambda_plan/duration@2024-11-01"),
                "pricing.lambda_plan/duration@2024-11-01",
            ),
            (
                Address::new(Kind::Account, "Mickey Mouse"),
                "account[\"Mickey Mouse\"]",
            ),
        ] {
            assert_eq!(addr.to_string(), text);
            assert_eq!(text.parse::<Address>().unwrap(), addr);
        }
    }

    #[test]
    fn bad_addresses_say_why() {
        assert!(matches!(
            "product".parse::<Address>(),
            Err(AddressError::Shape(_))
        ));
        assert!(matches!(
            "widget.x".parse::<Address>(),
            Err(AddressError::Kind(..))
        ));
    }
}

/// Who owns a pricing: a plan, or a plan template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PricingOwner<'a> {
    Plan(&'a str),
    Template(&'a str),
}

/// Key of a pricing without its own `code` (design §3.3):
/// `<plan>/<aggregation>@<date>` (owner `template:<code>` for a plan-template
/// pricing), then `#k=v,k2=v2` (sorted keys) when a segment is set.
/// `start_date` may be a date or a date-time; its UTC date is used.
pub fn pricing_key(
    owner: PricingOwner<'_>,
    aggregation_code: &str,
    start_date: &str,
    segment: Option<&serde_json::Map<String, serde_json::Value>>,
) -> String {
    let owner = match owner {
        PricingOwner::Plan(code) => code.to_string(),
        PricingOwner::Template(code) => format!("template:{code}"),
    };
    let mut key = format!("{owner}/{aggregation_code}@{}", utc_date(start_date));
    if let Some(seg) = segment.filter(|s| !s.is_empty()) {
        let mut parts: Vec<String> = seg
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    v.as_str().map_or_else(|| v.to_string(), str::to_string)
                )
            })
            .collect();
        parts.sort();
        key.push('#');
        key.push_str(&parts.join(","));
    }
    key
}

/// Key of an account plan without its own `code`: `<account>/<plan>@<date>`.
pub fn account_plan_key(account_code: &str, plan_code: &str, start_date: &str) -> String {
    format!("{account_code}/{plan_code}@{}", utc_date(start_date))
}

/// The UTC date (`YYYY-MM-DD`) of a date or date-time string; other text is
/// returned as is.
pub fn utc_date(s: &str) -> String {
    match m3ter_api::validate::parse_date_time(s) {
        Some(t) => t.format("%Y-%m-%d").to_string(),
        None => s.get(..10).unwrap_or(s).to_string(),
    }
}

#[cfg(test)]
mod key_tests {
    use super::*;

    #[test]
    fn pricing_keys() {
        let seg: serde_json::Map<_, _> =
            serde_json::from_str(r#"{"region":"eu","tier":"gold"}"#).unwrap();
        assert_eq!(
            pricing_key(
                PricingOwner::Plan("p"),
                "agg",
                "2024-11-01T00:00:00.000Z",
                None
            ),
            "p/agg@2024-11-01"
        );
        assert_eq!(
            pricing_key(PricingOwner::Template("t"), "agg", "2024-11-01", Some(&seg)),
            "template:t/agg@2024-11-01#region=eu,tier=gold"
        );
        assert_eq!(
            pricing_key(
                PricingOwner::Plan("p"),
                "a",
                "2024-11-30T23:00:00-02:00",
                None
            ),
            "p/a@2024-12-01"
        );
    }

    #[test]
    fn account_plan_keys() {
        assert_eq!(
            account_plan_key("acc", "plan", "2024-12-01T00:00:00Z"),
            "acc/plan@2024-12-01"
        );
    }
}
