"""The "done when" of issues 10 and 11, driven by a client we did not write.

An org populated by the official SDK with one entity of every kind the tool manages (`builders.KINDS`,
so each kind added to the builders joins this test), exported with `m3ter export`, plans into a new
state as imports only. After the import, one changed name per kind is exactly one update per kind (a
permission policy, a resource group or a scheduled event configuration, keyed by its name, is renamed
with a `moved:` entry, as a code change is; the notification on the scheduled event follows its new
name), and
`destroy` removes every entity the tool manages but the singletons and what they reference (the org
config's currency), which it forgets and says so.

Secrets (webhook credentials) come back from the API masked, so the export writes `${env.NAME}`
placeholders and names the variables; with them set to any value, the plan is still imports only
(adoption takes the desired secret as the live one).

The tool runs as a real subprocess (the binary under test) against its own emulator process, so the
org holds only what this test created.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any, Iterator

import m3ter
import pytest

from builders import KINDS, Setup, build_setup, resource
from conftest import API_KEY, API_SECRET, ORG_ID, Emulator, emulator_binary, stop_and_check

# A top-level `name:` of an entity in an exported list (`- name: X`, or `  name: X` under `- code: x`),
# not a nested one (a meter's data field is indented further).
_NAME_LINE = re.compile(r"^(- |  )name: (.+)$", re.MULTILINE)
# A permission policy and a resource group have no code: the name is the key, so a rename says where
# the entity moved (README "Renaming an entity"), and stays one update of the same id.
MOVED_BY_NAME = {"permissionPolicies": "permissionPolicy", "resourceGroups": "resourceGroup"}
# A scheduled event configuration is keyed by its name too, which is also an event type: the new name
# keeps the form `scheduled.<entity>.<event>`, and the notifications on it name it in `eventName`.
SCHEDULED = "scheduledEventConfigurations"
_SCHEDULED_NAME = re.compile(r"^- name: (scheduled\.[A-Za-z0-9_.]+)$", re.MULTILINE)
# An exported secret's placeholder.
_PLACEHOLDER = re.compile(r"\$\{env\.([A-Z0-9_]+)\}")

# The environment variables the export's placeholders name, set for every later run.
SECRET_ENV: dict[str, str] = {}


# The singletons, written once by the SDK: they exist in every org, so they export and import too.
SINGLETONS = {
    "organizationConfig": lambda c: c.organization_config.update(
        currency="USD",
        day_epoch="2024-01-01",
        days_before_bill_due=30,
        month_epoch="2024-01-01",
        timezone="UTC",
        week_epoch="2024-01-01",
        year_epoch="2024-01-01",
    ),
    "customFields": lambda c: c.custom_fields.update(account={"tier": "silver"}),
    "billConfig": lambda c: c.bill_config.update(bill_lock_date="2024-03-01"),
}


@pytest.fixture(scope="module")
def org() -> Iterator[tuple[Emulator, m3ter.M3ter, Setup]]:
    """A fresh emulator holding one full setup and the singletons, written by the SDK."""
    emu = Emulator()
    client = emu.client()
    setup = build_setup(client)
    for write in SINGLETONS.values():
        write(client)
    yield emu, client, setup
    stop_and_check(emu)


def run(emu: Emulator, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`m3ter ARGS` in `cwd`, connected to `emu` through the environment (as a CI job would be)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("M3TER_")}
    env.update(
        M3TER_ORG_ID=ORG_ID,
        M3TER_API_KEY=API_KEY,
        M3TER_API_SECRET=API_SECRET,
        M3TER_BASE_URL=emu.base_url,
        NO_COLOR="1",
    )
    env.update(SECRET_ENV)
    return subprocess.run(
        [str(emulator_binary()), *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def plan_json(emu: Emulator, cwd: Path, *args: str) -> dict[str, Any]:
    """`m3ter plan --json ARGS`: exit 0 (no changes) or 2 is not asked for, so 0 always."""
    out = run(emu, cwd, "plan", "--json", "--rate-limit", "0", *args)
    assert out.returncode == 0, f"plan failed ({out.returncode}):\n{out.stdout}\n{out.stderr}"
    return json.loads(out.stdout)


def actions(plan: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((c["address"], c["action"]) for c in plan["changes"])


def managed(client: m3ter.M3ter) -> dict[str, list[str]]:
    """Ids of every entity of every deletable kind in the org."""
    return {kind: [e.id for e in resource(client, kind).list()] for kind in KINDS}


def test_an_sdk_populated_org_exports_imports_renames_and_destroys(
    org: tuple[Emulator, m3ter.M3ter, Setup], tmp_path: Path
) -> None:
    emu, client, setup = org
    before = managed(client)
    entities = sum(len(ids) for ids in before.values())
    # One of each kind, and the shared currencies the setup's templates bill in.
    assert all(before.values()), f"every kind should be in the org: {before}"

    out = run(emu, tmp_path, "export", "--out", "exported")
    assert out.returncode == 0, f"export failed:\n{out.stdout}\n{out.stderr}"
    files = sorted((tmp_path / "exported").glob("*.yaml"))
    assert files, "export wrote no file"
    assert {f.stem for f in files} >= set(SINGLETONS), [f.name for f in files]

    # Secrets are placeholders, listed in the file and on stderr; set them to anything.
    hooks = (tmp_path / "exported" / "webhooks.yaml").read_text()
    names = _PLACEHOLDER.findall(hooks)
    assert len(names) == 2 * len(before["webhook"]), hooks
    assert "********" not in hooks and setup.webhook.code in hooks, hooks
    for name in names:
        assert f"#   {name}" in hooks and name in out.stderr, (name, out.stderr)
        SECRET_ENV[name] = f"value-of-{name.lower()}"

    # A new state: every entity is an import, nothing else.
    fresh = ["-d", "exported", "--state", "state/fresh.json"]
    plan = plan_json(emu, tmp_path, *fresh)
    summary = plan["summary"]
    assert (summary["add"], summary["change"], summary["destroy"]) == (0, 0, 0), actions(plan)
    assert summary["import"] == entities + len(SINGLETONS), actions(plan)
    assert {a for _, a in actions(plan)} == {"import"}, actions(plan)
    assert {addr for addr, _ in actions(plan)} >= set(SINGLETONS), "a singleton's address is its bare kind"

    imported = [address for address, _ in actions(plan)]
    out = run(emu, tmp_path, "apply", "--auto-approve", "--rate-limit", "0", *fresh)
    assert out.returncode == 0, f"apply of the imports failed:\n{out.stdout}\n{out.stderr}"
    assert plan_json(emu, tmp_path, *fresh)["changes"] == []
    assert managed(client) == before, "importing must not create, replace or delete anything"

    # One changed name per exported file that has names: one update per kind, nothing else.
    renamed_kinds = set()
    moved: list[dict[str, str]] = []
    for path in files:
        text = path.read_text()
        if path.stem == SCHEDULED:
            first = _SCHEDULED_NAME.search(text)
            assert first is not None, text
            name = first.group(1)
            moved.append({"from": f"scheduledEventConfiguration.{name}", "to": f"scheduledEventConfiguration.{name}_renamed"})
            path.write_text(text.replace(name, name + "_renamed"))
            notifications = path.with_name("notificationConfigurations.yaml")
            notifications.write_text(notifications.read_text().replace(f"eventName: {name}\n", f"eventName: {name}_renamed\n"))
            renamed_kinds.add(path.stem)
            continue
        first = _NAME_LINE.search(text)
        if first is None:
            continue
        text = text[: first.end(2)] + " (renamed)" + text[first.end(2) :]
        path.write_text(text)
        renamed_kinds.add(path.stem)
        if path.stem in MOVED_BY_NAME:
            # The address holds the name (`permissionPolicy["Readers x"]`, `resourceGroup["account/Group x"]`).
            name = first.group(2).strip().strip("'\"")
            kind = MOVED_BY_NAME[path.stem]
            old = next(a for a in imported if a.startswith(kind) and name in a)
            moved.append({"from": old, "to": old.replace(name, name + " (renamed)")})
    assert renamed_kinds, "no exported file had a name to change"
    assert len(moved) == len(MOVED_BY_NAME) + 1, moved
    # JSON is YAML: one `moved:` file, beside the exported ones.
    (tmp_path / "exported" / "moved.yaml").write_text(json.dumps({"moved": moved}))
    plan = plan_json(emu, tmp_path, *fresh)
    changes = actions(plan)
    assert all(action == "update" for _, action in changes), changes
    updated_kinds = [address.split(".", 1)[0] for address, _ in changes]
    assert len(updated_kinds) == len(set(updated_kinds)) == len(renamed_kinds), (changes, renamed_kinds)

    # Every kind changes at once: past the tool's mass-change guard, hence --force.
    out = run(emu, tmp_path, "apply", "--auto-approve", "--force", "--rate-limit", "0", *fresh)
    assert out.returncode == 0, f"apply of the renames failed:\n{out.stdout}\n{out.stderr}"
    renamed = [
        getattr(e, "name", "")
        for kind in KINDS
        for e in resource(client, kind).list()
        if str(getattr(e, "name", "")).endswith((" (renamed)", "_renamed"))
    ]
    assert len(renamed) == len(renamed_kinds), renamed

    # Destroy removes every entity the tool manages, dependents first, and leaves the singletons.
    out = run(emu, tmp_path, "destroy", "--auto-approve", "--rate-limit", "0", *fresh)
    assert out.returncode == 0, f"destroy failed:\n{out.stdout}\n{out.stderr}"
    # All but the currency the org config names: singletons stay, so what they reference stays too
    # (the server refuses to delete it), forgotten like them.
    usd = [c.id for c in client.currencies.list() if c.code == "USD"]
    assert managed(client) == {kind: (usd if kind == "currency" else []) for kind in KINDS}
    assert "currency.USD: forgotten (left in place: a singleton, which stays in the org, references it)" in out.stdout, out.stdout
    for name in SINGLETONS:
        assert f"{name}: forgotten (left in place" in out.stdout, out.stdout
    assert client.organization_config.retrieve().timezone == "UTC"
