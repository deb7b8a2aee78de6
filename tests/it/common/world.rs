//! The planner's test world: a desired state, a state file and a live org
//! built by hand, for tests that plan without a server (the planner ladder
//! in `plan.rs`, the markdown snapshots in `plan_markdown.rs`).

use std::collections::BTreeMap;

use m3ter_api::Kind;
use m3ter_reconcile::address::Address;
use m3ter_reconcile::desired::{DesiredEntity, DesiredState};
use m3ter_reconcile::live::LiveSnapshot;
use m3ter_reconcile::plan::{Plan, PlanError, PlanOptions, plan};
use m3ter_reconcile::state::{ResourceState, State};
use serde_json::{Map, Value, json};

pub fn addr(s: &str) -> Address {
    s.parse().expect("test address")
}

pub fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("fixture is not an object: {other}"),
    }
}

/// Desired state, state file and live org of one test.
pub struct World {
    pub desired: DesiredState,
    pub state: State,
    pub live: LiveSnapshot,
}

impl World {
    pub fn new() -> Self {
        World {
            desired: DesiredState::default(),
            state: State {
                format_version: 1,
                lineage: "0b6c3c9e-lineage".into(),
                serial: 7,
                org_id: "org-1".into(),
                base_url: "http://127.0.0.1:1".into(),
                resources: BTreeMap::new(),
                variables: BTreeMap::new(),
            },
            live: LiveSnapshot::default(),
        }
    }

    /// A desired entity; `refs` are (API field, target address).
    pub fn want(&mut self, a: &str, fields: Value, refs: &[(&str, &str)]) -> &mut DesiredEntity {
        let address = addr(a);
        let entity = DesiredEntity {
            address: address.clone(),
            fields: obj(fields),
            refs: refs.iter().map(|(f, t)| (f.to_string(), addr(t))).collect(),
            extra_deps: vec![],
            lifecycle: Default::default(),
            source: None,
        };
        self.desired.entities.insert(address.clone(), entity);
        self.desired
            .entities
            .get_mut(&address)
            .expect("just inserted")
    }

    /// A live entity with server-filled read-only fields added.
    pub fn live(&mut self, kind: Kind, id: &str, version: i64, fields: Value) {
        let mut v = obj(fields);
        v.insert("id".into(), json!(id));
        v.insert("version".into(), json!(version));
        v.insert("dtCreated".into(), json!("2024-11-01T10:00:00.000Z"));
        v.insert("createdBy".into(), json!("service-user-1"));
        self.live
            .entities
            .entry(kind)
            .or_default()
            .push(Value::Object(v));
    }

    pub fn live_mut(&mut self, kind: Kind, id: &str) -> &mut Map<String, Value> {
        self.live
            .entities
            .get_mut(&kind)
            .and_then(|l| l.iter_mut().find(|e| e["id"] == id))
            .and_then(Value::as_object_mut)
            .expect("live entity")
    }

    pub fn record(
        &mut self,
        a: &str,
        id: &str,
        applied: Value,
        depends_on: &[&str],
        adopted: bool,
    ) {
        self.state.resources.insert(
            addr(a),
            ResourceState {
                id: id.into(),
                version: 1,
                depends_on: depends_on.iter().map(|d| addr(d)).collect(),
                adopted,
                applied: obj(applied),
            },
        );
    }

    pub fn id_of(&self, a: &str) -> String {
        self.state.resources[&addr(a)].id.clone()
    }

    /// An entity desired, recorded in state and live, all in agreement.
    pub fn synced(&mut self, a: &str, id: &str, fields: Value, refs: &[(&str, &str)]) {
        self.want(a, fields.clone(), refs);
        let mut applied = obj(fields);
        for (f, t) in refs {
            applied.insert(f.to_string(), json!(self.id_of(t)));
        }
        let deps: Vec<&str> = refs.iter().map(|(_, t)| *t).collect();
        self.record(a, id, Value::Object(applied.clone()), &deps, false);
        self.live(addr(a).kind, id, 1, Value::Object(applied));
    }

    pub fn plan_with(&self, opts: &PlanOptions) -> Result<Plan, PlanError> {
        plan(&self.desired, &self.state, &self.live, opts)
    }

    pub fn plan(&self) -> Plan {
        self.plan_with(&PlanOptions::default()).expect("plan")
    }

    /// A product, meter and account, in sync.
    pub fn basic() -> Self {
        let mut w = World::new();
        w.synced(
            "product.p",
            "prod-1",
            json!({"code": "p", "name": "P"}),
            &[],
        );
        w.synced(
            "meter.m",
            "meter-1",
            json!({"code": "m", "name": "M",
                   "dataFields": [{"category": "MEASURE", "code": "q", "name": "Q", "unit": "s"}],
                   "derivedFields": []}),
            &[("productId", "product.p")],
        );
        w.synced(
            "account.a",
            "acc-1",
            json!({"code": "a", "name": "A", "emailAddress": "a@example.com"}),
            &[],
        );
        w
    }

    /// `basic` plus aggregation, template, plan, pricing and account plan.
    pub fn billing() -> Self {
        let mut w = World::basic();
        w.synced(
            "aggregation.q_sum",
            "agg-1",
            json!({"code": "q_sum", "name": "Q sum", "targetField": "q", "aggregation": "SUM",
                   "rounding": "NONE", "quantityPerUnit": 1, "unit": "s"}),
            &[("meterId", "meter.m")],
        );
        w.synced(
            "planTemplate.t",
            "tpl-1",
            json!({"code": "t", "name": "T", "currency": "USD", "standingCharge": 0,
                   "billFrequency": "MONTHLY"}),
            &[("productId", "product.p")],
        );
        w.synced(
            "plan.x",
            "plan-1",
            json!({"code": "x", "name": "X"}),
            &[("planTemplateId", "planTemplate.t")],
        );
        w.synced(
            "pricing.x/q_sum@2024-12-01",
            "pri-1",
            json!({"startDate": "2024-12-01T00:00:00Z",
                   "pricingBands": [{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 1},
                                    {"lowerLimit": 100, "fixedPrice": 0, "unitPrice": 0.5}]}),
            &[("planId", "plan.x"), ("aggregationId", "aggregation.q_sum")],
        );
        w.synced(
            "accountPlan.a/x@2024-12-01",
            "ap-1",
            json!({"startDate": "2024-12-01T00:00:00Z", "childBillingMode": "PARENT_BREAKDOWN"}),
            &[("accountId", "account.a"), ("planId", "plan.x")],
        );
        w
    }
}
