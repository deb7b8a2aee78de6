//! [`Refs`]: an entity's reference fields, as a small sorted slice.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::address::Address;

/// Reference field (API name, e.g. `productId`) → address of the target,
/// sorted by field. An entity has one or two: a `BTreeMap` spent a whole
/// node (about 630 bytes) on each, 18 MB of a 40,000-entity plan's peak.
/// Serialized as a map, as the `BTreeMap` was (plan files are unchanged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refs(Box<[(String, Address)]>);

impl Refs {
    /// The target of `field`.
    pub fn get(&self, field: &str) -> Option<&Address> {
        self.0
            .binary_search_by(|(f, _)| f.as_str().cmp(field))
            .ok()
            .map(|i| &self.0[i].1)
    }

    pub fn contains_key(&self, field: &str) -> bool {
        self.get(field).is_some()
    }

    /// Fields and targets, in field order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Address)> {
        self.0.iter().map(|(f, a)| (f, a))
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(f, _)| f)
    }

    pub fn values(&self) -> impl Iterator<Item = &Address> {
        self.0.iter().map(|(_, a)| a)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A field given twice keeps its last target, as a map would.
impl FromIterator<(String, Address)> for Refs {
    fn from_iter<I: IntoIterator<Item = (String, Address)>>(iter: I) -> Self {
        let map: BTreeMap<String, Address> = iter.into_iter().collect();
        Refs(map.into_iter().collect())
    }
}

impl<const N: usize> From<[(String, Address); N]> for Refs {
    fn from(entries: [(String, Address); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl<'a> IntoIterator for &'a Refs {
    type Item = (&'a String, &'a Address);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, Address)>,
        fn(&'a (String, Address)) -> (&'a String, &'a Address),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(f, a)| (f, a))
    }
}

impl std::ops::Index<&str> for Refs {
    type Output = Address;
    fn index(&self, field: &str) -> &Address {
        self.get(field)
            .unwrap_or_else(|| panic!("no reference field `{field}`"))
    }
}

impl Serialize for Refs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Refs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(BTreeMap::<String, Address>::deserialize(d)?
            .into_iter()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use m3ter_api::Kind;

    #[test]
    fn sorted_looked_up_and_serialized_as_a_map() {
        let refs: Refs = [
            ("productId".to_string(), Address::new(Kind::Product, "p")),
            ("accountId".to_string(), Address::new(Kind::Account, "a")),
        ]
        .into();
        assert_eq!(refs.keys().collect::<Vec<_>>(), ["accountId", "productId"]);
        assert_eq!(
            refs.get("productId"),
            Some(&Address::new(Kind::Product, "p"))
        );
        assert!(!refs.contains_key("planId"));
        let json = serde_json::to_value(&refs).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"accountId": "account.a", "productId": "product.p"})
        );
        assert_eq!(serde_json::from_value::<Refs>(json).unwrap(), refs);
    }
}
