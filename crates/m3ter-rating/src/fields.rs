//! Reading the fields of API-form JSON objects.

use chrono::{DateTime, Utc};
use serde_json::Value;

use m3ter_api::validate::parse_date_time;

use crate::Object;
use crate::money::{Decimal, decimal};

pub(crate) fn str_of<'a>(o: &'a Object, key: &str) -> Option<&'a str> {
    o.get(key).and_then(Value::as_str)
}
pub(crate) fn num_of(o: &Object, key: &str) -> Option<Decimal> {
    o.get(key).and_then(decimal)
}
pub(crate) fn time_of(o: &Object, key: &str) -> Option<DateTime<Utc>> {
    str_of(o, key).and_then(parse_date_time)
}
/// A date-time field, or a date field as its midnight UTC.
pub(crate) fn instant(o: &Object, key: &str) -> Option<DateTime<Utc>> {
    let s = str_of(o, key)?;
    parse_date_time(s).or_else(|| {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
    })
}
/// An instant as the API writes it (milliseconds, `Z`).
pub(crate) fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}
