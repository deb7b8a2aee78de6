//! `GET /events/types` and `GET /events/fields`: the event types
//! notifications can be based on and the fields their calculations can
//! use. The system types and fields are [`m3ter_api::events`] (the spec's
//! list); the scheduled event configurations of the org are event types
//! too, with their entity's fields.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde_json::{Map, Value, json};

use m3ter_api::Kind;
use m3ter_api::events::{self, FieldType, Fields};

use super::Shared;
use super::error::{ApiError, ApiResult};
use super::extract::{Query, ok_json};
use super::store::Store;

/// `GET /organizations/{orgId}/events/types` (`EventTypeResponse`).
pub(crate) async fn types(State(s): State<Arc<Shared>>) -> ApiResult<Response> {
    let store = s.read();
    let mut types = events::event_types();
    types.extend(scheduled(&store).into_keys());
    Ok(ok_json(json!({ "events": types })))
}

/// `GET /organizations/{orgId}/events/fields[?eventName=…]`
/// (`EventFieldsResponse`): the fields of one type, or of every type.
pub(crate) async fn fields(State(s): State<Arc<Shared>>, q: Query) -> ApiResult<Response> {
    let store = s.read();
    let scheduled = scheduled(&store);
    let fields_of = |event: &str| -> Option<Vec<(String, FieldType)>> {
        match events::fields(event) {
            Some(Fields::Known(f)) => Some(f),
            Some(Fields::Undocumented) => Some(Vec::new()),
            None => scheduled
                .get(event)
                .and_then(|entity| events::scheduled_fields(entity)),
        }
    };
    let names: Vec<String> = match q.one("eventName") {
        Some(event) => vec![event.to_owned()],
        None => events::event_types()
            .into_iter()
            .chain(scheduled.keys().cloned())
            .collect(),
    };
    let mut out = Map::new();
    for name in names {
        let Some(fields) = fields_of(&name) else {
            return Err(ApiError::bad_request(format!(
                "`eventName` \"{name}\" is not an event type (GET /events/types lists them)"
            )));
        };
        let fields: Map<String, Value> = fields
            .into_iter()
            .map(|(f, t)| (f, Value::from(t.as_str())))
            .collect();
        out.insert(name, Value::Object(fields));
    }
    Ok(ok_json(json!({ "events": out })))
}

/// The org's scheduled event configurations: name → entity.
fn scheduled(store: &Store) -> BTreeMap<String, String> {
    store
        .kind(Kind::ScheduledEventConfiguration)
        .iter_newest_first()
        .filter_map(|e| {
            let name = e.value.get("name")?.as_str()?;
            let entity = e.value.get("entity")?.as_str()?;
            Some((name.to_owned(), entity.to_owned()))
        })
        .collect()
}
