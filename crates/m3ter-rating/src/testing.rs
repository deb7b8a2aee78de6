//! A plain in-memory [`Org`] for tests: rating needs no emulator.

use std::collections::HashMap;

use serde_json::Value;

use m3ter_api::Kind;

use crate::fields::str_of;
use crate::{Object, Org};

pub(crate) fn obj(v: Value) -> Object {
    v.as_object().cloned().unwrap_or_default()
}

/// A decimal from its text.
pub(crate) fn d(s: &str) -> crate::Decimal {
    s.parse().unwrap()
}

/// An instant from RFC 3339 text.
pub(crate) fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    m3ter_api::validate::parse_date_time(s).unwrap()
}

/// Entities by kind in creation order, bills and balance transactions.
#[derive(Default)]
pub(crate) struct MemOrg {
    entities: HashMap<Kind, Vec<Object>>,
    bills: Vec<Object>,
    transactions: Vec<Object>,
}

impl MemOrg {
    pub(crate) fn put(&mut self, kind: Kind, value: Value) {
        self.entities.entry(kind).or_default().push(obj(value));
    }
    pub(crate) fn bill(&mut self, value: Value) {
        self.bills.push(obj(value));
    }
    pub(crate) fn transaction(&mut self, value: Value) {
        self.transactions.push(obj(value));
    }
}

impl Org for MemOrg {
    fn get(&self, kind: Kind, id: &str) -> Option<&Object> {
        self.entities
            .get(&kind)?
            .iter()
            .find(|o| str_of(o, "id") == Some(id))
    }
    fn all(&self, kind: Kind) -> Vec<&Object> {
        self.entities.get(&kind).into_iter().flatten().collect()
    }
    fn id_by_code(&self, kind: Kind, code: &str) -> Option<&str> {
        self.entities
            .get(&kind)?
            .iter()
            .find(|o| str_of(o, "code") == Some(code))
            .and_then(|o| str_of(o, "id"))
    }
    fn bills(&self, account_id: &str) -> Vec<&Object> {
        let own = |b: &&Object| str_of(b, "accountId") == Some(account_id);
        self.bills.iter().filter(own).collect()
    }
    fn balance_transactions(&self, balance_id: &str) -> Vec<&Object> {
        let own = |t: &&Object| str_of(t, "balanceId") == Some(balance_id);
        self.transactions.iter().filter(own).collect()
    }
}
