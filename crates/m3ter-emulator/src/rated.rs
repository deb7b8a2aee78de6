//! A stored measurement body decoded for rating only: its `ts`, its number
//! fields and its string fields, borrowed from the body's text where it has
//! no escapes. A usage query over a million measurements decodes each once;
//! building a `serde_json::Map` per body (a key `String`, a hash and a
//! `Value` per field) was most of its time.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Number;

use crate::rating::MeasurementFields;

/// What rating reads of one stored measurement.
pub(crate) struct RatedMeasurement<'b> {
    pub(crate) ts: Cow<'b, str>,
    /// `measure`, then `cost`, then `income` fields that are numbers.
    numbers: Vec<(Cow<'b, str>, Number)>,
    /// `who`, `what`, `where`, `other`, then `metadata` fields that are strings.
    strings: Vec<(Cow<'b, str>, Cow<'b, str>)>,
}

impl<'b> RatedMeasurement<'b> {
    /// None when `body` is not a JSON object with a string `ts`.
    pub(crate) fn parse(body: &'b str) -> Option<RatedMeasurement<'b>> {
        let b: Body<'b> = serde_json::from_str(body).ok()?;
        let numbers = [b.measure, b.cost, b.income]
            .into_iter()
            .flat_map(|p| p.0)
            .filter_map(|(k, v)| match v {
                Scalar::Number(n) => Some((k.0, n)),
                _ => None,
            })
            .collect();
        let strings = [b.who, b.what, b.where_, b.other, b.metadata]
            .into_iter()
            .flat_map(|p| p.0)
            .filter_map(|(k, v)| match v {
                Scalar::Text(s) => Some((k.0, s)),
                _ => None,
            })
            .collect();
        Some(RatedMeasurement {
            ts: b.ts.0,
            numbers,
            strings,
        })
    }
}

impl MeasurementFields for RatedMeasurement<'_> {
    fn number(&self, code: &str) -> Option<&Number> {
        self.numbers.iter().find(|(k, _)| k == code).map(|(_, n)| n)
    }
    fn string(&self, code: &str) -> Option<&str> {
        self.strings
            .iter()
            .find(|(k, _)| k == code)
            .map(|(_, s)| s.as_ref())
    }
}

/// Stored bodies end to end in one buffer (one allocation for many).
#[derive(Default)]
pub(crate) struct Bodies {
    text: String,
    ends: Vec<usize>,
}

impl Bodies {
    pub(crate) fn push(&mut self, body: &str) {
        self.text.push_str(body);
        self.ends.push(self.text.len());
    }
    /// Empties it, keeping its buffers.
    pub(crate) fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }
    /// The `i`th body pushed.
    pub(crate) fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.ends.len()).map(|i| self.get(i))
    }
}

/// The parts of a stored body that rating reads; the rest (`uid`, the
/// codes, `ets`) is skipped.
#[derive(Deserialize)]
struct Body<'b> {
    #[serde(borrow)]
    ts: Text<'b>,
    #[serde(borrow, default)]
    measure: Pairs<'b>,
    #[serde(borrow, default)]
    cost: Pairs<'b>,
    #[serde(borrow, default)]
    income: Pairs<'b>,
    #[serde(borrow, default)]
    who: Pairs<'b>,
    #[serde(borrow, default)]
    what: Pairs<'b>,
    #[serde(borrow, default, rename = "where")]
    where_: Pairs<'b>,
    #[serde(borrow, default)]
    other: Pairs<'b>,
    #[serde(borrow, default)]
    metadata: Pairs<'b>,
}

/// A string, borrowed from the input when it has no escapes (serde's own
/// `Cow<str>` always copies).
struct Text<'b>(Cow<'b, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// A field map's entries in order (`null` is none).
#[derive(Default)]
struct Pairs<'b>(Vec<(Text<'b>, Scalar<'b>)>);

impl<'de: 'a, 'a> Deserialize<'de> for Pairs<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Pairs<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of fields")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Pairs<'a>, E> {
                Ok(Pairs::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pairs<'a>, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(4));
                while let Some(entry) = map.next_entry()? {
                    out.push(entry);
                }
                Ok(Pairs(out))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A field's value: a number, a string, or anything else (not read).
enum Scalar<'b> {
    Number(Number),
    Text(Cow<'b, str>),
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Scalar<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Number(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Number(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar<'a>, E> {
                Ok(Number::from_f64(v).map_or(Scalar::Other, Scalar::Number))
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Text(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Text(Cow::Owned(s.to_owned())))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar<'a>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'a>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::Object;

    #[test]
    fn reads_the_fields_as_the_api_form_does() {
        let body = json!({
            "uid": "u1", "meter": "m", "account": "a", "ts": "2024-12-01T00:00:00Z",
            "measure": {"q": 1.5, "n": 7, "s": "not a number", "nested": {"x": 1}},
            "cost": {"q": 99, "c": 0.1},
            "who": {"region": "eu\"west", "q": "text", "flag": true, "list": [1, 2]},
            "metadata": {"region": "shadowed", "note": "m"},
            "other": null,
        })
        .to_string();
        let object: Object = serde_json::from_str(&body).unwrap();
        let rated = RatedMeasurement::parse(&body).unwrap();
        assert_eq!(rated.ts, "2024-12-01T00:00:00Z");
        for code in [
            "q", "n", "s", "c", "nested", "region", "note", "flag", "list", "none",
        ] {
            assert_eq!(rated.number(code), object.number(code), "number {code}");
            assert_eq!(rated.string(code), object.string(code), "string {code}");
        }
        assert!(RatedMeasurement::parse("[]").is_none());
        assert!(
            RatedMeasurement::parse(r#"{"measure": {}}"#).is_none(),
            "no ts"
        );
    }
}
