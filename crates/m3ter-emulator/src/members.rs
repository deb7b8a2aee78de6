//! Member sets of the kind table ([`m3ter_api::kinds::Members`]: a resource
//! group's items): `POST <entity>/contents` (paginated), `…/addresource`
//! and `…/removeresource`. The members are kept inside the entity under
//! [`STORED`], which no response shows; adding or removing one leaves the
//! entity's `version` alone (an item is an entity of its own in m3ter).

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};

use m3ter_api::Kind;

use super::Shared;
use super::crud::{in_segment, missing, typed_segment};
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, PathId, PathSegment, Query, ok_json};
use super::rules::Stamp;
use super::store::{Change, Object, Store};

/// Where an entity keeps its members (never in a response).
pub(crate) const STORED: &str = "@members";

/// `TargetType`.
const TARGET_TYPES: &[&str] = &["ITEM", "GROUP"];

/// `POST <collection>/{type}/{id}/contents`: the members, oldest first,
/// `pageSize` ≤ the table's, `nextToken` an offset.
pub(crate) async fn contents(
    State(s): State<Arc<Shared>>,
    kind: Kind,
    segment: Option<PathSegment>,
    PathId(id): PathId,
    q: Query,
) -> ApiResult<Response> {
    let max = kind.members().map_or(100, |m| m.max_page_size);
    let size = q.page_size(max)?;
    let from: usize = match q.one("nextToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(t) => t
            .parse()
            .map_err(|_| ApiError::bad_request(format!("`nextToken` {t:?} is not valid")))?,
    };
    let segment = typed_segment(kind, segment)?;
    let store = s.read();
    let entity = group(&store, kind, segment.as_deref(), &id)?;
    let all = stored(entity);
    let data: Vec<&Value> = all.iter().skip(from).take(size).collect();
    let mut body = json!({ "data": data });
    if from + size < all.len() {
        body["nextToken"] = Value::String((from + size).to_string());
    }
    Ok(ok_json(body))
}

/// `POST <collection>/{type}/{id}/addresource`: the target must exist and
/// be of the group's type (an `ITEM` of the kind the type names, a `GROUP`
/// of the same type other than this one). Adding a member twice changes
/// nothing. Answers the group.
pub(crate) async fn add(
    State(s): State<Arc<Shared>>,
    kind: Kind,
    segment: Option<PathSegment>,
    PathId(id): PathId,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let segment = typed_segment(kind, segment)?;
    let stamp = Stamp::now(&s.actor);
    let (target_type, target_id) = target(&body)?;
    let entity = s.commit(|store| {
        let (seq, mut entity) = {
            let e = store
                .kind(kind)
                .get(&id)
                .filter(|e| in_segment(kind, &e.value, segment.as_deref()))
                .ok_or_else(|| missing(kind, &id))?;
            (e.seq, e.value.clone())
        };
        check_target(
            store,
            kind,
            segment.as_deref(),
            &id,
            target_type,
            &target_id,
        )?;
        let mut members = stored(&entity);
        if members
            .iter()
            .any(|m| m["targetId"] == json!(target_id) && m["targetType"] == json!(target_type))
        {
            return Ok((vec![], entity));
        }
        members.push(json!({
            "id": uuid::Uuid::new_v4().to_string(),
            "version": 1,
            "targetId": target_id,
            "targetType": target_type,
            "dtCreated": stamp.now,
            "dtLastModified": stamp.now,
            "createdBy": stamp.actor,
            "lastModifiedBy": stamp.actor,
        }));
        entity.insert(STORED.into(), Value::Array(members));
        Ok(Change::put_entity(kind, seq, entity))
    })?;
    Ok(ok_json(shown(kind, entity)))
}

/// `POST <collection>/{type}/{id}/removeresource`: 404 when the target is
/// not a member. Answers the group.
pub(crate) async fn remove(
    State(s): State<Arc<Shared>>,
    kind: Kind,
    segment: Option<PathSegment>,
    PathId(id): PathId,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let segment = typed_segment(kind, segment)?;
    let (target_type, target_id) = target(&body)?;
    let entity = s.commit(|store| {
        let e = store
            .kind(kind)
            .get(&id)
            .filter(|e| in_segment(kind, &e.value, segment.as_deref()))
            .ok_or_else(|| missing(kind, &id))?;
        let (seq, mut entity) = (e.seq, e.value.clone());
        let mut members = stored(&entity);
        let before = members.len();
        members.retain(|m| {
            !(m["targetId"] == json!(target_id) && m["targetType"] == json!(target_type))
        });
        if members.len() == before {
            return Err(ApiError::not_found(format!(
                "{target_type} {target_id} is not in {kind} {id}"
            )));
        }
        entity.insert(STORED.into(), Value::Array(members));
        Ok(Change::put_entity(kind, seq, entity))
    })?;
    Ok(ok_json(shown(kind, entity)))
}

/// The group `id` of `kind` in the `segment` collection.
fn group<'s>(
    store: &'s Store,
    kind: Kind,
    segment: Option<&str>,
    id: &str,
) -> ApiResult<&'s Object> {
    store
        .kind(kind)
        .get(id)
        .filter(|e| in_segment(kind, &e.value, segment))
        .map(|e| &e.value)
        .ok_or_else(|| missing(kind, id))
}

/// The members an entity holds.
fn stored(entity: &Object) -> Vec<Value> {
    entity
        .get(STORED)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The entity as responses show it (the crud module's masking: no type, no
/// members).
fn shown(kind: Kind, mut entity: Object) -> Object {
    entity.remove(STORED);
    if let Some(t) = kind.typed() {
        entity.remove(t.field);
    }
    entity
}

/// `ResourceGroupItemRequest`'s `targetType` and `targetId`.
fn target(body: &Object) -> ApiResult<(&'static str, String)> {
    let target_type = body.get("targetType").and_then(Value::as_str);
    let Some(target_type) = target_type.and_then(|t| TARGET_TYPES.iter().find(|x| **x == t)) else {
        return Err(ApiError::bad_request(format!(
            "`targetType` is required and must be one of {} (got {})",
            TARGET_TYPES.join(", "),
            body.get("targetType")
                .map_or("nothing".into(), Value::to_string)
        )));
    };
    match body.get("targetId").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => Ok((target_type, id.to_owned())),
        _ => Err(ApiError::bad_request(
            "`targetId` is required: the id of the item or group",
        )),
    }
}

/// A member must exist and be of the group's type.
fn check_target(
    store: &Store,
    kind: Kind,
    segment: Option<&str>,
    own: &str,
    target_type: &str,
    target_id: &str,
) -> ApiResult<()> {
    let seg = segment.unwrap_or_default();
    if target_type == "GROUP" {
        if target_id == own {
            return Err(ApiError::bad_request(format!(
                "{kind} {own} cannot hold itself"
            )));
        }
        return group(store, kind, segment, target_id).map(|_| ()).map_err(|_| {
            ApiError::bad_request(format!(
                "`targetId` {target_id} is no {seg} {kind}: a {seg} group holds {seg} groups only"
            ))
        });
    }
    let Some(item_kind) = kind.typed().and_then(|t| t.kind_of(seg)) else {
        return Err(missing(kind, own));
    };
    if store.kind(item_kind).get(target_id).is_none() {
        return Err(ApiError::bad_request(format!(
            "`targetId` {target_id} is no {item_kind}: a {seg} group holds {item_kind}s"
        )));
    }
    Ok(())
}
