//! How the emulator applies the rules of the config kinds: schema
//! validation, references and unique codes (which need ids), the one rule
//! set of [`m3ter_api::rules`] over the store, and what only a server does:
//! ids, versions, audit fields, derived fields, band ids and defaults, the
//! immutable `accountId`, and the dependents that block a change or delete.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use m3ter_api::rules::{self, Body, Catalog, Severity, Subject};
use m3ter_api::schema::DefaultBy;
use m3ter_api::validate::{Rule, parse_instant};
use m3ter_api::{Field, Kind, Type, validate_body};

use super::error::{ApiError, ApiResult};
use super::store::{Object, Store};

/// Who made a change and when: the response's audit fields.
pub struct Stamp<'a> {
    pub actor: &'a str,
    pub now: String,
}

impl<'a> Stamp<'a> {
    /// A change by `actor` now.
    pub(crate) fn now(actor: &'a str) -> Self {
        Stamp {
            actor,
            now: timestamp(Utc::now()),
        }
    }
}

/// Formats a time the way m3ter does: ISO-8601 UTC with milliseconds.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn str_of<'a>(o: &'a Object, key: &str) -> Option<&'a str> {
    o.get(key).and_then(Value::as_str)
}

/// Validates a create (`existing` = None) or full-replacement update body and
/// builds the entity to store, with `id`, `version` and audit fields.
pub fn prepare(
    store: &Store,
    kind: Kind,
    body: &Object,
    existing: Option<&Object>,
    strict: bool,
    stamp: &Stamp<'_>,
) -> ApiResult<Object> {
    let violations: Vec<String> = validate_body(kind, body, m3ter_api::validate::RefMode::Uuid)
        .into_iter()
        .filter(|v| strict || v.rule != Rule::Unknown)
        .map(|v| v.message)
        .collect();
    if !violations.is_empty() {
        return Err(ApiError::bad_request(violations.join("; ")));
    }
    let own_id = existing.and_then(|e| str_of(e, "id"));

    let mut fields = known_fields(kind.fields(), body);
    for d in kind.defaults().iter().filter(|d| d.by == DefaultBy::Server) {
        fields.entry(d.field).or_insert_with(|| d.value.to_json());
    }

    for r in kind.references() {
        if let Some(id) = str_of(&fields, r.field)
            && store.kind(r.target).get(id).is_none()
        {
            return Err(ApiError::bad_request(format!(
                "`{}` refers to no {} with id {id}; create it first or fix the id",
                r.field, r.target
            )));
        }
    }
    // A reference to one of several kinds: checked when its kind field
    // names a kind the emulator models (another m3ter entity name is stored
    // as given).
    for (field, any) in kind.any_refs() {
        let named = str_of(&fields, any.kind_field).and_then(|n| any.kind_named(n));
        if let (Some(id), Some(target)) = (str_of(&fields, field), named)
            && store.kind(target).get(id).is_none()
        {
            return Err(ApiError::bad_request(format!(
                "`{field}` refers to no {target} with id {id} (`{}` is {}); create it first or fix the id",
                any.kind_field,
                any.name_of(target).unwrap_or_default()
            )));
        }
    }
    if let Some(code) = str_of(&fields, "code")
        && let Some(other) = store.kind(kind).id_by_code(code)
        && Some(other) != own_id
    {
        return Err(ApiError::bad_request(format!(
            "`code` \"{code}\" is already used by {kind} {other}; codes are unique per kind"
        )));
    }
    let subject = Subject {
        kind,
        body: &fields,
        own: own_id,
    };
    let errors: Vec<String> = rules::check(&subject, &StoreCatalog(store))
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.message)
        .collect();
    if !errors.is_empty() {
        return Err(ApiError::bad_request(errors.join("; ")));
    }

    match kind {
        Kind::Meter => meter_dependents(store, &fields, own_id)?,
        Kind::Plan => plan_rules(store, &mut fields, existing)?,
        Kind::Pricing => pricing_defaults(&mut fields, existing),
        Kind::AccountPlan => account_plan_product(store, &mut fields),
        Kind::Contract => same_account(kind, &fields, existing)?,
        Kind::Balance => {
            same_account(kind, &fields, existing)?;
            carry_or_zero(&mut fields, existing, "amount");
        }
        Kind::Commitment => carry_or_zero(&mut fields, existing, "amountSpent"),
        _ => {}
    }

    let mut out = Object::new();
    let (id, version, created, created_by) = match existing {
        Some(e) => (
            own_id.unwrap_or_default().to_owned(),
            e.get("version").and_then(Value::as_i64).unwrap_or(0) + 1,
            e.get("dtCreated").cloned().unwrap_or(Value::Null),
            e.get("createdBy").cloned().unwrap_or(Value::Null),
        ),
        None => (
            uuid::Uuid::new_v4().to_string(),
            1,
            json!(stamp.now),
            json!(stamp.actor),
        ),
    };
    out.insert("id".into(), json!(id));
    out.insert("version".into(), json!(version));
    out.extend(fields);
    out.insert("dtCreated".into(), created);
    out.insert("dtLastModified".into(), json!(stamp.now));
    out.insert("createdBy".into(), created_by);
    out.insert("lastModifiedBy".into(), json!(stamp.actor));
    Ok(out)
}

/// The non-null fields of `obj` the schema knows, recursively: unknown
/// request fields are ignored (not stored) as the real API does.
fn known_fields(schema: &[Field], obj: &Object) -> Object {
    let mut out = Object::new();
    for f in schema {
        if let Some(v) = obj.get(f.name).filter(|v| !v.is_null()) {
            out.insert(f.name.to_owned(), known_value(&f.ty, v));
        }
    }
    out
}

fn known_value(ty: &Type, v: &Value) -> Value {
    match (ty, v) {
        (Type::Object(schema), Value::Object(o)) => Value::Object(known_fields(schema, o)),
        (Type::Array { item, .. }, Value::Array(items)) => {
            Value::Array(items.iter().map(|i| known_value(item, i)).collect())
        }
        _ => v.clone(),
    }
}

/// The store as the rules see it: references are ids.
struct StoreCatalog<'a>(&'a Store);

impl Catalog for StoreCatalog<'_> {
    fn get(&self, kind: Kind, reference: &str) -> Option<&Body> {
        self.0.kind(kind).get(reference).map(|e| &e.value)
    }

    fn each(&self, kind: Kind) -> Vec<(&str, &Body)> {
        self.0
            .kind(kind)
            .iter_newest_first()
            .filter_map(|e| Some((str_of(&e.value, "id")?, &e.value)))
            .collect()
    }

    fn by_code(&self, kind: Kind, code: &str) -> Option<(&str, &Body)> {
        let table = self.0.kind(kind);
        let id = table.id_by_code(code)?;
        Some((id, &table.get(id)?.value))
    }
}

/// Codes of a meter's data and derived fields.
pub fn meter_field_codes(meter: &Object) -> Vec<&str> {
    ["dataFields", "derivedFields"]
        .iter()
        .filter_map(|k| meter.get(*k).and_then(Value::as_array))
        .flatten()
        .filter_map(|f| f.get("code").and_then(Value::as_str))
        .collect()
}

/// DOCS: a meter update that removes a field an aggregation targets is
/// refused. The desired state has no "before", so this stays here.
fn meter_dependents(store: &Store, fields: &Object, own_id: Option<&str>) -> ApiResult<()> {
    let codes = meter_field_codes(fields);
    let Some(id) = own_id else { return Ok(()) };
    for agg in store.kind(Kind::Aggregation).iter_newest_first() {
        let a = &agg.value;
        if str_of(a, "meterId") != Some(id) {
            continue;
        }
        if let Some(target) = str_of(a, "targetField")
            && !codes.contains(&target)
        {
            return Err(ApiError::bad_request(format!(
                "the update removes field \"{target}\" which aggregation {} (code \"{}\") targets; \
                     change the aggregation first",
                str_of(a, "id").unwrap_or_default(),
                str_of(a, "code").unwrap_or_default()
            )));
        }
    }
    Ok(())
}

fn plan_rules(store: &Store, fields: &mut Object, existing: Option<&Object>) -> ApiResult<()> {
    if let Some(old) = existing {
        let before = str_of(old, "accountId");
        if before.is_some() && before != str_of(fields, "accountId") {
            return Err(ApiError::bad_request(
                "`accountId` of a bespoke plan cannot change after create; create a new plan instead",
            ));
        }
    }
    let product = str_of(fields, "planTemplateId")
        .and_then(|id| store.kind(Kind::PlanTemplate).get(id))
        .and_then(|t| t.value.get("productId").cloned());
    if let Some(p) = product {
        fields.insert("productId".into(), p);
    }
    Ok(())
}

/// A contract or balance stays with the account it was created for (the
/// kind table lists `accountId` as immutable): moving one is a new entity.
fn same_account(kind: Kind, fields: &Object, existing: Option<&Object>) -> ApiResult<()> {
    if let Some(old) = existing
        && str_of(old, "accountId") != str_of(fields, "accountId")
    {
        return Err(ApiError::bad_request(format!(
            "`accountId` of a {kind} cannot change after create; create a new {kind} for the \
             other account instead"
        )));
    }
    Ok(())
}

/// A response-only running amount (a balance's `amount`, a commitment's
/// `amountSpent`): 0 when created, then only billing and transactions
/// change it, so an update keeps it.
fn carry_or_zero(fields: &mut Object, existing: Option<&Object>, field: &str) {
    let value = existing
        .and_then(|e| e.get(field).cloned())
        .unwrap_or_else(|| json!(0));
    fields.insert(field.into(), value);
}

/// Response-only fields of a pricing, and its band ids (the server
/// defaults were filled in from the kind table by `prepare`).
fn pricing_defaults(fields: &mut Object, existing: Option<&Object>) {
    let kind = if fields.contains_key("aggregationId") {
        "SIMPLE"
    } else {
        "COMPOUND"
    };
    fields.insert("aggregationType".into(), json!(kind));
    if let Some(seg) = fields.get("segment").and_then(Value::as_object) {
        let s = seg
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(",");
        fields.insert("segmentString".into(), json!(s));
    }
    for key in ["pricingBands", "overagePricingBands"] {
        let old: Vec<Object> = existing
            .and_then(|e| e.get(key))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|b| b.as_object().cloned()).collect())
            .unwrap_or_default();
        if let Some(bands) = fields.get_mut(key).and_then(Value::as_array_mut) {
            for band in bands.iter_mut().filter_map(Value::as_object_mut) {
                assign_band_id(band, &old);
            }
        }
    }
}

/// Keeps a band's id when the client sends a known one back or when a band
/// with the same `lowerLimit` existed; otherwise assigns a new one.
fn assign_band_id(band: &mut Object, old: &[Object]) {
    let sent = str_of(band, "id");
    let known = |o: &&Object| sent.is_some() && str_of(o, "id") == sent;
    let same_limit = |o: &&Object| {
        o.get("lowerLimit").and_then(Value::as_f64)
            == band.get("lowerLimit").and_then(Value::as_f64)
    };
    let id = old
        .iter()
        .find(known)
        .or_else(|| old.iter().find(same_limit))
        .and_then(|o| str_of(o, "id"))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    band.insert("id".into(), json!(id));
}

/// Whether an entity with `startDate`/`endDate` is active at `t` (end exclusive).
pub fn active_at(o: &Object, t: DateTime<Utc>) -> bool {
    let start = str_of(o, "startDate").and_then(parse_instant);
    let end = str_of(o, "endDate").and_then(parse_instant);
    start.is_none_or(|s| s <= t) && end.is_none_or(|e| t < e)
}

/// Whether `[start, end)` of `o` overlaps `[from, to)` (None = open-ended).
pub fn overlaps(o: &Object, from: DateTime<Utc>, to: Option<DateTime<Utc>>) -> bool {
    let start = str_of(o, "startDate").and_then(parse_instant);
    let end = str_of(o, "endDate").and_then(parse_instant);
    let starts_before_to = match (start, to) {
        (Some(s), Some(t)) => s < t,
        _ => true,
    };
    starts_before_to && end.is_none_or(|e| from < e)
}

/// An account plan's response-only `productId`: its plan's.
fn account_plan_product(store: &Store, fields: &mut Object) {
    let product = str_of(fields, "planId")
        .and_then(|id| store.kind(Kind::Plan).get(id))
        .and_then(|p| p.value.get("productId").cloned());
    if let Some(p) = product {
        fields.insert("productId".into(), p);
    }
}

/// The first entity that references `id` of `kind`, as a message fragment
/// `<kind> <id> (code "<code>")`, if any: such an entity blocks a delete.
pub fn first_dependent(store: &Store, kind: Kind, id: &str) -> Option<String> {
    let describe = |k: Kind, o: &Object| {
        format!(
            "{k} {} (code \"{}\")",
            str_of(o, "id").unwrap_or_default(),
            str_of(o, "code").unwrap_or_default()
        )
    };
    for k in Kind::ALL {
        let refs: Vec<_> = k
            .references()
            .into_iter()
            .filter(|r| r.target == kind)
            .collect();
        if refs.is_empty() {
            continue;
        }
        for e in store.kind(k).iter_newest_first() {
            if str_of(&e.value, "id") == Some(id) {
                continue;
            }
            if refs.iter().any(|r| str_of(&e.value, r.field) == Some(id)) {
                return Some(describe(k, &e.value));
            }
        }
    }
    // A member of a group (a resource group's item, or a nested group)
    // is held by it: remove it from the group first.
    for k in Kind::ALL.into_iter().filter(|k| k.members().is_some()) {
        for e in store.kind(k).iter_newest_first() {
            let holds = e
                .value
                .get(crate::members::STORED)
                .and_then(Value::as_array)
                .is_some_and(|m| m.iter().any(|i| i["targetId"].as_str() == Some(id)));
            if holds {
                return Some(format!(
                    "{k} {} (name \"{}\", whose items hold it)",
                    str_of(&e.value, "id").unwrap_or_default(),
                    str_of(&e.value, "name").unwrap_or_default()
                ));
            }
        }
    }
    // Fields that hold a code rather than an id (a plan template's
    // `currency`) depend on the entity with that code just as much.
    let code = store
        .kind(kind)
        .get(id)
        .and_then(|e| str_of(&e.value, "code"));
    if let Some(code) = code {
        for k in Kind::ALL {
            for (field, _) in k.code_refs().into_iter().filter(|(_, t)| *t == kind) {
                let user = store
                    .kind(k)
                    .iter_newest_first()
                    .find(|e| str_of(&e.value, field) == Some(code));
                if let Some(e) = user {
                    return Some(describe(k, &e.value));
                }
            }
        }
    }
    if kind == Kind::Aggregation {
        let code = store
            .kind(kind)
            .get(id)
            .and_then(|e| str_of(&e.value, "code").map(str::to_owned))?;
        for e in store.kind(Kind::CompoundAggregation).iter_newest_first() {
            let calc = str_of(&e.value, "calculation").unwrap_or_default();
            if mentions(calc, &code) {
                return Some(describe(Kind::CompoundAggregation, &e.value));
            }
        }
    }
    None
}

/// Whether a calculation names `code` as an identifier (alone or as the last
/// part of a dotted name such as `aggregation.code`).
pub fn mentions(calculation: &str, code: &str) -> bool {
    calculation
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$' || c == '.'))
        .any(|tok| tok == code || tok.rsplit('.').next() == Some(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calculations_mention_codes_as_whole_identifiers() {
        assert!(mentions("aggregation.api_calls * 2", "api_calls"));
        assert!(mentions("(api_calls+x)/3", "api_calls"));
        assert!(!mentions("api_calls_v2 * 2", "api_calls"));
    }
}
