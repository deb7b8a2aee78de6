//! The `resourceGroup` kind end to end: the real binary against an emulator
//! process. A group's `type` is its collection's path segment
//! (`/resourcegroups/account`), never a body field; the API gives groups no
//! code, so they are keyed `<type>/<name>` and a rename is a replace.

use crate::common;
use common::cli::EmulatorProcess;
use common::kind_flow::{
    apply, changes, destroy, export_round_trip, org_requests, plan, summary, validate_fails,
    write_desired,
};
use serde_json::{Value, json};

const ACCOUNTS: &str = "resourcegroups/account";

fn group(name: &str) -> String {
    format!("resourceGroups:\n  - type: account\n    name: {name}\n")
}

fn live(emu: &EmulatorProcess) -> Value {
    let all = emu.list_all(ACCOUNTS);
    assert_eq!(all.len(), 1, "{all:?}");
    all[0].clone()
}

#[test]
fn a_resource_group_is_created_in_its_type_left_alone_renamed_and_deleted() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let address = r#"resourceGroup["account/Big customers"]"#;
    write_desired(dir.path(), &group("Big customers"));

    let (c, _) = plan(dir.path(), &emu, &[]);
    assert_eq!(c, changes(&[(address, "create")]));
    apply(dir.path(), &emu);
    let made = live(&emu);
    assert_eq!(made["name"], json!("Big customers"), "{made}");
    assert!(made.get("type").is_none(), "the type is the path: {made}");
    assert_eq!(emu.list_all("resourcegroups/meter"), Vec::<Value>::new());
    // The POST went to the type's collection.
    assert_eq!(
        org_requests(&emu, |r| r == "POST /organizations/{orgId}/resourcegroups/{type}"),
        1
    );

    let (c, s) = plan(dir.path(), &emu, &[]);
    assert_eq!((c, s), (vec![], summary(0, 0, 0, 0)));

    // The name is the key: a rename is a new group and the old one deleted.
    write_desired(dir.path(), &group("Key accounts"));
    let (c, _) = plan(dir.path(), &emu, &[]);
    assert_eq!(
        c,
        changes(&[
            (r#"resourceGroup["account/Key accounts"]"#, "create"),
            (address, "delete"),
        ])
    );
    apply(dir.path(), &emu);
    let renamed = live(&emu);
    assert_eq!(renamed["name"], json!("Key accounts"));
    assert_ne!(renamed["id"], made["id"]);
    let (c, _) = plan(dir.path(), &emu, &[]);
    assert_eq!(c, vec![]);

    write_desired(dir.path(), "resourceGroups: []\n");
    let (c, _) = plan(dir.path(), &emu, &[]);
    assert_eq!(
        c,
        changes(&[(r#"resourceGroup["account/Key accounts"]"#, "delete")])
    );
    apply(dir.path(), &emu);
    assert_eq!(emu.list_all(ACCOUNTS), Vec::<Value>::new());
}

#[test]
fn a_live_resource_group_is_adopted_by_type_and_name_exported_and_destroyed() {
    let emu = EmulatorProcess::start(&[]);
    let (status, made) = emu.api("POST", ACCOUNTS, Some(json!({"name": "Big customers"})));
    assert_eq!(status, 200, "{made}");
    // The same name in another type is another group.
    let (status, other) = emu.api(
        "POST",
        "resourcegroups/meter",
        Some(json!({"name": "Big customers"})),
    );
    assert_eq!(status, 200, "{other}");

    let dir = tempfile::tempdir().expect("tempdir");
    write_desired(
        dir.path(),
        "resourceGroups:\n  - type: account\n    name: Big customers\n  \
         - type: meter\n    name: Big customers\n",
    );
    let (c, s) = plan(dir.path(), &emu, &[]);
    assert_eq!(
        (c, s),
        (
            changes(&[
                (r#"resourceGroup["account/Big customers"]"#, "import"),
                (r#"resourceGroup["meter/Big customers"]"#, "import"),
            ]),
            summary(2, 0, 0, 0)
        )
    );
    apply(dir.path(), &emu);
    assert_eq!(live(&emu)["version"], json!(1), "an import sends nothing");

    assert_eq!(export_round_trip(dir.path(), &emu), summary(2, 0, 0, 0));
    let yaml =
        std::fs::read_to_string(dir.path().join("exported/resourceGroups.yaml")).expect("file");
    assert!(
        yaml.contains("type: account") && yaml.contains("type: meter"),
        "{yaml}"
    );

    destroy(dir.path(), &emu);
    assert_eq!(emu.list_all(ACCOUNTS), Vec::<Value>::new());
    assert_eq!(emu.list_all("resourcegroups/meter"), Vec::<Value>::new());
}

#[test]
fn an_unknown_type_is_refused_before_any_request() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    write_desired(dir.path(), "resourceGroups:\n  - type: acount\n    name: Big\n");
    let out = validate_fails(dir.path(), &emu);
    assert!(
        out.contains("desired-state/main.yaml:2:11:")
            && out.contains("`type`")
            && out.contains("did you mean `account`?"),
        "{out}"
    );
    assert_eq!(org_requests(&emu, |_| true), 0, "validate makes no request");

    // The emulator has no such collection.
    let (status, body) = emu.api("POST", "resourcegroups/acount", Some(json!({"name": "Big"})));
    assert_eq!(status, 404, "{body}");
}
