//! Checks a JSON request body against a kind's request schema.
//!
//! Returns every violation with the JSON path of the offending value, so the
//! emulator can answer `400 {"message"}` naming the field and the rule, and
//! the desired-state loader can map the path back to a file, line and column.

use serde_json::{Map, Value};

use crate::schema::{Field, Kind, Type};

/// What a violation is about; callers treat unknown fields differently
/// (the emulator ignores them unless `--strict`, the YAML loader rejects them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Required,
    Type,
    Limit,
    Format,
    Enum,
    ExactlyOneOf,
    Unknown,
}

/// One broken rule at one JSON path (`dataFields[0].code`).
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub path: String,
    pub rule: Rule,
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// How reference fields (`productId`, …) are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefMode {
    /// As 36-character UUIDs (what the API receives).
    Uuid,
    /// Not checked here: the desired-state loader resolves codes itself.
    Skip,
}

/// Validates `body` as a create/update request for `kind`. `version` is
/// accepted and not checked here (the caller decides what it means).
pub fn validate_body(kind: Kind, body: &Map<String, Value>, refs: RefMode) -> Vec<Violation> {
    let mut out = Vec::new();
    check_object(kind.fields(), body, "", refs, &mut out, &["version"]);
    for (a, b) in kind.exactly_one_of() {
        let has = |k: &str| body.get(k).is_some_and(|v| !v.is_null());
        match (has(a), has(b)) {
            (true, true) => out.push(Violation {
                path: (*a).to_string(),
                rule: Rule::ExactlyOneOf,
                message: format!("exactly one of `{a}` and `{b}` must be given, not both"),
            }),
            (false, false) => out.push(Violation {
                path: (*a).to_string(),
                rule: Rule::ExactlyOneOf,
                message: format!("exactly one of `{a}` and `{b}` is required"),
            }),
            _ => {}
        }
    }
    out
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

fn check_object(
    fields: &[Field],
    obj: &Map<String, Value>,
    prefix: &str,
    refs: RefMode,
    out: &mut Vec<Violation>,
    allowed_extra: &[&str],
) {
    for field in fields {
        let path = join(prefix, field.name);
        match obj.get(field.name) {
            None | Some(Value::Null) if field.required => out.push(Violation {
                message: format!("`{path}` is required"),
                path,
                rule: Rule::Required,
            }),
            None | Some(Value::Null) => {}
            Some(v) => check_value(&field.ty, v, &path, refs, out),
        }
    }
    for key in obj.keys() {
        if !fields.iter().any(|f| f.name == key) && !allowed_extra.contains(&key.as_str()) {
            let path = join(prefix, key);
            out.push(Violation {
                message: format!("`{path}` is not a field of this request"),
                path,
                rule: Rule::Unknown,
            });
        }
    }
}

/// Checks one value against its type, pushing violations for `path`.
pub fn check_value(ty: &Type, v: &Value, path: &str, refs: RefMode, out: &mut Vec<Violation>) {
    let mut bad = |rule: Rule, message: String| {
        out.push(Violation {
            path: path.to_string(),
            rule,
            message,
        });
    };
    match *ty {
        Type::Str { min, max } => match v.as_str() {
            None => bad(Rule::Type, format!("`{path}` must be a string")),
            Some(s) => {
                let n = s.chars().count();
                if n < min || n > max {
                    let range = if max == usize::MAX {
                        format!("at least {min}")
                    } else if min == 0 {
                        format!("at most {max}")
                    } else if min == max {
                        format!("exactly {min}")
                    } else {
                        format!("{min} to {max}")
                    };
                    // "at least 1 character", "exactly 3 characters".
                    let unit = if range.ends_with(" 1") {
                        "character"
                    } else {
                        "characters"
                    };
                    bad(
                        Rule::Limit,
                        format!("`{path}` must be {range} {unit} long (got {n})"),
                    );
                }
            }
        },
        Type::Text => {
            if !v.is_string() {
                bad(Rule::Type, format!("`{path}` must be a string"));
            }
        }
        Type::GeneralCode => match v.as_str() {
            None => bad(Rule::Type, format!("`{path}` must be a string")),
            Some(s) => {
                if let Err(why) = general_code(s) {
                    bad(Rule::Format, format!("`{path}` {why}"));
                }
            }
        },
        Type::IdentCode => match v.as_str() {
            None => bad(Rule::Type, format!("`{path}` must be a string")),
            Some(s) => {
                if let Err(why) = identifier_code(s) {
                    bad(Rule::Format, format!("`{path}` {why}"));
                }
            }
        },
        // A code, checked as the field's own type: whether it names a
        // known entity is the rule `currency.known` (rules::currency).
        Type::CodeRef(_, inner) => check_value(inner, v, path, refs, out),
        Type::Uuid => check_uuid(v, path, &mut bad),
        Type::Ref(_) | Type::AnyRef(_) => {
            if refs == RefMode::Uuid {
                check_uuid(v, path, &mut bad);
            }
        }
        Type::Number { min, exclusive_min } => match v.as_f64() {
            None => bad(Rule::Type, format!("`{path}` must be a number")),
            Some(x) => {
                if let Some(m) = min
                    && (x < m || (exclusive_min && x == m))
                {
                    let cmp = if exclusive_min {
                        "greater than"
                    } else {
                        "at least"
                    };
                    bad(Rule::Limit, format!("`{path}` must be {cmp} {m} (got {x})"));
                }
            }
        },
        Type::Integer {
            min,
            max,
            exclusive_min,
        } => match v.as_i64() {
            None => bad(Rule::Type, format!("`{path}` must be an integer")),
            Some(x) => {
                let low = min.is_some_and(|m| x < m || (exclusive_min && x == m));
                let high = max.is_some_and(|m| x > m);
                if low || high {
                    let range = match (min, max) {
                        (Some(a), Some(b)) => format!("between {a} and {b}"),
                        (Some(a), None) if exclusive_min => format!("greater than {a}"),
                        (Some(a), None) => format!("at least {a}"),
                        (None, Some(b)) => format!("at most {b}"),
                        (None, None) => unreachable!("no bound yet out of range"),
                    };
                    bad(Rule::Limit, format!("`{path}` must be {range} (got {x})"));
                }
            }
        },
        Type::Bool => {
            if !v.is_boolean() {
                bad(Rule::Type, format!("`{path}` must be true or false"));
            }
        }
        Type::Enum(values) => match v.as_str() {
            Some(s) if values.contains(&s) => {}
            Some(s) => bad(
                Rule::Enum,
                format!(
                    "`{path}` must be one of {} (got \"{s}\"){}",
                    values.join(", "),
                    crate::rules::enum_suggestion(s, values)
                ),
            ),
            None => bad(
                Rule::Type,
                format!("`{path}` must be one of {}", values.join(", ")),
            ),
        },
        Type::Date => {
            if v.as_str()
                .is_none_or(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_err())
            {
                bad(
                    Rule::Format,
                    format!("`{path}` must be a date like 2024-12-01"),
                );
            }
        }
        Type::DateTime => {
            if v.as_str().is_none_or(|s| parse_date_time(s).is_none()) {
                bad(
                    Rule::Format,
                    format!("`{path}` must be an ISO-8601 date-time like 2024-12-01T00:00:00Z"),
                );
            }
        }
        Type::Email => {
            let ok = v.as_str().is_some_and(|s| {
                let mut parts = s.split('@');
                let (local, domain) = (parts.next(), parts.next());
                parts.next().is_none()
                    && local.is_some_and(|l| !l.is_empty())
                    && domain.is_some_and(|d| !d.is_empty())
                    && !s.chars().any(char::is_whitespace)
            });
            if !ok {
                bad(Rule::Format, format!("`{path}` must be an email address"));
            }
        }
        Type::CustomFields => match v.as_object() {
            None => bad(
                Rule::Type,
                format!("`{path}` must be an object of names to strings or numbers"),
            ),
            Some(map) => {
                if map.len() > 100 {
                    bad(
                        Rule::Limit,
                        format!("`{path}` may hold at most 100 entries (got {})", map.len()),
                    );
                }
                for (k, val) in map {
                    if !(val.is_string() || val.is_number()) {
                        out.push(Violation {
                            path: join(path, k),
                            rule: Rule::Type,
                            message: format!("`{}` must be a string or a number", join(path, k)),
                        });
                    }
                }
            }
        },
        Type::AnyObject => {
            if !v.is_object() {
                bad(Rule::Type, format!("`{path}` must be an object"));
            }
        }
        Type::StringMap => match v.as_object() {
            None => bad(
                Rule::Type,
                format!("`{path}` must be an object of names to strings"),
            ),
            Some(map) => {
                for (k, val) in map {
                    if !val.is_string() {
                        out.push(Violation {
                            path: join(path, k),
                            rule: Rule::Type,
                            message: format!("`{}` must be a string", join(path, k)),
                        });
                    }
                }
            }
        },
        Type::Array { item, min, max } => match v.as_array() {
            None => bad(Rule::Type, format!("`{path}` must be a list")),
            Some(items) => {
                let n = items.len();
                if n < min || max.is_some_and(|m| n > m) {
                    let range = match max {
                        Some(m) if min == 0 => format!("at most {m}"),
                        Some(m) => format!("{min} to {m}"),
                        None => format!("at least {min}"),
                    };
                    bad(
                        Rule::Limit,
                        format!("`{path}` must hold {range} items (got {n})"),
                    );
                }
                for (i, it) in items.iter().enumerate() {
                    check_value(item, it, &format!("{path}[{i}]"), refs, out);
                }
            }
        },
        Type::Object(fields) => match v.as_object() {
            None => bad(Rule::Type, format!("`{path}` must be an object")),
            Some(obj) => check_object(fields, obj, path, refs, out, &[]),
        },
    }
}

fn check_uuid(v: &Value, path: &str, bad: &mut impl FnMut(Rule, String)) {
    match v.as_str() {
        Some(s) if uuid::Uuid::try_parse(s).is_ok() && s.len() == 36 => {}
        Some(_) => bad(
            Rule::Format,
            format!("`{path}` must be a 36-character UUID"),
        ),
        None => bad(
            Rule::Type,
            format!("`{path}` must be a string (a 36-character UUID)"),
        ),
    }
}

/// The "general code" rule: 1–80 characters, no control characters, no
/// whitespace other than inner spaces.
pub fn general_code(s: &str) -> Result<(), String> {
    let n = s.chars().count();
    if n == 0 || n > 80 {
        return Err(format!("must be 1 to 80 characters long (got {n})"));
    }
    if s.chars()
        .any(|c| c.is_control() || (c.is_whitespace() && c != ' '))
    {
        return Err("must not contain control characters, tabs or line breaks".into());
    }
    if s.starts_with(' ') || s.ends_with(' ') {
        return Err("must not start or end with a space".into());
    }
    Ok(())
}

/// The "identifier code" rule: ≤80 characters of letters, digits, `_` and
/// `$`, not starting with a digit.
pub fn identifier_code(s: &str) -> Result<(), String> {
    let n = s.chars().count();
    if n == 0 || n > 80 {
        return Err(format!("must be 1 to 80 characters long (got {n})"));
    }
    let mut chars = s.chars();
    let first = chars.next().expect("non-empty");
    let ok_first = first.is_alphabetic() || first == '_' || first == '$';
    let ok_rest = chars.all(|c| c.is_alphabetic() || c.is_ascii_digit() || c == '_' || c == '$');
    if !(ok_first && ok_rest) {
        return Err(
            "must hold only letters, digits, `_` and `$`, and not start with a digit".into(),
        );
    }
    Ok(())
}

/// Parses an ISO-8601 date-time with `Z` or an offset (fractional seconds
/// optional) into UTC.
pub fn parse_date_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&chrono::Utc))
}

/// The instant a date or date-time field means: a date-time as written, a
/// date (`YYYY-MM-DD`, as contracts and commitments have) as its midnight
/// UTC. Comparing windows of both kinds of field needs one scale.
pub fn parse_instant(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    parse_date_time(s).or_else(|| {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(kind: Kind, v: Value) -> Vec<String> {
        validate_body(kind, v.as_object().unwrap(), RefMode::Uuid)
            .into_iter()
            .map(|v| v.message)
            .collect()
    }

    #[test]
    fn a_valid_product_passes() {
        assert!(
            check(
                Kind::Product,
                json!({"name": "P", "code": "p 1", "version": 3})
            )
            .is_empty()
        );
    }

    #[test]
    fn general_codes_allow_inner_spaces_only() {
        assert!(general_code("a b").is_ok());
        assert!(general_code(" a").is_err());
        assert!(general_code("a\tb").is_err());
        assert!(general_code(&"x".repeat(81)).is_err());
    }

    #[test]
    fn identifier_codes() {
        assert!(identifier_code("memory_consumption_api_6").is_ok());
        assert!(identifier_code("$x9").is_ok());
        assert!(identifier_code("9x").is_err());
        assert!(identifier_code("a-b").is_err());
    }

    #[test]
    fn violations_name_the_field_and_the_rule() {
        let msgs = check(
            Kind::Meter,
            json!({"name": "", "code": "m", "dataFields": [{"category": "NOPE", "code": "1x", "name": "n"}]}),
        );
        assert_eq!(
            msgs,
            [
                "`name` must be 1 to 200 characters long (got 0)",
                "`dataFields[0].category` must be one of WHO, WHERE, WHAT, OTHER, METADATA, MEASURE, INCOME, COST (got \"NOPE\")",
                "`dataFields[0].code` must hold only letters, digits, `_` and `$`, and not start with a digit",
                "`derivedFields` is required",
            ]
        );
    }

    #[test]
    fn exactly_one_of_pairs() {
        let base = json!({"pricingBands": [{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 1}],
                          "startDate": "2024-12-01T00:00:00Z",
                          "aggregationId": "00000000-0000-4000-8000-000000000001"});
        let msgs = check(Kind::Pricing, base);
        assert_eq!(
            msgs,
            ["exactly one of `planId` and `planTemplateId` is required"]
        );
    }

    #[test]
    fn unknown_fields_are_reported_with_their_own_rule() {
        let v = validate_body(
            Kind::Product,
            json!({"name": "P", "code": "p", "junk": 1})
                .as_object()
                .unwrap(),
            RefMode::Uuid,
        );
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].rule, Rule::Unknown);
        assert_eq!(v[0].path, "junk");
    }

    #[test]
    fn one_character_is_singular() {
        let msgs = check(Kind::Counter, json!({"name": "C", "code": "c", "unit": ""}));
        assert_eq!(msgs, ["`unit` must be at least 1 character long (got 0)"]);
    }
}
