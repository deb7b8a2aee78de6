"""Events and notification rules through the SDK: the event types and fields the emulator serves
(`client.events.get_types`/`get_fields`), and the shared rules that check a notification's event
and calculation and a scheduled event's entity and field."""

from __future__ import annotations

import m3ter

from assertions import expect_400
from conftest import unique


def test_types_and_fields_parse_in_the_sdk(client: m3ter.M3ter) -> None:
    types = client.events.get_types().events or []
    assert "configuration.commitment.updated" in types and "ingest.validation.failure" in types
    fields = client.events.get_fields(event_name="configuration.commitment.updated").events or {}
    commitment = fields["configuration.commitment.updated"]
    assert (commitment["new.amount"], commitment["old.amountSpent"]) == ("double", "double")
    assert commitment["new.customFields"] == "map"


def test_a_scheduled_event_becomes_an_event_type_with_its_entitys_fields(client: m3ter.M3ter) -> None:
    name = f"scheduled.bill.{unique('due')}"
    made = client.scheduled_event_configurations.create(name=name, entity="Bill", field="dueDate", offset=3)
    assert name in (client.events.get_types().events or [])
    fields = (client.events.get_fields(event_name=name).events or {})[name]
    assert fields["new.dueDate"] == "string" and not any(f.startswith("old.") for f in fields)
    n = client.notification_configurations.create(
        code=unique("n"), name="Due", description="Due soon", event_name=name, calculation="new.billTotal > 0"
    )
    assert [e.id for e in client.notification_configurations.list(event_name=name).data] == [n.id]
    # `active`: absent counts as false.
    assert n.id in [e.id for e in client.notification_configurations.list(active=False, page_size=100).data]
    client.notification_configurations.update(
        n.id, code=n.code, name="Due", description="Due soon", event_name=name, active=True, version=n.version
    )
    assert n.id in [e.id for e in client.notification_configurations.list(active=True, page_size=100).data]
    assert n.id not in [e.id for e in client.notification_configurations.list(active=False, page_size=100).data]
    client.notification_configurations.delete(n.id)
    client.scheduled_event_configurations.delete(made.id)


def test_bad_calculations_and_events_are_400s_that_name_the_problem(client: m3ter.M3ter) -> None:
    def notify(event: str, calculation: str) -> object:
        return client.notification_configurations.create(
            code=unique("n"), name="N", description="D", event_name=event, calculation=calculation
        )

    event = "configuration.commitment.updated"
    expect_400(lambda: notify(event, "new.amountSpnt > 1"), "(did you mean `new.amountSpent`?)")
    expect_400(lambda: notify(event, "new.amount >"), "`calculation` does not parse")
    expect_400(lambda: notify(event, "new.amount * 2"), "evaluates to a number")
    expect_400(lambda: notify("configuration.comitment.updated", "true"), "(did you mean `configuration.commitment.updated`?)")
    expect_400(
        lambda: client.scheduled_event_configurations.create(
            name="scheduled.bill.x", entity="Bill", field="accountCode", offset=1
        ),
        "`field` \"accountCode\" is not a date field of Bill",
    )
    assert not [n for n in client.notification_configurations.list().data if n.name == "N"]
