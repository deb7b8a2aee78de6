//! The rating engine: turns an account's configuration and usage into bill
//! line items and their exact total.
//!
//! m3ter's own rating maths is not public. These are the tool's documented
//! rules (README "Billing", `design.md` §7), kept in one place so that the
//! emulator's bill runs and the tool's `plan --bill-impact` preview use the
//! same engine and cannot disagree.
//!
//! The engine does no IO: it reads the configuration through [`Org`] (the
//! API's JSON form, ids not codes) and the usage through [`Usage`]
//! ([`Measurements`] when the measurements are in memory). Amounts are
//! exact decimals ([`money`]).

use chrono::{DateTime, Utc};

use m3ter_api::Kind;

mod bill;
mod counters;
mod drawdown;
mod fields;
pub mod money;
mod rate;
mod usage;

pub use bill::{AccountBill, account_bill};
pub use money::Decimal;
pub use rate::{LineItems, balance_amount, rate};
pub use usage::{
    Accumulator, FieldQuery, MeasurementFields, Measurements, PreparedQuery, aggregate,
};

/// A JSON object in the API's form (an entity, a measurement, a line item).
pub type Object = serde_json::Map<String, serde_json::Value>;

/// A half-open time window `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Window {
    /// Whether `t` is inside the window (`from` in, `to` out).
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from <= t && t < self.to
    }

    /// The window's length in milliseconds.
    pub(crate) fn millis(&self) -> Decimal {
        Decimal::from((self.to - self.from).num_milliseconds())
    }
}

/// The configuration rating reads, in the API's JSON form (ids, not codes).
pub trait Org {
    /// The entity of `kind` with this id.
    fn get(&self, kind: Kind, id: &str) -> Option<&Object>;
    /// Every entity of `kind`, oldest first (creation order; line order follows it).
    fn all(&self, kind: Kind) -> Vec<&Object>;
    /// The id of the entity of `kind` with this code.
    fn id_by_code(&self, kind: Kind, code: &str) -> Option<&str>;
    /// The account's bills (API form with `lineItems`); rating keeps those ending by the period start
    /// (what commitments and balances drew before).
    fn bills(&self, account_id: &str) -> Vec<&Object>;
    /// A balance's transactions (API form, `amount`).
    fn balance_transactions(&self, balance_id: &str) -> Vec<&Object>;
}

/// Where usage comes from.
pub trait Usage {
    /// The value of `query` over `account_id`'s measurements; None when no measurement has a value
    /// (rating then uses the aggregation's defaultValue).
    fn aggregate(&self, account_id: &str, query: &FieldQuery<'_>) -> Option<Decimal>;
}

#[cfg(test)]
pub(crate) mod testing;
