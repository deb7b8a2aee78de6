//! Finding a live entity by its key, to adopt a create whose reply was lost.
//! Uses a list filter only where the API documents one for the kind.

use serde_json::{Map, Value};

use crate::client::{ApiError, Client};
use crate::plan::compare;
use m3ter_api::Kind;

/// The live entity that `body` (a create request) would have made, if any.
pub(super) async fn find(
    client: &Client,
    kind: Kind,
    body: &Map<String, Value>,
) -> Result<Option<Value>, ApiError> {
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
    let mut filters: Vec<(&str, String)> = Vec::new();
    let has_filter = |p: &str| kind.filters().iter().any(|f| f.param == p);
    match kind {
        Kind::Pricing => {
            if let Some(p) = text("planId") {
                filters.push(("planId", p));
            } else if let Some(t) = text("planTemplateId") {
                filters.push(("planTemplateId", t));
            }
        }
        Kind::AccountPlan => {
            if let Some(a) = text("accountId") {
                filters.push(("account", a));
                filters.push(("includeall", "true".to_string()));
            }
        }
        Kind::PlanTemplate => {
            if let Some(p) = text("productId") {
                filters.push(("productId", p));
            }
        }
        _ => {
            if let (Some(code), true) = (text("code"), has_filter("codes")) {
                filters.push(("codes", code));
            }
        }
    }
    let candidates = client.list_all(kind, &filters).await?;
    Ok(candidates
        .into_iter()
        .find(|live| same_key(kind, live, body)))
}

/// Whether a live entity has the identity (key) of a create request.
fn same_key(kind: Kind, live: &Value, body: &Map<String, Value>) -> bool {
    let eq = |field: &str| match body.get(field) {
        Some(v) => compare::field_equal(kind, field, v, live.get(field)),
        None => live.get(field).is_none_or(Value::is_null),
    };
    if let Some(code) = body.get("code") {
        return live.get("code") == Some(code);
    }
    match kind {
        Kind::Pricing => [
            "planId",
            "planTemplateId",
            "aggregationId",
            "compoundAggregationId",
        ]
        .into_iter()
        .chain(["startDate", "segment"])
        .all(eq),
        Kind::AccountPlan => ["accountId", "planId", "planGroupId", "startDate"]
            .into_iter()
            .all(eq),
        _ => false,
    }
}

/// Whether the live entity already holds every field of an update body
/// (`version` aside), compared as the planner compares.
pub(super) fn matches_body(kind: Kind, live: &Value, body: &Map<String, Value>) -> bool {
    body.iter()
        .filter(|(k, _)| k.as_str() != "version")
        .all(|(k, v)| compare::field_equal(kind, k, v, live.get(k)))
}
