//! Entity addresses: `kind.key`, the identity of an entity in plans, state
//! and on the command line (`shared/design.md` §2, §3.3). A singleton kind
//! (one entity per org) is addressed by its bare kind name
//! (`organizationConfig`).

use std::fmt;
use std::str::FromStr;

use m3ter_api::Kind;
use m3ter_api::identity::Key;

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

    /// The address of a singleton kind's one entity, if `kind` is one.
    pub fn singleton(kind: Kind) -> Option<Self> {
        match kind.spec().identity.key {
            Key::Singleton(key) => Some(Address::new(kind, key)),
            _ => None,
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
        if Address::singleton(self.kind).as_ref() == Some(self) {
            write!(f, "{}", self.kind)
        } else if plain_key(&self.key) {
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
    #[error(
        "`{0}` is not an address: expected `kind.key`, `kind[\"key\"]` or a singleton kind (`organizationConfig`)"
    )]
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
        } else if let Some(a) = Kind::from_name(s).and_then(Address::singleton) {
            return Ok(a);
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
    fn a_singleton_is_its_bare_kind() {
        let a = Address::singleton(Kind::OrganizationConfig).unwrap();
        assert_eq!(a.to_string(), "organizationConfig");
        assert_eq!("organizationConfig".parse::<Address>().unwrap(), a);
        assert_eq!(Address::singleton(Kind::Product), None);
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
