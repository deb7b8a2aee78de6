//! The remote half of each step, with the retry rules of design §4: a
//! create is looked up by key before it is retried, a retried PUT that
//! answers 409 or a retried DELETE that answers 404 is resolved by reading.

use serde_json::{Map, Value};

use crate::client::Client;
use m3ter_api::Kind;

use super::{OpFailure, lookup};

/// One remote operation, with everything it needs owned (it runs in a task).
#[derive(Debug, Clone)]
pub(super) enum Op {
    Create {
        kind: Kind,
        body: Map<String, Value>,
        /// Member calls after the create.
        members: Vec<MemberCall>,
    },
    Update {
        kind: Kind,
        id: String,
        body: Map<String, Value>,
        /// Member calls after the PUT.
        members: Vec<MemberCall>,
    },
    Delete {
        kind: Kind,
        /// The segment of a typed kind's collection.
        segment: Option<String>,
        id: String,
    },
    /// The PUT of a singleton kind's one entity (on the collection path).
    PutSingleton {
        kind: Kind,
        body: Map<String, Value>,
    },
    /// An import without changes: nothing to send.
    Adopt,
}

/// One member added to or removed from an entity's member set
/// ([`m3ter_api::kinds::Members`]).
#[derive(Debug, Clone)]
pub(super) struct MemberCall {
    pub add: bool,
    /// `{"targetType", "targetId"}`.
    pub target: Value,
}

/// What the org answered.
#[derive(Debug)]
pub(super) enum OpResult {
    /// The created entity; `true` when it was found by key after a lost reply.
    Created(Value, bool),
    Updated(Value),
    Deleted,
    Adopted,
}

impl Op {
    /// Runs the operation to completion or to a final error (without
    /// secrets: API errors never carry them).
    pub(super) async fn run(self, client: &Client) -> Result<OpResult, OpFailure> {
        match self {
            Op::Create {
                kind,
                body,
                members,
            } => {
                let made = create(client, kind, &body).await?;
                match made {
                    OpResult::Created(v, found) => {
                        let v = with_members(client, kind, &body, v, &members).await?;
                        Ok(OpResult::Created(v, found))
                    }
                    other => Ok(other),
                }
            }
            Op::Update {
                kind,
                id,
                body,
                members,
            } => match update(client, kind, Some(&id), &body).await? {
                OpResult::Updated(v) => Ok(OpResult::Updated(
                    with_members(client, kind, &body, v, &members).await?,
                )),
                other => Ok(other),
            },
            Op::PutSingleton { kind, body } => update(client, kind, None, &body).await,
            Op::Delete { kind, segment, id } => delete(client, kind, segment.as_deref(), &id).await,
            Op::Adopt => Ok(OpResult::Adopted),
        }
    }
}

/// Runs the member calls of the entity `v` (just written from `body`), and
/// answers `v` with the member set `body` asked for.
async fn with_members(
    client: &Client,
    kind: Kind,
    body: &Map<String, Value>,
    mut v: Value,
    members: &[MemberCall],
) -> Result<Value, OpFailure> {
    let Some(m) = kind.members() else {
        return Ok(v);
    };
    let segment = kind
        .typed()
        .and_then(|t| body.get(t.field))
        .and_then(Value::as_str);
    let id = v
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let policy = client.retry_policy().clone();
    for call in members {
        let mut attempt = 1;
        loop {
            match client
                .member_once(kind, segment, &id, call.add, &call.target)
                .await
            {
                Ok(_) => break,
                // Removed already (an earlier attempt, or someone else).
                Err(e) if !call.add && e.is_not_found() => break,
                Err(e) if e.is_retryable() && attempt < policy.max_attempts => {
                    tokio::time::sleep(policy.delay(attempt, e.retry_after())).await;
                    attempt += 1;
                }
                Err(e) => return Err(OpFailure::Api(e)),
            }
        }
    }
    if let (Some(items), Some(o)) = (body.get(m.field), v.as_object_mut()) {
        o.insert(m.field.into(), items.clone());
    }
    Ok(v)
}

async fn create(
    client: &Client,
    kind: Kind,
    body: &Map<String, Value>,
) -> Result<OpResult, OpFailure> {
    let policy = client.retry_policy().clone();
    let mut attempt = 1;
    loop {
        match client.create_once(kind, body).await {
            Ok(v) => return Ok(OpResult::Created(v, false)),
            Err(e) if e.is_retryable() && attempt < policy.max_attempts => {
                tokio::time::sleep(policy.delay(attempt, e.retry_after())).await;
                attempt += 1;
                // The failed attempt may have committed before its reply was
                // lost: adopt what it made rather than make it twice.
                match lookup::find(client, kind, body).await {
                    Ok(Some(found)) => return Ok(OpResult::Created(found, true)),
                    Ok(None) => {}
                    Err(le) => return Err(OpFailure::Lookup(le)),
                }
            }
            Err(e) => return Err(OpFailure::Api(e)),
        }
    }
}

/// A PUT of the entity with this id, or of a singleton kind's one entity
/// (`id` = `None`).
async fn update(
    client: &Client,
    kind: Kind,
    id: Option<&str>,
    body: &Map<String, Value>,
) -> Result<OpResult, OpFailure> {
    let policy = client.retry_policy().clone();
    let mut attempt = 1;
    loop {
        let put = match id {
            Some(id) => client.update_once(kind, id, body).await,
            None => client.put_singleton_once(kind, body).await,
        };
        match put {
            Ok(v) => return Ok(OpResult::Updated(v)),
            Err(e) if e.is_conflict() && attempt > 1 => {
                // An earlier attempt may have taken effect (its reply lost),
                // which moved the version on: fine if the entity now is
                // what this update wanted.
                let live = match id {
                    Some(id) => {
                        let segment = kind
                            .typed()
                            .and_then(|t| body.get(t.field))
                            .and_then(Value::as_str);
                        client.get_in(kind, segment, id).await
                    }
                    None => client
                        .get_singleton(kind)
                        .await
                        .map(Option::unwrap_or_default),
                }
                .map_err(OpFailure::Api)?;
                return if lookup::matches_body(kind, &live, body) {
                    Ok(OpResult::Updated(live))
                } else {
                    Err(OpFailure::ChangedSincePlan(e))
                };
            }
            Err(e) if e.is_conflict() => return Err(OpFailure::ChangedSincePlan(e)),
            Err(e) if e.is_retryable() && attempt < policy.max_attempts => {
                tokio::time::sleep(policy.delay(attempt, e.retry_after())).await;
                attempt += 1;
            }
            Err(e) => return Err(OpFailure::Api(e)),
        }
    }
}

async fn delete(
    client: &Client,
    kind: Kind,
    segment: Option<&str>,
    id: &str,
) -> Result<OpResult, OpFailure> {
    let policy = client.retry_policy().clone();
    let mut attempt = 1;
    loop {
        match client.delete_once(kind, segment, id).await {
            Ok(_) => return Ok(OpResult::Deleted),
            // Gone already: an earlier attempt took effect, or someone else
            // deleted it. Either way the plan's goal holds.
            Err(e) if e.is_not_found() => return Ok(OpResult::Deleted),
            Err(e) if e.is_retryable() && attempt < policy.max_attempts => {
                tokio::time::sleep(policy.delay(attempt, e.retry_after())).await;
                attempt += 1;
            }
            Err(e) if e.status() == Some(400) => {
                return Err(OpFailure::DeleteRefused(e));
            }
            Err(e) => return Err(OpFailure::Api(e)),
        }
    }
}
