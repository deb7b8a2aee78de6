//! Finding a live entity by its key, to adopt a create whose reply was lost.
//! The kind table says which documented list filter narrows the search and
//! which fields make up the key (`m3ter_api::identity`).

use serde_json::{Map, Value};

use crate::client::{ApiError, Client};
use crate::plan::compare;
use m3ter_api::{Kind, identity};

/// The live entity that `body` (a create request) would have made, if any.
pub(super) async fn find(
    client: &Client,
    kind: Kind,
    body: &Map<String, Value>,
) -> Result<Option<Value>, ApiError> {
    let mut query = identity::adopt_query(kind, body);
    // A typed kind's create went to one type's collection: list that one.
    if let Some(t) = kind.typed()
        && let Some(segment) = body.get(t.field).and_then(Value::as_str)
    {
        query.push((t.field, segment.to_owned()));
    }
    let candidates = client.list_all(kind, &query).await?;
    Ok(candidates
        .into_iter()
        .find(|live| same_key(kind, live, body)))
}

/// Whether a live entity has the identity (key) of a create request, its
/// key fields compared as the planner compares.
fn same_key(kind: Kind, live: &Value, body: &Map<String, Value>) -> bool {
    identity::same_identity(kind, live, body, |field, want, have| {
        compare::field_equal(kind, field, want, have)
    })
}

/// Whether the live entity already holds every field of an update body
/// (`version` aside), compared as the planner compares.
pub(super) fn matches_body(kind: Kind, live: &Value, body: &Map<String, Value>) -> bool {
    body.iter()
        .filter(|(k, _)| k.as_str() != "version")
        .all(|(k, v)| compare::field_equal(kind, k, v, live.get(k)))
}
