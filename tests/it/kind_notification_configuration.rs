//! The `notificationConfiguration` kind end to end: the real binary against
//! an emulator process through create (after the scheduled event it is
//! based on), no-op, update, delete order, adopt by code and export; its
//! calculation checked against the event's fields, offline at its position
//! and online with the same message; and the events the emulator serves.

use crate::common;
use common::cli::EmulatorProcess;
use common::kind_flow::{
    apply, changes, destroy, export_round_trip, plan, position, refused_offline_and_online,
    summary, write_desired,
};
use serde_json::{Value, json};

const COLLECTION: &str = "notifications/configurations";
const SCHEDULED: &str = "scheduledevents/configurations";
const LOW: &str = "new.amountSpent >= new.amount * 0.9 AND old.amountSpent < old.amount * 0.9";

/// A notification on commitment updates with `calculation`, named `name`,
/// and one on a scheduled event (declared after it, created before it).
fn desired(name: &str, calculation: &str) -> String {
    format!(
        "notificationConfigurations:\n  - code: commitment_low\n    name: {name}\n    \
         description: Commitment at 90%\n    eventName: configuration.commitment.updated\n    \
         calculation: \"{calculation}\"\n    active: true\n  \
         - code: bill_overdue\n    name: Bill overdue\n    description: Ten days past due\n    \
         eventName: scheduled.bill.overdue\n    alwaysFireEvent: true\n\
         scheduledEventConfigurations:\n  - name: scheduled.bill.overdue\n    entity: Bill\n    \
         field: dueDate\n    offset: 10\n"
    )
}

#[test]
fn a_notification_is_created_left_alone_renamed_and_deleted_in_order() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    write_desired(dir.path(), &desired("Commitment low", LOW));

    let scheduled = "scheduledEventConfiguration.scheduled.bill.overdue";
    let (c, _) = plan(dir.path(), &emu, &[]);
    assert_eq!(c.len(), 3, "{c:?}");
    // The notification on the scheduled event depends on it.
    assert!(
        position(&c, scheduled, "create")
            < position(&c, "notificationConfiguration.bill_overdue", "create"),
        "{c:?}"
    );
    apply(dir.path(), &emu);
    let low = emu.by_code(COLLECTION, "commitment_low");
    assert_eq!(
        (&low["eventName"], &low["calculation"], &low["active"]),
        (
            &json!("configuration.commitment.updated"),
            &json!(LOW),
            &json!(true)
        ),
        "{low}"
    );
    let overdue = emu.by_code(COLLECTION, "bill_overdue");
    assert_eq!(
        overdue["eventName"],
        json!("scheduled.bill.overdue"),
        "{overdue}"
    );

    let (c, s) = plan(dir.path(), &emu, &[]);
    assert_eq!((c, s), (vec![], summary(0, 0, 0, 0)));

    write_desired(dir.path(), &desired("Commitment nearly spent", LOW));
    let (c, _) = plan(dir.path(), &emu, &[]);
    assert_eq!(
        c,
        changes(&[("notificationConfiguration.commitment_low", "update")])
    );
    apply(dir.path(), &emu);
    let renamed = emu.by_code(COLLECTION, "commitment_low");
    assert_eq!(
        (&renamed["id"], &renamed["name"], &renamed["version"]),
        (&low["id"], &json!("Commitment nearly spent"), &json!(2)),
        "{renamed}"
    );

    // Removing everything deletes the notification before its scheduled event.
    write_desired(dir.path(), "{}\n");
    let (c, _) = plan(dir.path(), &emu, &[]);
    assert!(
        position(&c, "notificationConfiguration.bill_overdue", "delete")
            < position(&c, scheduled, "delete"),
        "{c:?}"
    );
    apply(dir.path(), &emu);
    assert_eq!(emu.list_all(COLLECTION), Vec::<Value>::new());
    assert_eq!(emu.list_all(SCHEDULED), Vec::<Value>::new());
}

#[test]
fn a_live_notification_is_adopted_exported_and_destroyed() {
    let emu = EmulatorProcess::start(&[]);
    let (status, s) = emu.api(
        "POST",
        SCHEDULED,
        Some(json!({"name": "scheduled.bill.overdue", "entity": "Bill", "field": "dueDate", "offset": 10})),
    );
    assert_eq!(status, 200, "{s}");
    for body in [
        json!({"code": "commitment_low", "name": "Commitment low", "description": "Commitment at 90%",
               "eventName": "configuration.commitment.updated", "calculation": LOW, "active": true}),
        json!({"code": "bill_overdue", "name": "Bill overdue", "description": "Ten days past due",
               "eventName": "scheduled.bill.overdue", "alwaysFireEvent": true}),
    ] {
        let (status, n) = emu.api("POST", COLLECTION, Some(body));
        assert_eq!(status, 200, "{n}");
    }

    let dir = tempfile::tempdir().expect("tempdir");
    write_desired(dir.path(), &desired("Commitment low", LOW));
    let (c, s) = plan(dir.path(), &emu, &[]);
    assert_eq!(s, summary(3, 0, 0, 0), "{c:?}");
    apply(dir.path(), &emu);
    assert_eq!(emu.list_all(COLLECTION).len(), 2);

    assert_eq!(export_round_trip(dir.path(), &emu), summary(3, 0, 0, 0));
    let yaml = std::fs::read_to_string(dir.path().join("exported/notificationConfigurations.yaml"))
        .expect("file");
    assert!(yaml.contains("eventName: scheduled.bill.overdue"), "{yaml}");

    destroy(dir.path(), &emu);
    assert_eq!(emu.list_all(COLLECTION), Vec::<Value>::new());
    assert_eq!(emu.list_all(SCHEDULED), Vec::<Value>::new());
}

/// An unknown event field, a calculation that does not parse, one that is
/// not a condition and an unknown event: exit 1 at the position before any
/// request, and a 400 with the same message online.
#[test]
fn bad_calculations_and_events_are_refused_offline_and_online() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let body = |event: &str, calculation: &str| json!({"code": "n", "name": "N", "description": "D", "eventName": event, "calculation": calculation});
    let event = "configuration.commitment.updated";
    let cases = [
        (
            desired("Low", "new.amountSpnt > 1"),
            body(event, "new.amountSpnt > 1"),
            "main.yaml:6:18: notificationConfiguration: `calculation` names `new.amountSpnt`, which is not a field of event `configuration.commitment.updated` (did you mean `new.amountSpent`?)",
        ),
        (
            desired("Low", "new.amount >= AND old.amount"),
            body(event, "new.amount >= AND old.amount"),
            "main.yaml:6:18: notificationConfiguration: `calculation` does not parse: unexpected `AND` at character 15, expected a number, a string, a name or `(`",
        ),
        (
            desired("Low", "new.amount * 0.9"),
            body(event, "new.amount * 0.9"),
            "main.yaml:6:18: notificationConfiguration: `calculation` evaluates to a number, not to true or false",
        ),
        (
            desired("Low", LOW).replace(event, "configuration.comitment.updated"),
            body("configuration.comitment.updated", LOW),
            "main.yaml:5:16: notificationConfiguration: `eventName` \"configuration.comitment.updated\" is neither an m3ter event type nor the name of a scheduled event configuration (did you mean `configuration.commitment.updated`?)",
        ),
    ];
    refused_offline_and_online(dir.path(), &emu, COLLECTION, &cases);
    assert_eq!(emu.list_all(COLLECTION), Vec::<Value>::new());
}

/// `GET /events/types` lists the spec's types and the org's scheduled
/// events; `GET /events/fields` their fields, typed.
#[test]
fn the_emulator_serves_event_types_and_fields() {
    // `--strict`: `eventName` is the one parameter these routes read.
    let emu = EmulatorProcess::start(&["--strict"]);
    let (status, types) = emu.api("GET", "events/types", None);
    assert_eq!(status, 200, "{types}");
    let list = types["events"].as_array().expect("events");
    assert_eq!(list.len(), 106, "{types}");
    assert!(list.contains(&json!("configuration.commitment.updated")));

    let (status, s) = emu.api(
        "POST",
        SCHEDULED,
        Some(json!({"name": "scheduled.bill.overdue", "entity": "Bill", "field": "dueDate", "offset": 10})),
    );
    assert_eq!(status, 200, "{s}");
    let (_, types) = emu.api("GET", "events/types", None);
    assert!(
        types["events"]
            .as_array()
            .expect("events")
            .contains(&json!("scheduled.bill.overdue")),
        "{types}"
    );

    let (status, fields) = emu.api(
        "GET",
        "events/fields?eventName=configuration.commitment.created",
        None,
    );
    assert_eq!(status, 200, "{fields}");
    let created = &fields["events"]["configuration.commitment.created"];
    assert_eq!(
        (
            &created["new.amount"],
            &created["new.customFields"],
            &created["old.amount"]
        ),
        (&json!("double"), &json!("map"), &Value::Null),
        "{fields}"
    );
    let (_, fields) = emu.api(
        "GET",
        "events/fields?eventName=scheduled.bill.overdue",
        None,
    );
    assert_eq!(
        fields["events"]["scheduled.bill.overdue"]["new.dueDate"],
        json!("string"),
        "{fields}"
    );
    let (status, body) = emu.api("GET", "events/fields?eventName=nope.created", None);
    assert_eq!(status, 400, "{body}");
    let (status, body) = emu.api("GET", "events/types?pageSize=5", None);
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("pageSize"), "{body}");

    // Without `eventName`: every type, each with its fields (none documented for failures).
    let (status, all) = emu.api("GET", "events/fields", None);
    assert_eq!(status, 200);
    let all = all["events"].as_object().expect("events");
    assert_eq!(all.len(), 107, "106 system types and the scheduled event");
    assert_eq!(all["ingest.validation.failure"], json!({}));
}
