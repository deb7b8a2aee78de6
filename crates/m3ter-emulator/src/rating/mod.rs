//! Rating is the `m3ter-rating` crate (one engine for the emulator's bill
//! runs and the tool's bill-impact preview); this module gives it the
//! store's configuration ([`StoreOrg`]) and keeps the paths the emulator's
//! modules use (`crate::rating::{Accumulator, FieldQuery, Window, …}`).

use m3ter_api::Kind;
pub(crate) use m3ter_rating::{
    AccountBill, Accumulator, FieldQuery, MeasurementFields, Org, PreparedQuery, Usage, Window,
    account_bill,
};
use serde_json::Value;

use crate::store::{Object, Store, Table};

/// The store as the configuration rating reads.
pub(crate) struct StoreOrg<'s>(pub(crate) &'s Store);

fn str_of<'a>(o: &'a Object, key: &str) -> Option<&'a str> {
    o.get(key).and_then(Value::as_str)
}

impl Org for StoreOrg<'_> {
    fn get(&self, kind: Kind, id: &str) -> Option<&Object> {
        self.0.kind(kind).get(id).map(|e| &e.value)
    }

    fn all(&self, kind: Kind) -> Vec<&Object> {
        let mut v: Vec<&Object> = self
            .0
            .kind(kind)
            .iter_newest_first()
            .map(|e| &e.value)
            .collect();
        v.reverse();
        v
    }

    fn id_by_code(&self, kind: Kind, code: &str) -> Option<&str> {
        self.0.kind(kind).id_by_code(code)
    }

    fn bills(&self, account_id: &str) -> Vec<&Object> {
        self.0
            .table(Table::Bills)
            .iter_newest_first()
            .map(|e| &e.value)
            .filter(|b| str_of(b, "accountId") == Some(account_id))
            .collect()
    }

    fn balance_transactions(&self, balance_id: &str) -> Vec<&Object> {
        self.0
            .table(Table::BalanceTransactions)
            .iter_newest_first()
            .map(|e| &e.value)
            .filter(|t| str_of(t, "balanceId") == Some(balance_id))
            .collect()
    }
}
