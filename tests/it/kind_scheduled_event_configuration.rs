//! The `scheduledEventConfiguration` kind end to end: the real binary
//! against an emulator process through create, no-op, update, replace on a
//! new name (its key), delete, adopt by key and export; and its bad input,
//! refused offline at its position and online with the same message.

use crate::common;
use common::cli::EmulatorProcess;
use common::kind_flow::{
    apply, changes, destroy, export_round_trip, only_live, plan, refused_offline_and_online,
    summary, write_desired,
};
use serde_json::{Value, json};

const COLLECTION: &str = "scheduledevents/configurations";

/// One scheduled event, `offset` days after a bill's due date.
fn desired(name: &str, field: &str, offset: i64) -> String {
    format!(
        "scheduledEventConfigurations:\n  - name: {name}\n    entity: Bill\n    \
         field: {field}\n    offset: {offset}\n"
    )
}

#[test]
fn a_scheduled_event_is_created_left_alone_updated_replaced_and_deleted() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let address = "scheduledEventConfiguration.scheduled.bill.overdue";
    write_desired(
        dir.path(),
        &desired("scheduled.bill.overdue", "dueDate", 10),
    );

    let (c, _) = plan(dir.path(), &emu, &[]);
    assert_eq!(c, changes(&[(address, "create")]));
    apply(dir.path(), &emu);
    let made = only_live(&emu, COLLECTION);
    assert_eq!(
        (
            &made["name"],
            &made["entity"],
            &made["field"],
            &made["offset"]
        ),
        (
            &json!("scheduled.bill.overdue"),
            &json!("Bill"),
            &json!("dueDate"),
            &json!(10)
        ),
        "{made}"
    );

    let (c, s) = plan(dir.path(), &emu, &[]);
    assert_eq!((c, s), (vec![], summary(0, 0, 0, 0)));

    // A new offset or field is an update in place.
    write_desired(
        dir.path(),
        &desired("scheduled.bill.overdue", "endDate", -3),
    );
    let (c, _) = plan(dir.path(), &emu, &[]);
    assert_eq!(c, changes(&[(address, "update")]));
    apply(dir.path(), &emu);
    let updated = only_live(&emu, COLLECTION);
    assert_eq!(
        (
            &updated["id"],
            &updated["field"],
            &updated["offset"],
            &updated["version"]
        ),
        (&made["id"], &json!("endDate"), &json!(-3), &json!(2)),
        "{updated}"
    );

    // A new name is a new event type: the old one goes, the new one comes.
    write_desired(dir.path(), &desired("scheduled.bill.late", "endDate", -3));
    let (mut c, _) = plan(dir.path(), &emu, &[]);
    c.sort();
    assert_eq!(
        c,
        changes(&[
            ("scheduledEventConfiguration.scheduled.bill.late", "create"),
            (address, "delete"),
        ])
    );
    apply(dir.path(), &emu);
    assert_eq!(
        only_live(&emu, COLLECTION)["name"],
        json!("scheduled.bill.late")
    );

    write_desired(dir.path(), "scheduledEventConfigurations: []\n");
    let (c, _) = plan(dir.path(), &emu, &[]);
    assert_eq!(
        c,
        changes(&[("scheduledEventConfiguration.scheduled.bill.late", "delete")])
    );
    apply(dir.path(), &emu);
    assert_eq!(emu.list_all(COLLECTION), Vec::<Value>::new());
}

#[test]
fn a_live_scheduled_event_is_adopted_exported_and_destroyed() {
    let emu = EmulatorProcess::start(&[]);
    let (status, made) = emu.api(
        "POST",
        COLLECTION,
        Some(json!({"name": "scheduled.bill.overdue", "entity": "Bill", "field": "dueDate", "offset": 10})),
    );
    assert_eq!(status, 200, "{made}");

    // Written in YAML with a fresh state: adopted by its name, not created again.
    let dir = tempfile::tempdir().expect("tempdir");
    write_desired(
        dir.path(),
        &desired("scheduled.bill.overdue", "dueDate", 10),
    );
    let (c, s) = plan(dir.path(), &emu, &[]);
    assert_eq!(
        (c, s),
        (
            changes(&[(
                "scheduledEventConfiguration.scheduled.bill.overdue",
                "import"
            )]),
            summary(1, 0, 0, 0)
        )
    );
    apply(dir.path(), &emu);
    assert_eq!(only_live(&emu, COLLECTION)["id"], made["id"]);

    assert_eq!(export_round_trip(dir.path(), &emu), summary(1, 0, 0, 0));
    let yaml = std::fs::read_to_string(
        dir.path()
            .join("exported/scheduledEventConfigurations.yaml"),
    )
    .expect("file");
    assert!(yaml.contains("- name: scheduled.bill.overdue"), "{yaml}");

    destroy(dir.path(), &emu);
    assert_eq!(emu.list_all(COLLECTION), Vec::<Value>::new());
}

/// A bad entity, field or name is exit 1 at its position before any
/// request; the emulator answers the same body with a 400 and the same
/// message.
#[test]
fn bad_entities_fields_and_names_are_refused_offline_and_online() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            desired("scheduled.bill.overdue", "dueDat", 10),
            json!({"name": "scheduled.bill.overdue", "entity": "Bill", "field": "dueDat", "offset": 10}),
            "main.yaml:4:12: scheduledEventConfiguration: `field` \"dueDat\" is not a date field of Bill (did you mean `dueDate`?)",
        ),
        (
            desired("scheduled.bill.overdue", "accountCode", 10),
            json!({"name": "scheduled.bill.overdue", "entity": "Bill", "field": "accountCode", "offset": 10}),
            "`field` \"accountCode\" is not a date field of Bill; write one of",
        ),
        (
            desired("scheduled.bill.overdue", "dueDate", 10).replace("Bill", "Bil"),
            json!({"name": "scheduled.bill.overdue", "entity": "Bil", "field": "dueDate", "offset": 10}),
            "main.yaml:3:13: scheduledEventConfiguration: `entity` \"Bil\" is not an entity a scheduled event can be based on (did you mean `Bill`?)",
        ),
        (
            desired("Ten days after due", "dueDate", 10),
            json!({"name": "Ten days after due", "entity": "Bill", "field": "dueDate", "offset": 10}),
            "main.yaml:2:11: scheduledEventConfiguration: `name` \"Ten days after due\" is not of the form `scheduled.<entity>.<event name>`",
        ),
    ];
    refused_offline_and_online(dir.path(), &emu, COLLECTION, &cases);
    assert_eq!(emu.list_all(COLLECTION), Vec::<Value>::new());
}
