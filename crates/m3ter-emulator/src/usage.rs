//! `POST /organizations/{orgId}/usage/query` (Data Explorer v2): the
//! request, checked against the spec's `UsageQueryRequest` and against the
//! meters it names, becomes a [`Query`]; [`crate::usage_rows`] answers it.
//! Every aggregated value comes from [`m3ter_rating::Accumulator`], the
//! function bills are rated with, so a preview built from usage queries and
//! a bill cannot disagree. The row format is ours (the spec leaves rows
//! open): `docs/emulator.md` "Usage queries".

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use m3ter_api::Kind;
use m3ter_api::schema::{Field, NUMERIC_CATEGORIES, Type};
use m3ter_api::validate::parse_date_time;

use crate::Shared;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, check_request, ok_json};
use crate::rating::Window;
use crate::store::Object;
use crate::usage_rows;

/// Most rows (or raw measurements) one query answers; also the default.
pub(crate) const MAX_LIMIT: usize = 20_000;

const FUNCTIONS: &[&str] = &["SUM", "MIN", "MAX", "COUNT", "LATEST", "MEAN", "UNIQUE"];
/// The functions the spec allows on a MEASURE field and on a DIMENSION field.
const MEASURE_FUNCTIONS: &[&str] = &["SUM", "MIN", "MAX", "COUNT", "LATEST", "MEAN"];
const DIMENSION_FUNCTIONS: &[&str] = &["COUNT", "UNIQUE"];
const FREQUENCIES: &[&str] = &["DAY", "HOUR", "WEEK", "MONTH", "QUARTER"];

const fn req(name: &'static str, ty: Type) -> Field {
    Field {
        name,
        ty,
        required: true,
    }
}
const fn opt(name: &'static str, ty: Type) -> Field {
    Field {
        name,
        ty,
        required: false,
    }
}
const NON_EMPTY: Type = Type::Str {
    min: 1,
    max: usize::MAX,
};
const IDS: Type = Type::Array {
    item: &Type::Text,
    min: 0,
    max: None,
};
/// `DataExplorerAggregation` (with `DataExplorerMeterField`).
const AGGREGATION: &[Field] = &[
    req("meterId", NON_EMPTY),
    req("fieldCode", NON_EMPTY),
    req("fieldType", Type::Enum(&["DIMENSION", "MEASURE"])),
    req("function", Type::Enum(FUNCTIONS)),
];
/// `DataExplorerDimensionFilter`.
const DIMENSION_FILTER: &[Field] = &[
    req("meterId", NON_EMPTY),
    req("fieldCode", NON_EMPTY),
    req(
        "values",
        Type::Array {
            item: &Type::Text,
            min: 1,
            max: None,
        },
    ),
];
/// `DataExplorerGroup` and its three forms (discriminated by `groupType`):
/// what each form requires is checked in [`groups`].
const GROUP: &[Field] = &[
    req("groupType", Type::Enum(&["ACCOUNT", "DIMENSION", "TIME"])),
    opt("frequency", Type::Enum(FREQUENCIES)),
    opt("meterId", NON_EMPTY),
    opt("fieldCode", NON_EMPTY),
];
/// `UsageQueryRequest` (with `RequestWithStartAndEndDate`).
const USAGE_QUERY: &[Field] = &[
    req("startDate", Type::DateTime),
    req("endDate", Type::DateTime),
    opt("meterIds", IDS),
    opt("accountIds", IDS),
    opt(
        "dimensionFilters",
        Type::Array {
            item: &Type::Object(DIMENSION_FILTER),
            min: 0,
            max: None,
        },
    ),
    opt(
        "aggregations",
        Type::Array {
            item: &Type::Object(AGGREGATION),
            min: 0,
            max: None,
        },
    ),
    opt(
        "groups",
        Type::Array {
            item: &Type::Object(GROUP),
            min: 0,
            max: None,
        },
    ),
    opt(
        "limit",
        Type::Integer {
            min: Some(1),
            max: Some(MAX_LIMIT as i64),
            exclusive_min: false,
        },
    ),
];

/// A time bucket size of a TIME group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Frequency {
    Hour,
    Day,
    /// Weeks start on Monday.
    Week,
    Month,
    Quarter,
}

/// One aggregation of a meter's field, as `values` names it
/// (`"<fieldCode>:<function>"`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Aggregation {
    pub(crate) field: String,
    pub(crate) function: String,
}

impl Aggregation {
    /// The key of its value in a row's `values`.
    pub(crate) fn key(&self) -> String {
        format!("{}:{}", self.field, self.function)
    }
}

/// What one meter's part of a query needs.
#[derive(Debug, Clone)]
pub(crate) struct MeterQuery {
    /// The meter (API form).
    pub(crate) meter: Object,
    pub(crate) id: String,
    /// Its aggregations, each once, in key order.
    pub(crate) aggregations: Vec<Aggregation>,
    /// `(fieldCode, allowed values)`: all must match.
    pub(crate) filters: Vec<(String, BTreeSet<String>)>,
    /// Field codes of its DIMENSION groups, in request order, each once.
    pub(crate) dimensions: Vec<String>,
}

impl MeterQuery {
    fn of(meter: &Object) -> MeterQuery {
        MeterQuery {
            meter: meter.clone(),
            id: str_of(meter, "id").unwrap_or_default().to_owned(),
            aggregations: Vec::new(),
            filters: Vec::new(),
            dimensions: Vec::new(),
        }
    }
}

/// The part of `meter` in `per_meter`, added when missing.
fn entry<'p>(per_meter: &'p mut HashMap<String, MeterQuery>, meter: &Object) -> &'p mut MeterQuery {
    let id = str_of(meter, "id").unwrap_or_default().to_owned();
    per_meter.entry(id).or_insert_with(|| MeterQuery::of(meter))
}

/// A checked usage query.
#[derive(Debug, Clone)]
pub(crate) struct Query {
    pub(crate) window: Window,
    /// The meters in scope, by id (those of `meterIds`, or every meter).
    pub(crate) meters: Vec<MeterQuery>,
    /// `accountIds`, sorted and each once; None = every account.
    pub(crate) accounts: Option<Vec<String>>,
    /// Whether `aggregations` was given: rows, not raw measurements.
    pub(crate) aggregated: bool,
    pub(crate) by_account: bool,
    pub(crate) by_time: Option<Frequency>,
    /// Whether any DIMENSION group was given (rows then carry `dimensions`).
    pub(crate) by_dimension: bool,
    pub(crate) limit: usize,
}

/// The handler.
pub(crate) async fn query(
    State(s): State<Arc<Shared>>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let (query, db) = {
        let store = s.read();
        let meters: Vec<Object> = store
            .kind(Kind::Meter)
            .iter_newest_first()
            .map(|e| e.value.clone())
            .collect();
        (parse(&body, &meters, s.config.strict)?, store.db().clone())
    };
    // Reading and aggregating up to millions of measurements: off the
    // async workers. The store lock is not held (the database has its own).
    let answer = tokio::task::spawn_blocking(move || usage_rows::answer(&query, &db))
        .await
        .map_err(|e| ApiError::internal(format!("usage query failed: {e}")))?
        .map_err(|e| ApiError::internal(format!("cannot read the store: {e}")))?;
    Ok(ok_json(
        json!({"data": answer.data, "hasMoreData": answer.has_more}),
    ))
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message)
}

fn str_of<'a>(o: &'a Object, key: &str) -> Option<&'a str> {
    o.get(key).and_then(Value::as_str)
}

/// Checks `body` against the spec's schema and the org's `meters`.
pub(crate) fn parse(body: &Object, meters: &[Object], strict: bool) -> ApiResult<Query> {
    check_request(USAGE_QUERY, body, strict)?;
    let date = |k: &str| -> DateTime<Utc> {
        // Present and valid: checked above.
        str_of(body, k)
            .and_then(parse_date_time)
            .unwrap_or_default()
    };
    let window = Window {
        from: date("startDate"),
        to: date("endDate"),
    };
    if window.to <= window.from {
        return Err(bad(format!(
            "`endDate` must be after `startDate` (got {} to {})",
            body["startDate"], body["endDate"]
        )));
    }
    let list = |k: &str| -> Vec<&Object> {
        body.get(k)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_object).collect())
            .unwrap_or_default()
    };
    let ids = |k: &str| -> Option<Vec<String>> {
        let a = body.get(k)?.as_array()?;
        let set: BTreeSet<String> = a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        Some(set.into_iter().collect())
    };
    let by_id: HashMap<&str, &Object> = meters
        .iter()
        .filter_map(|m| Some((str_of(m, "id")?, m)))
        .collect();
    let aggregations = list("aggregations");
    let groups = list("groups");
    let aggregated = !aggregations.is_empty();
    if !groups.is_empty() && !aggregated {
        return Err(bad(
            "`groups` needs `aggregations`: grouping applies to aggregated data only; \
             add aggregations or remove groups",
        ));
    }

    let mut per_meter: HashMap<String, MeterQuery> = HashMap::new();
    for (i, a) in aggregations.iter().enumerate() {
        let at = format!("aggregations[{i}]");
        let meter = meter_of(&by_id, a, &at)?;
        let code = str_of(a, "fieldCode").unwrap_or_default();
        let field = field_of(meter, code, &at, false)?;
        let measure = field.numeric;
        let ty = str_of(a, "fieldType").unwrap_or_default();
        let want = if measure { "MEASURE" } else { "DIMENSION" };
        if ty != want {
            return Err(bad(format!(
                "`{at}.fieldType` must be {want} for field {code} of meter {} (its category is {}), got {ty}",
                meter_name(meter),
                field.category
            )));
        }
        let function = str_of(a, "function").unwrap_or_default();
        let allowed = if measure {
            MEASURE_FUNCTIONS
        } else {
            DIMENSION_FUNCTIONS
        };
        if !allowed.contains(&function) {
            return Err(bad(format!(
                "`{at}.function` {function} does not apply to a {want} field; use one of {}",
                allowed.join(", ")
            )));
        }
        let agg = Aggregation {
            field: code.to_owned(),
            function: function.to_owned(),
        };
        let mq = entry(&mut per_meter, meter);
        if !mq.aggregations.contains(&agg) {
            mq.aggregations.push(agg);
        }
    }
    for (i, f) in list("dimensionFilters").iter().enumerate() {
        let at = format!("dimensionFilters[{i}]");
        let meter = meter_of(&by_id, f, &at)?;
        let code = str_of(f, "fieldCode").unwrap_or_default();
        field_of(meter, code, &at, true)?;
        let values = f["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        entry(&mut per_meter, meter)
            .filters
            .push((code.to_owned(), values));
    }
    let (by_account, by_time, by_dimension) = {
        let mut by_account = false;
        let mut by_time = None;
        let mut by_dimension = false;
        for (i, g) in groups.iter().enumerate() {
            let at = format!("groups[{i}]");
            match str_of(g, "groupType").unwrap_or_default() {
                "ACCOUNT" => by_account = true,
                "TIME" => {
                    let f = match str_of(g, "frequency") {
                        Some("HOUR") => Frequency::Hour,
                        Some("DAY") => Frequency::Day,
                        Some("WEEK") => Frequency::Week,
                        Some("MONTH") => Frequency::Month,
                        Some("QUARTER") => Frequency::Quarter,
                        _ => {
                            return Err(bad(format!(
                                "`{at}.frequency` is required for a TIME group: one of {}",
                                FREQUENCIES.join(", ")
                            )));
                        }
                    };
                    if by_time.is_some_and(|t| t != f) {
                        return Err(bad(format!(
                            "`{at}` is a second TIME group; group by one frequency"
                        )));
                    }
                    by_time = Some(f);
                }
                _ => {
                    for k in ["meterId", "fieldCode"] {
                        if str_of(g, k).is_none() {
                            return Err(bad(format!(
                                "`{at}.{k}` is required for a DIMENSION group"
                            )));
                        }
                    }
                    let meter = meter_of(&by_id, g, &at)?;
                    let code = str_of(g, "fieldCode").unwrap_or_default();
                    field_of(meter, code, &at, true)?;
                    by_dimension = true;
                    let mq = entry(&mut per_meter, meter);
                    if !mq.dimensions.iter().any(|d| d == code) {
                        mq.dimensions.push(code.to_owned());
                    }
                }
            }
        }
        (by_account, by_time, by_dimension)
    };

    // The meters in scope: `meterIds` (unknown ids select nothing) or all.
    let selected: Vec<&Object> = match ids("meterIds") {
        Some(wanted) => wanted
            .iter()
            .filter_map(|id| by_id.get(id.as_str()).copied())
            .collect(),
        None => meters.iter().collect(),
    };
    let mut out: Vec<MeterQuery> = selected
        .into_iter()
        .map(|m| {
            let id = str_of(m, "id").unwrap_or_default();
            per_meter.remove(id).unwrap_or_else(|| MeterQuery::of(m))
        })
        // With aggregations, a meter none names has no row to give.
        .filter(|mq| !aggregated || !mq.aggregations.is_empty())
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    for mq in &mut out {
        mq.aggregations.sort();
    }
    let limit = body
        .get("limit")
        .and_then(Value::as_u64)
        .map_or(MAX_LIMIT, |n| n as usize);
    Ok(Query {
        window,
        meters: out,
        accounts: ids("accountIds"),
        aggregated,
        by_account,
        by_time,
        by_dimension,
        limit,
    })
}

fn meter_name(meter: &Object) -> &str {
    str_of(meter, "code")
        .or_else(|| str_of(meter, "id"))
        .unwrap_or_default()
}

/// The meter `item.meterId` names, or a 400.
fn meter_of<'m>(
    by_id: &HashMap<&str, &'m Object>,
    item: &Object,
    at: &str,
) -> ApiResult<&'m Object> {
    let id = str_of(item, "meterId").unwrap_or_default();
    by_id
        .get(id)
        .copied()
        .ok_or_else(|| bad(format!("`{at}.meterId` refers to no meter with id {id}")))
}

/// A meter field as a query sees it.
struct FieldInfo {
    category: String,
    /// A number: a MEASURE, COST or INCOME data field, or a derived field.
    numeric: bool,
}

/// The field `code` of `meter` (a data field, or with `dimension_only`
/// false also a derived field), or a 400 listing the meter's fields.
fn field_of(meter: &Object, code: &str, at: &str, dimension_only: bool) -> ApiResult<FieldInfo> {
    let fields = |k: &str| -> Vec<&Object> {
        meter
            .get(k)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_object).collect())
            .unwrap_or_default()
    };
    let (data, derived) = (fields("dataFields"), fields("derivedFields"));
    let info = |f: &Object, derived: bool| {
        let category = str_of(f, "category").unwrap_or_default().to_owned();
        let numeric = derived || NUMERIC_CATEGORIES.contains(&category.as_str());
        FieldInfo { category, numeric }
    };
    let found = data
        .iter()
        .find(|f| str_of(f, "code") == Some(code))
        .map(|f| info(f, false))
        .or_else(|| {
            derived
                .iter()
                .find(|f| str_of(f, "code") == Some(code))
                .map(|f| info(f, true))
        });
    let listing = || {
        let mut names: Vec<String> = Vec::new();
        for f in &data {
            let i = info(f, false);
            if !dimension_only || !i.numeric {
                names.push(format!(
                    "{} ({})",
                    str_of(f, "code").unwrap_or_default(),
                    i.category
                ));
            }
        }
        if !dimension_only {
            for f in &derived {
                names.push(format!(
                    "{} (derived)",
                    str_of(f, "code").unwrap_or_default()
                ));
            }
        }
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    };
    let what = if dimension_only {
        "a dimension (string) field"
    } else {
        "a field"
    };
    match found {
        Some(f) if !(dimension_only && f.numeric) => Ok(f),
        _ => Err(bad(format!(
            "`{at}.fieldCode` {code} is not {what} of meter {}; its fields: {}",
            meter_name(meter),
            listing()
        ))),
    }
}
