//! Reading the whole org, and accepting live values into state.

use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::task::JoinSet;

use super::LiveSnapshot;
use crate::address::Address;
use crate::client::{ApiError, Client};
use crate::plan::compare::field_equal;
use crate::state::State;
use m3ter_api::kinds::MEMBER_IDS;
use m3ter_api::{Kind, identity};

/// Reads every entity of every kind: one paginated list per kind at the
/// largest page size, the kinds concurrently (the client's pacer keeps the
/// total rate in bounds). Never one GET per entity. A singleton kind is one
/// GET; one the org has never written has no live entity.
pub async fn refresh(client: &Client) -> Result<LiveSnapshot, ApiError> {
    let mut tasks = JoinSet::new();
    for kind in Kind::ALL {
        let client = client.clone();
        tasks.spawn(async move {
            let read = if kind.is_singleton() {
                client
                    .get_singleton(kind)
                    .await
                    .map(|one| one.into_iter().map(super::compact).collect())
            } else {
                client.list_all_with(kind, &[], super::compact).await
            };
            (kind, read)
        });
    }
    let mut snapshot = LiveSnapshot::default();
    while let Some(joined) = tasks.join_next().await {
        let (kind, listed) = joined
            .map_err(|e| ApiError::Config(format!("a refresh task stopped unexpectedly: {e}")))?;
        // Returning drops the JoinSet, which aborts the other lists.
        snapshot.set(kind, listed?);
    }
    read_members(client, &mut snapshot).await?;
    tracing::info!(entities = snapshot.len(), "refreshed live org");
    Ok(snapshot)
}

/// Reads the member sets ([`m3ter_api::kinds::Members`]): one paginated
/// contents list per entity of such a kind, after every list (members are
/// written as addresses, found among the other kinds' entities). Each
/// entity gets its members' addresses, sorted, in the member field, and
/// their `{targetType, targetId}` by address under [`MEMBER_IDS`]. A member
/// the snapshot does not hold (deleted since) is written as its id.
async fn read_members(client: &Client, snapshot: &mut LiveSnapshot) -> Result<(), ApiError> {
    for kind in Kind::ALL {
        let (Some(m), Some(typed)) = (kind.members(), kind.typed()) else {
            continue;
        };
        let mut entities = snapshot.of(kind).to_vec();
        // The contents lists run concurrently, as the kinds' lists do.
        let mut tasks = JoinSet::new();
        for (i, e) in entities.iter().enumerate() {
            let (Some(id), Some(segment)) = (
                e.get("id").and_then(Value::as_str).map(str::to_owned),
                e.get(typed.field)
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            ) else {
                continue;
            };
            let client = client.clone();
            tasks.spawn(async move {
                let contents = client.members(kind, Some(&segment), &id).await;
                (i, segment, contents)
            });
        }
        let mut read = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let (i, segment, contents) = joined.map_err(|e| {
                ApiError::Config(format!("a refresh task stopped unexpectedly: {e}"))
            })?;
            // Returning drops the JoinSet, which aborts the other lists.
            read.push((i, segment, contents?));
        }
        for (i, segment, contents) in read {
            let segment = segment.as_str();
            let mut addresses = Vec::new();
            let mut ids = Map::new();
            for item in contents {
                let target_type = item.get("targetType").and_then(Value::as_str);
                let Some(target_id) = item.get("targetId").and_then(Value::as_str) else {
                    continue;
                };
                let target_kind = match target_type {
                    Some("GROUP") => Some(kind),
                    _ => typed.kind_of(segment),
                };
                let address = target_kind
                    .and_then(|k| {
                        let live = snapshot.by_id(k, target_id)?;
                        Some(Address::new(k, identity::key_of(k, &Plain(live))?).to_string())
                    })
                    .unwrap_or_else(|| target_id.to_string());
                ids.insert(
                    address.clone(),
                    json!({"targetType": target_type.unwrap_or("ITEM"), "targetId": target_id}),
                );
                addresses.push(address);
            }
            addresses.sort();
            addresses.dedup();
            if let Some(o) = entities[i].as_object_mut() {
                o.insert(
                    m.field.into(),
                    Value::Array(addresses.into_iter().map(Value::String).collect()),
                );
                o.insert(MEMBER_IDS.into(), Value::Object(ids));
            }
        }
        snapshot.set(kind, entities);
    }
    Ok(())
}

/// A live entity as [`identity::key_of`] reads it for a member's address:
/// members are of code-keyed kinds or groups keyed by their own fields, so
/// no reference needs resolving.
struct Plain<'a>(&'a Value);

impl identity::KeySource for Plain<'_> {
    fn value(&self, field: &str) -> Option<&Value> {
        self.0.get(field)
    }

    fn code(&self, _field: &str, _target: Kind) -> Option<&str> {
        None
    }
}

/// What [`accept_live`] changed.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct RefreshReport {
    /// Resources whose version or managed fields moved.
    pub updated: Vec<Address>,
    /// Resources already matching the org.
    pub unchanged: Vec<Address>,
    /// Resources whose entity is gone from the org (deleted outside this
    /// tool); dropped from state.
    pub removed: Vec<Address>,
}

/// Accepts live values into state: each resource takes the live `version`
/// and the live value of every field it already manages (a managed field
/// the org no longer has is dropped from `applied`); resources whose id is
/// gone are removed. Fields not managed stay unmanaged.
pub fn accept_live(state: &mut State, live: &LiveSnapshot) -> RefreshReport {
    let mut report = RefreshReport::default();
    state.resources.retain(|addr, res| {
        let Some(entity) = live.by_id(addr.kind, &res.id) else {
            report.removed.push(addr.clone());
            return false;
        };
        let mut changed = false;
        if let Some(v) = entity.get("version").and_then(Value::as_i64)
            && v != res.version
        {
            res.version = v;
            changed = true;
        }
        let kind = addr.kind;
        res.applied.retain(|field, value| match entity.get(field) {
            Some(lv) => {
                // Compared as plan compares (numbers, instants, pricing bands
                // without their server ids): a value the server merely writes
                // differently is not a change to accept.
                if !field_equal(kind, field, value, Some(lv)) {
                    *value = lv.clone();
                    changed = true;
                }
                true
            }
            None => {
                changed = true;
                false
            }
        });
        if changed {
            report.updated.push(addr.clone());
        } else {
            report.unchanged.push(addr.clone());
        }
        true
    });
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::ResourceState;
    use serde_json::json;

    fn resource(id: &str, version: i64, applied: Value) -> ResourceState {
        ResourceState {
            id: id.into(),
            version,
            depends_on: vec![],
            adopted: false,
            applied: applied.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn accepts_versions_and_managed_fields_and_drops_the_deleted() {
        let mut state = State::new("org", "http://x");
        let p = Address::new(Kind::Product, "p");
        let m = Address::new(Kind::Meter, "m");
        let gone = Address::new(Kind::Account, "gone");
        state.resources.insert(
            p.clone(),
            resource("p1", 1, json!({"name": "P", "code": "p"})),
        );
        state.resources.insert(
            m.clone(),
            resource("m1", 3, json!({"name": "M", "unit": "s"})),
        );
        state
            .resources
            .insert(gone.clone(), resource("a1", 1, json!({})));
        let live = LiveSnapshot::from_entities(
            [
                (Kind::Product, vec![json!({"id": "p1", "version": 1, "name": "P", "code": "p", "dtCreated": "x"})]),
                (Kind::Meter, vec![json!({"id": "m1", "version": 4, "name": "M2", "code": "m"})]),
            ]
            .into(),
        );
        let report = accept_live(&mut state, &live);
        assert_eq!(report.unchanged, vec![p.clone()]);
        assert_eq!(report.updated, vec![m.clone()]);
        assert_eq!(report.removed, vec![gone.clone()]);
        let mr = &state.resources[&m];
        assert_eq!(mr.version, 4);
        // `name` accepted, `unit` gone from live so no longer managed,
        // `code` never managed so not added.
        assert_eq!(Value::Object(mr.applied.clone()), json!({"name": "M2"}));
        assert!(!state.resources.contains_key(&gone));
        assert_eq!(
            Value::Object(state.resources[&p].applied.clone()),
            json!({"name": "P", "code": "p"})
        );
    }

    #[test]
    fn values_the_server_only_writes_differently_are_unchanged() {
        let mut state = State::new("org", "http://x");
        let pr = Address::new(Kind::Pricing, "x/q@2024-12-01");
        let applied = json!({
            "startDate": "2024-12-01T00:00:00Z",
            "pricingBands": [{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 1},
                             {"lowerLimit": 6e9, "fixedPrice": 0, "unitPrice": 0.5}]
        });
        state
            .resources
            .insert(pr.clone(), resource("pr1", 1, applied.clone()));
        let live = LiveSnapshot::from_entities(
            [(
                Kind::Pricing,
                vec![json!({
                    "id": "pr1", "version": 1, "startDate": "2024-12-01T00:00:00.000Z",
                    "pricingBands": [
                        {"id": "b2", "lowerLimit": 6000000000u64, "fixedPrice": 0.0, "unitPrice": 0.5},
                        {"id": "b1", "lowerLimit": 0.0, "fixedPrice": 0, "unitPrice": 1.0}
                    ]
                })],
            )]
            .into(),
        );
        let report = accept_live(&mut state, &live);
        assert_eq!(report.unchanged, vec![pr.clone()]);
        assert!(report.updated.is_empty());
        assert_eq!(Value::Object(state.resources[&pr].applied.clone()), applied);

        // A real change is still accepted.
        let live = LiveSnapshot::from_entities(
            [(
                Kind::Pricing,
                vec![json!({
                    "id": "pr1", "version": 2, "startDate": "2024-12-01T00:00:00Z",
                    "pricingBands": [{"id": "b1", "lowerLimit": 0, "fixedPrice": 0, "unitPrice": 2}]
                })],
            )]
            .into(),
        );
        let report = accept_live(&mut state, &live);
        assert_eq!(report.updated, vec![pr.clone()]);
        assert_eq!(
            state.resources[&pr].applied["pricingBands"][0]["unitPrice"],
            json!(2)
        );
    }
}
