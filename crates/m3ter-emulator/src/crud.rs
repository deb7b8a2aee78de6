//! Handlers of the config kinds of the kind table: list, create, get, update,
//! delete (GET and PUT only for a singleton kind).

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::Value;

use m3ter_api::Kind;
use m3ter_api::kinds::Match;
use m3ter_api::validate::parse_date_time;

use super::Shared;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, PathId, PathSegment, Query, list_body, ok_json};
use super::rules::{self, Stamp};
use super::store::{Change, Object, Store, page};

/// `GET /organizations/{orgId}/<collection>`, or `<collection>/{type}` of
/// a typed kind (`segment`).
pub(crate) async fn list(
    State(s): State<Arc<Shared>>,
    kind: Kind,
    segment: Option<PathSegment>,
    q: Query,
) -> ApiResult<Response> {
    let segment = typed_segment(kind, segment)?;
    let size = q.page_size(kind.max_page_size())?;
    let before = q.cursor()?;
    let store = s.read();
    let filter = Filter::parse(kind, &q)?;
    let entries = store
        .kind(kind)
        .iter_before(before)
        .filter(|e| in_segment(kind, &e.value, segment.as_deref()))
        .filter(|e| filter.matches(&e.value, &store));
    let (data, token) = page(entries, size);
    if kind.sensitive_paths().is_empty() && kind.write_only().is_empty() && kind.typed().is_none() {
        return Ok(list_body(&data, token));
    }
    let masked: Vec<Object> = data.iter().map(|o| masked(kind, o)).collect();
    Ok(list_body(&masked.iter().collect::<Vec<_>>(), token))
}

/// `POST /organizations/{orgId}/<collection>` (`<collection>/{type}`).
pub(crate) async fn create(
    State(s): State<Arc<Shared>>,
    kind: Kind,
    segment: Option<PathSegment>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let body = typed_body(kind, segment, body)?;
    let stamp = Stamp::now(&s.actor);
    let strict = s.config.strict;
    let entity = s.commit(|store| {
        let entity = rules::prepare(store, kind, &body, None, strict, &stamp)?;
        let seq = store.next_seq();
        Ok(Change::put_entity(kind, seq, entity))
    })?;
    Ok(ok_json(masked(kind, &entity)))
}

/// `GET /organizations/{orgId}/<collection>/{id}`.
pub(crate) async fn get_one(
    State(s): State<Arc<Shared>>,
    kind: Kind,
    segment: Option<PathSegment>,
    PathId(id): PathId,
) -> ApiResult<Response> {
    let segment = typed_segment(kind, segment)?;
    let store = s.read();
    let e = store
        .kind(kind)
        .get(&id)
        .filter(|e| in_segment(kind, &e.value, segment.as_deref()))
        .ok_or_else(|| missing(kind, &id))?;
    Ok(ok_json(masked(kind, &e.value)))
}

/// `PUT /organizations/{orgId}/<collection>/{id}`: full replacement with
/// optimistic locking on `version`.
pub(crate) async fn update(
    State(s): State<Arc<Shared>>,
    kind: Kind,
    segment: Option<PathSegment>,
    PathId(id): PathId,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let body = typed_body(kind, segment, body)?;
    let stamp = Stamp::now(&s.actor);
    let strict = s.config.strict;
    let entity = s.commit(|store| {
        let old = store
            .kind(kind)
            .get(&id)
            .filter(|e| in_segment(kind, &e.value, typed_of(kind, &body)))
            .ok_or_else(|| missing(kind, &id))?;
        check_version(kind, &id, &old.value, &body)?;
        let mut entity = rules::prepare(store, kind, &body, Some(&old.value), strict, &stamp)?;
        // A PUT replaces the fields, not the members.
        if let Some(members) = old.value.get(crate::members::STORED) {
            entity.insert(crate::members::STORED.into(), members.clone());
        }
        Ok(Change::put_entity(kind, old.seq, entity))
    })?;
    Ok(ok_json(masked(kind, &entity)))
}

/// How a response shows a stored secret (the spec's response schemas
/// return credentials, but m3ter never returns a secret in plain text).
pub(crate) const MASK: &str = "********";

/// `o` as responses show it: every secret of the kind table's `sensitive`
/// paths that is stored reads [`MASK`], and its `write_only` fields are
/// left out (the response schema does not have them).
fn masked(kind: Kind, o: &Object) -> Object {
    let mut out = o.clone();
    // A typed kind's type is its path, not a response field.
    if let Some(t) = kind.typed() {
        out.remove(t.field);
    }
    out.remove(crate::members::STORED);
    for field in kind.write_only() {
        out.remove(*field);
    }
    for path in kind.sensitive_paths() {
        let mut parts: Vec<&str> = path.split('.').collect();
        let Some(last) = parts.pop() else { continue };
        let mut at = Some(&mut out);
        for part in parts {
            at = at
                .and_then(|m| m.get_mut(part))
                .and_then(Value::as_object_mut);
        }
        if let Some(slot) = at.and_then(|m| m.get_mut(last)).filter(|v| !v.is_null()) {
            *slot = Value::String(MASK.into());
        }
    }
    out
}

/// Optimistic locking: an update must send the entity's current `version`.
fn check_version(kind: Kind, id: &str, old: &Object, body: &Object) -> ApiResult<()> {
    let current = old.get("version").and_then(Value::as_i64).unwrap_or(0);
    match body.get("version") {
        None | Some(Value::Null) => Err(ApiError::conflict(format!(
            "`version` is required on update; the {kind}'s current version is {current}"
        ))),
        Some(v) if v.as_i64().is_none() => Err(ApiError::bad_request(format!(
            "`version` must be an integer (got {v})"
        ))),
        Some(v) if v.as_i64() != Some(current) => Err(ApiError::conflict(format!(
            "`version` {v} is stale: {kind} {id} is at version {current}; read it again and retry"
        ))),
        Some(_) => Ok(()),
    }
}

/// `GET /organizations/{orgId}/<collection>` of a singleton kind (one per
/// org): the entity, once it has been PUT.
pub async fn get_singleton(State(s): State<Arc<Shared>>, kind: Kind) -> ApiResult<Response> {
    let store = s.read();
    let e =
        store.kind(kind).iter_newest_first().next().ok_or_else(|| {
            ApiError::not_found(format!("the org has no {kind} yet; PUT one first"))
        })?;
    Ok(ok_json(&e.value))
}

/// `PUT /organizations/{orgId}/<collection>` of a singleton kind: stores the
/// first version, then replaces it like any update (with `version`).
pub async fn put_singleton(
    State(s): State<Arc<Shared>>,
    kind: Kind,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let stamp = Stamp::now(&s.actor);
    let strict = s.config.strict;
    let entity = s.commit(|store| put_one(store, kind, &body, strict, &stamp))?;
    Ok(ok_json(entity))
}

/// The changes of a singleton PUT: a create while the table is empty, else
/// an update of its one entity.
fn put_one(
    store: &mut Store,
    kind: Kind,
    body: &Object,
    strict: bool,
    stamp: &Stamp<'_>,
) -> ApiResult<(Vec<Change>, Object)> {
    let old = store
        .kind(kind)
        .iter_newest_first()
        .next()
        .map(|e| (e.seq, e.value.clone()));
    let (seq, entity) = match old {
        Some((seq, old)) => {
            let id = old.get("id").and_then(Value::as_str).unwrap_or_default();
            check_version(kind, id, &old, body)?;
            (
                seq,
                rules::prepare(store, kind, body, Some(&old), strict, stamp)?,
            )
        }
        None => {
            let entity = rules::prepare(store, kind, body, None, strict, stamp)?;
            (store.next_seq(), entity)
        }
    };
    Ok(Change::put_entity(kind, seq, entity))
}

/// `DELETE /organizations/{orgId}/<collection>/{id}`: answers the deleted
/// entity; refused while other entities reference it.
pub(crate) async fn delete(
    State(s): State<Arc<Shared>>,
    kind: Kind,
    segment: Option<PathSegment>,
    PathId(id): PathId,
) -> ApiResult<Response> {
    let segment = typed_segment(kind, segment)?;
    let entity = s.commit(|store| {
        let old = store
            .kind(kind)
            .get(&id)
            .filter(|e| in_segment(kind, &e.value, segment.as_deref()))
            .ok_or_else(|| missing(kind, &id))?;
        if let Some(dep) = rules::first_dependent(store, kind, &id) {
            return Err(ApiError::bad_request(format!(
                "cannot delete {kind} {id}: {dep} references it; delete or change that first"
            )));
        }
        let value = old.value.clone();
        let change = Change::Delete {
            table: kind.collection().into(),
            id: id.clone(),
        };
        Ok((vec![change], value))
    })?;
    Ok(ok_json(masked(kind, &entity)))
}

/// The `{type}` of a typed kind's route: one of its types, else 404 (no
/// such collection); `None` for other kinds.
pub(crate) fn typed_segment(kind: Kind, segment: Option<PathSegment>) -> ApiResult<Option<String>> {
    match (kind.typed(), segment) {
        (None, _) => Ok(None),
        (Some(t), Some(PathSegment(s))) if t.kind_of(&s).is_some() => Ok(Some(s)),
        (Some(t), s) => Err(ApiError::not_found(format!(
            "no {kind} type {:?}; the types are {}",
            s.map(|s| s.0).unwrap_or_default(),
            t.names().collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// A request body of a typed kind with its type (from the path) in the
/// typed field, where the shared rules and the store expect it.
fn typed_body(kind: Kind, segment: Option<PathSegment>, mut body: Object) -> ApiResult<Object> {
    // A member set is not part of the body (m3ter has calls of its own).
    if let Some(m) = kind.members() {
        body.remove(m.field);
    }
    if let (Some(t), Some(s)) = (kind.typed(), typed_segment(kind, segment)?) {
        body.insert(t.field.into(), Value::String(s));
    }
    Ok(body)
}

/// The type a typed kind's object holds.
fn typed_of(kind: Kind, o: &Object) -> Option<&str> {
    o.get(kind.typed()?.field).and_then(Value::as_str)
}

/// Whether a stored entity is in the `segment` collection (always, for a
/// kind that is not typed).
pub(crate) fn in_segment(kind: Kind, o: &Object, segment: Option<&str>) -> bool {
    kind.typed().is_none() || typed_of(kind, o) == segment
}

pub(crate) fn missing(kind: Kind, id: &str) -> ApiError {
    ApiError::not_found(format!("no {kind} with id {id}"))
}

/// The documented list filters of a kind (the kind table's), parsed from
/// the query.
#[derive(Debug, Default)]
struct Filter {
    /// (field, accepted values) equality checks.
    equals: Vec<(&'static str, HashSet<String>)>,
    /// (reference field, its target kind, field of the target, accepted
    /// values): aggregations by their meter's product.
    via: Vec<(&'static str, Kind, &'static str, HashSet<String>)>,
    /// (boolean field, wanted value), absent counting as `false`.
    flags: Vec<(&'static str, bool)>,
    /// Active at this instant (startDate ≤ t < endDate).
    active_at: Option<DateTime<Utc>>,
}

impl Filter {
    fn parse(kind: Kind, q: &Query) -> ApiResult<Filter> {
        let mut f = Filter::default();
        let set = |v: Vec<&str>| v.into_iter().map(str::to_owned).collect::<HashSet<_>>();
        for spec in kind.filters() {
            let vals = if spec.multi {
                q.many(spec.param)
            } else {
                q.one(spec.param).map(|v| vec![v])
            };
            let Some(vals) = vals else { continue };
            if let Some(needs) = spec.needs
                && q.one(needs).is_none()
            {
                return Err(ApiError::bad_request(format!(
                    "the `{}` filter must be combined with `{needs}`",
                    spec.param
                )));
            }
            match spec.matches {
                Match::Field(field) => f.equals.push((field, set(vals))),
                Match::Via { via, field } => {
                    if let Some(target) = kind.ref_target(via) {
                        f.via.push((via, target, field, set(vals)));
                    }
                }
                Match::Flag(field) => {
                    if let Some(want) = q.flag(spec.param)? {
                        f.flags.push((field, want));
                    }
                }
                Match::ActiveAt => {
                    if let Some(d) = vals.first() {
                        f.active_at = Some(parse_filter_date(d)?);
                    }
                }
                Match::IncludeAll { .. } => {}
            }
        }
        for spec in kind.filters() {
            if let Match::IncludeAll { scope } = spec.matches
                && f.active_at.is_none()
            {
                let include_all = q.flag(spec.param)?.unwrap_or(false);
                if q.one(scope).is_some() && !include_all {
                    f.active_at = Some(Utc::now());
                }
            }
        }
        Ok(f)
    }

    fn matches(&self, o: &Object, store: &Store) -> bool {
        fn text<'o>(o: &'o Object, field: &str) -> Option<&'o str> {
            o.get(field).and_then(Value::as_str)
        }
        self.equals
            .iter()
            .all(|(field, vals)| text(o, field).is_some_and(|v| vals.contains(v)))
            && self.via.iter().all(|(via, target, field, vals)| {
                text(o, via)
                    .and_then(|id| store.kind(*target).get(id))
                    .and_then(|e| text(&e.value, field))
                    .is_some_and(|v| vals.contains(v))
            })
            && self.flags.iter().all(|(field, want)| {
                o.get(*field).and_then(Value::as_bool).unwrap_or(false) == *want
            })
            && self.active_at.is_none_or(|t| rules::active_at(o, t))
    }
}

/// A `date` filter value: a date-time, or a date meaning its midnight UTC.
fn parse_filter_date(d: &str) -> ApiResult<DateTime<Utc>> {
    parse_date_time(d)
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .ok()
                .and_then(|n| n.and_hms_opt(0, 0, 0))
                .map(|n| n.and_utc())
        })
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "`date` must be a date (2024-12-01) or date-time (got \"{d}\")"
            ))
        })
}

/// `GET /organizations/{orgId}/accounts/{id}/children`: the accounts whose
/// `parentAccountId` is `id`, newest first (`pageSize` ≤ 200).
pub(crate) async fn list_children(
    State(s): State<Arc<Shared>>,
    PathId(id): PathId,
    q: Query,
) -> ApiResult<Response> {
    let size = q.page_size(200)?;
    let before = q.cursor()?;
    let store = s.read();
    let accounts = store.kind(Kind::Account);
    if accounts.get(&id).is_none() {
        return Err(missing(Kind::Account, &id));
    }
    let entries = accounts
        .iter_before(before)
        .filter(|e| e.value.get("parentAccountId").and_then(Value::as_str) == Some(id.as_str()));
    let (data, token) = page(entries, size);
    Ok(list_body(&data, token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Object {
        v.as_object().cloned().unwrap_or_default()
    }

    /// A singleton PUT creates the one entity, then updates it in place
    /// (same id, same sequence, next version); a stale version is refused.
    /// Run on a kind of the table, as no singleton kind exists yet.
    #[test]
    fn singleton_puts_create_then_replace_the_one_entity() {
        let mut store = Store::default();
        let stamp = Stamp {
            actor: "test",
            now: "2024-12-01T00:00:00.000Z".into(),
        };
        let kind = Kind::Product;
        let put = |store: &mut Store, body: Value| {
            let (changes, entity) = put_one(store, kind, &obj(body), true, &stamp)?;
            for c in changes {
                store.apply(c);
            }
            Ok::<_, ApiError>(entity)
        };
        let first = put(&mut store, json!({"name": "Org", "code": "org"})).unwrap();
        let second = put(
            &mut store,
            json!({"name": "Org 2", "code": "org", "version": 1}),
        )
        .unwrap();
        assert_eq!(second["id"], first["id"]);
        assert_eq!(second["version"], json!(2));
        assert_eq!(store.kind(kind).len(), 1);
        let stale = put(
            &mut store,
            json!({"name": "Org 3", "code": "org", "version": 1}),
        );
        assert!(stale.is_err());
        let only = store.kind(kind).iter_newest_first().next().unwrap();
        assert_eq!(only.value["name"], json!("Org 2"));
    }
}
