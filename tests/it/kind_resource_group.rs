//! The `resourceGroup` kind end to end: the real binary against an emulator
//! process. A group's `type` is its collection's path segment
//! (`/resourcegroups/account`), never a body field; the API gives groups no
//! code, so they are keyed `<type>/<name>` and a rename is a replace.

use crate::common;
use common::cli::EmulatorProcess;
use common::kind_flow::{
    apply, changes, destroy, export_round_trip, only_live, org_requests, plan, summary,
    validate_fails, write_desired,
};
use serde_json::{Value, json};

const ACCOUNTS: &str = "resourcegroups/account";

fn group(name: &str) -> String {
    format!("resourceGroups:\n  - type: account\n    name: {name}\n")
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
    let made = only_live(&emu, ACCOUNTS);
    assert_eq!(made["name"], json!("Big customers"), "{made}");
    assert!(made.get("type").is_none(), "the type is the path: {made}");
    assert_eq!(emu.list_all("resourcegroups/meter"), Vec::<Value>::new());
    // The POST went to the type's collection.
    assert_eq!(
        org_requests(&emu, |r| r
            == "POST /organizations/{orgId}/resourcegroups/{type}"),
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
    let renamed = only_live(&emu, ACCOUNTS);
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
    assert_eq!(
        only_live(&emu, ACCOUNTS)["version"],
        json!(1),
        "an import sends nothing"
    );

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
    write_desired(
        dir.path(),
        "resourceGroups:\n  - type: acount\n    name: Big\n",
    );
    let out = validate_fails(dir.path(), &emu);
    assert!(
        out.contains("desired-state/main.yaml:2:11:")
            && out.contains("`type`")
            && out.contains("did you mean `account`?"),
        "{out}"
    );
    assert_eq!(org_requests(&emu, |_| true), 0, "validate makes no request");

    // The emulator has no such collection.
    let (status, body) = emu.api(
        "POST",
        "resourcegroups/acount",
        Some(json!({"name": "Big"})),
    );
    assert_eq!(status, 404, "{body}");
}

/// Two accounts and a meter, and `groups` (YAML lines) after them.
fn with_items(groups: &str) -> String {
    format!(
        "products:\n  - code: p\n    name: P\n\
         meters:\n  - code: m\n    name: M\n    product: p\n    dataFields:\n      \
         - {{category: MEASURE, code: n, name: N, unit: count}}\n\
         accounts:\n  - code: acme\n    name: Acme\n    emailAddress: a@example.com\n    currency: USD\n  \
         - code: beta\n    name: Beta\n    emailAddress: b@example.com\n    currency: USD\n\
         resourceGroups:\n{groups}"
    )
}

/// The members of the live group named `name` of type `account`, as
/// `(targetType, targetId)`.
fn members(emu: &EmulatorProcess, name: &str) -> Vec<(String, String)> {
    let group = emu
        .list_all(ACCOUNTS)
        .into_iter()
        .find(|g| g["name"] == json!(name))
        .unwrap_or_else(|| panic!("no group {name}"));
    let (status, v) = emu.api(
        "POST",
        &format!(
            "{ACCOUNTS}/{}/contents?pageSize=100",
            group["id"].as_str().unwrap()
        ),
        None,
    );
    assert_eq!(status, 200, "{v}");
    let mut out: Vec<(String, String)> = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|i| {
            (
                i["targetType"].as_str().unwrap_or("").to_string(),
                i["targetId"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn id_of(emu: &EmulatorProcess, collection: &str, code: &str) -> String {
    emu.list_all(collection)
        .into_iter()
        .find(|e| e["code"] == json!(code))
        .and_then(|e| e["id"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no {collection} {code}"))
}

#[test]
fn items_are_added_after_the_create_changed_as_one_update_and_deleted_first() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let big = "resourceGroup.account/Big";
    let all = "resourceGroup.account/All";
    write_desired(
        dir.path(),
        &with_items(
            "  - type: account\n    name: Big\n    items: [account.acme]\n  \
             - type: account\n    name: All\n    items: [resourceGroup.account/Big, account.beta]\n",
        ),
    );
    let (c, _) = plan(dir.path(), &emu, &[]);
    // Items first: the accounts, then Big, then All (which holds Big).
    let pos = |a: &str| common::kind_flow::position(&c, a, "create");
    assert!(
        pos("account.acme") < pos(big) && pos(big) < pos(all),
        "{c:?}"
    );
    apply(dir.path(), &emu);
    let acme = id_of(&emu, "accounts", "acme");
    let beta = id_of(&emu, "accounts", "beta");
    let big_id = emu
        .list_all(ACCOUNTS)
        .into_iter()
        .find(|g| g["name"] == json!("Big"))
        .and_then(|g| g["id"].as_str().map(str::to_string))
        .expect("Big");
    assert_eq!(members(&emu, "Big"), vec![("ITEM".into(), acme.clone())]);
    assert_eq!(
        members(&emu, "All"),
        vec![("GROUP".into(), big_id), ("ITEM".into(), beta.clone())]
    );

    // One contents call per group on refresh; nothing to change.
    let before = org_requests(&emu, |r| r.ends_with("/contents"));
    let (c, s) = plan(dir.path(), &emu, &[]);
    assert_eq!((c, s), (vec![], summary(0, 0, 0, 0)));
    assert_eq!(org_requests(&emu, |r| r.ends_with("/contents")) - before, 2);

    // Another item, one removed: one update of the group, shown as its items.
    write_desired(
        dir.path(),
        &with_items(
            "  - type: account\n    name: Big\n    items: [account.beta]\n  \
             - type: account\n    name: All\n    items: [resourceGroup.account/Big, account.beta]\n",
        ),
    );
    let (c, _, doc) = common::kind_flow::plan_doc(dir.path(), &emu, &[]);
    assert_eq!(c, changes(&[(big, "update")]));
    let diff = doc["changes"][0]["diff"].to_string();
    assert!(
        diff.contains("items") && diff.contains("account.acme") && diff.contains("account.beta"),
        "{diff}"
    );
    apply(dir.path(), &emu);
    assert_eq!(members(&emu, "Big"), vec![("ITEM".into(), beta.clone())]);
    // The emulator refuses to delete an item a group holds.
    let (status, body) = emu.api("DELETE", &format!("accounts/{beta}"), None);
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("whose items hold it"), "{body}");
    let (c, _) = plan(dir.path(), &emu, &[]);
    assert_eq!(c, vec![]);

    // Export writes the items as addresses; a fresh state is imports only.
    let s = export_round_trip(dir.path(), &emu);
    assert_eq!(s["import"], json!(6), "{s}");
    assert_eq!(
        (s["add"].clone(), s["change"].clone()),
        (json!(0), json!(0)),
        "{s}"
    );
    let yaml =
        std::fs::read_to_string(dir.path().join("exported/resourceGroups.yaml")).expect("file");
    assert!(
        yaml.contains("account.beta") && yaml.contains("resourceGroup.account/Big"),
        "{yaml}"
    );

    // Deleted before what they hold.
    let out = common::cli::m3ter(
        dir.path(),
        &emu,
        &["plan", "--destroy", "--json", "--rate-limit", "0"],
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", common::cli::text(&out));
    });
    let order: Vec<String> = doc["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["address"].as_str().unwrap_or("").to_string())
        .collect();
    let at = |a: &str| order.iter().position(|x| x == a).unwrap_or(usize::MAX);
    assert!(
        at(all) < at(big) && at(big) < at("account.beta"),
        "{order:?}"
    );
    destroy(dir.path(), &emu);
    assert_eq!(emu.list_all(ACCOUNTS), Vec::<Value>::new());
}

#[test]
fn an_item_of_the_wrong_type_is_refused_before_any_request() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    write_desired(
        dir.path(),
        &with_items("  - type: account\n    name: Big\n    items: [account.acme, meter.m]\n"),
    );
    let out = validate_fails(dir.path(), &emu);
    assert!(
        out.contains("desired-state/main.yaml:22:27:")
            && out.contains(
                "`items[1]` is meter.m, a meter: a group of type `account` holds accounts"
            ),
        "{out}"
    );
    write_desired(
        dir.path(),
        &with_items("  - type: account\n    name: Big\n    items: [account.acmee]\n"),
    );
    let out = validate_fails(dir.path(), &emu);
    assert!(
        out.contains("desired-state/main.yaml:22:13:")
            && out.contains("not in the desired state")
            && out.contains("did you mean `account.acme`?"),
        "{out}"
    );
    // A group of another type, the group itself, a loop of groups.
    for (groups, at, says) in [
        (
            "  - {type: meter, name: M}\n  - {type: account, name: Big, items: [resourceGroup.meter/M]}\n",
            "main.yaml:21:40:",
            "a group of another type: a group of type `account` holds accounts and groups of its type",
        ),
        (
            "  - {type: account, name: Big, items: [resourceGroup.account/Big]}\n",
            "main.yaml:20:40:",
            "`items[0]` is the group itself",
        ),
        (
            "  - {type: account, name: A, items: [resourceGroup.account/B]}\n  \
             - {type: account, name: B, items: [resourceGroup.account/A]}\n",
            "main.yaml:20:5:",
            "dependency cycle: resourceGroup.account/A -> resourceGroup.account/B",
        ),
    ] {
        write_desired(dir.path(), &with_items(groups));
        let out = validate_fails(dir.path(), &emu);
        assert!(out.contains(at) && out.contains(says), "{out}");
    }
    assert_eq!(org_requests(&emu, |_| true), 0, "validate makes no request");

    // The emulator checks the item's type too.
    let (status, group) = emu.api("POST", ACCOUNTS, Some(json!({"name": "Big"})));
    assert_eq!(status, 200, "{group}");
    let (status, product) = emu.api("POST", "products", Some(json!({"name": "P", "code": "p"})));
    assert_eq!(status, 200, "{product}");
    let (status, body) = emu.api(
        "POST",
        &format!("{ACCOUNTS}/{}/addresource", group["id"].as_str().unwrap()),
        Some(json!({"targetType": "ITEM", "targetId": product["id"]})),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("is no account"), "{body}");
}

/// Groups with items against an emulator that fails a fifth of the
/// requests, committing some before failing: one apply converges (a lost
/// create is found in its type's collection, an add sent twice changes
/// nothing), a plan under faults has nothing to do, and a fault-free
/// restart on the same data holds each group once with its one item.
#[test]
fn groups_and_items_converge_under_faults() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("org.json");
    let data = data.to_str().expect("utf-8 path");
    let n = 12;
    let mut yaml = String::from("accounts:\n");
    for i in 0..n {
        yaml.push_str(&format!(
            "  - {{code: a{i}, name: A{i}, emailAddress: a{i}@example.com, currency: USD}}\n"
        ));
    }
    yaml.push_str("resourceGroups:\n");
    for i in 0..n {
        yaml.push_str(&format!(
            "  - {{type: account, name: G{i}, items: [account.a{i}]}}\n"
        ));
    }
    write_desired(dir.path(), &yaml);
    let emu = EmulatorProcess::start(&[
        "--strict",
        "--data",
        data,
        "--fault-rate",
        "0.2",
        "--fault-seed",
        "5",
        "--retry-after",
        "0",
    ]);
    let out = common::cli::m3ter(
        dir.path(),
        &emu,
        &[
            "apply",
            "--auto-approve",
            "--rate-limit",
            "0",
            "--parallelism",
            "8",
        ],
    );
    assert!(out.status.success(), "{}", common::cli::text(&out));
    let out = common::cli::m3ter(
        dir.path(),
        &emu,
        &["plan", "--detailed-exitcode", "--rate-limit", "0"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", common::cli::text(&out));
    // The premise: faults hit the writes (accounts, groups, adds), so some
    // were sent again.
    let writes = org_requests(&emu, |r| {
        r.starts_with("POST ") && !r.ends_with("/contents")
    });
    assert!(writes > 3 * n as u64, "only {writes} POSTs");
    drop(emu);

    let clean = EmulatorProcess::start(&["--strict", "--data", data]);
    let groups = clean.list_all(ACCOUNTS);
    let mut names: Vec<String> = groups
        .iter()
        .map(|g| g["name"].as_str().unwrap_or("").to_string())
        .collect();
    names.sort();
    let mut want: Vec<String> = (0..n).map(|i| format!("G{i}")).collect();
    want.sort();
    assert_eq!(names, want, "each group once");
    for i in 0..n {
        let account = id_of(&clean, "accounts", &format!("a{i}"));
        assert_eq!(
            members(&clean, &format!("G{i}")),
            vec![("ITEM".to_string(), account)],
            "G{i}"
        );
    }
}

/// `m3ter import ADDRESS ID` reads the group in the type its address
/// starts with.
#[test]
fn a_group_is_imported_by_id_from_its_type() {
    let emu = EmulatorProcess::start(&[]);
    let (status, made) = emu.api("POST", ACCOUNTS, Some(json!({"name": "Big"})));
    assert_eq!(status, 200, "{made}");
    let id = made["id"].as_str().expect("id");
    let dir = tempfile::tempdir().expect("tempdir");
    write_desired(dir.path(), &group("Big"));
    let out = common::cli::m3ter(
        dir.path(),
        &emu,
        &["import", "resourceGroup.account/Big", id],
    );
    assert!(out.status.success(), "{}", common::cli::text(&out));
    let (c, s) = plan(dir.path(), &emu, &[]);
    assert_eq!((c, s), (vec![], summary(0, 0, 0, 0)));
    // Not under another type: the org has no such group there.
    write_desired(
        dir.path(),
        "resourceGroups:\n  - {type: account, name: Big}\n  - {type: meter, name: Big}\n",
    );
    let out = common::cli::m3ter(
        dir.path(),
        &emu,
        &[
            "import",
            "--state",
            "state/other.json",
            "resourceGroup.meter/Big",
            id,
        ],
    );
    let text = common::cli::text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("no resourceGroup with id {id}")),
        "{text}"
    );
}
