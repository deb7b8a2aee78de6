"""CRUD of every config kind through the official SDK: fields, versions, lists, deletes."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, Callable

import m3ter
import pytest

from builders import DATA_FIELDS, DERIVED_FIELDS, KINDS, PRICING_BANDS, Setup, build_setup, resource
from conftest import is_uuid, unique

def wire(entity: Any) -> dict[str, Any]:
    """An SDK model as its camelCase JSON fields (independent of which response class parsed it)."""
    return entity.model_dump(by_alias=True, exclude_none=True)


def instant(value: Any) -> datetime:
    """A date-time field as an aware instant, whether the SDK parsed it or left a string."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    assert isinstance(value, str), f"expected a date-time, got {value!r}"
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def setup(client: m3ter.M3ter) -> Setup:
    return build_setup(client)


def test_create_returns_full_entities_at_version_1(setup: Setup) -> None:
    for kind in KINDS:
        entity = getattr(setup, kind)
        assert is_uuid(entity.id), f"{kind}: id {entity.id!r} is not a UUID"
        assert entity.version == 1, f"{kind}: version {entity.version}"
        assert entity.dt_created is not None, f"{kind}: dtCreated missing"
        assert entity.dt_last_modified is not None, f"{kind}: dtLastModified missing"
    ids = [getattr(setup, k).id for k in KINDS]
    assert len(set(ids)) == len(ids), "ids must be unique"


def test_create_echoes_request_fields(setup: Setup) -> None:
    s, tag = setup, setup.tag
    assert (s.product.code, s.product.name) == (f"prod_{tag}", f"Product {tag}")
    assert (s.counter.code, s.counter.unit, s.counter.product_id) == (f"seats_{tag}", "seats", s.product.id)

    assert s.meter.product_id == s.product.id
    assert [f.model_dump(by_alias=True, exclude_none=True) for f in s.meter.data_fields] == DATA_FIELDS
    assert [f.model_dump(by_alias=True, exclude_none=True) for f in s.meter.derived_fields] == DERIVED_FIELDS

    a = s.aggregation
    assert (a.meter_id, a.target_field, a.aggregation, a.rounding) == (s.meter.id, "requests", "SUM", "NONE")
    assert (a.quantity_per_unit, a.unit, a.code) == (1, "requests", f"agg_{tag}")

    # The SDK parses a compound aggregation's create response as an AggregationResponse (m3ter's spec
    # declares it so), which has no `product_id` attribute: read the wire fields instead.
    c = wire(s.compound_aggregation)
    assert (c["calculation"], c["productId"], c["rounding"], c["unit"]) == (f"agg_{tag} * 2", s.product.id, "UP", "units")

    t = s.plan_template
    assert (t.product_id, t.currency, t.standing_charge, t.bill_frequency) == (s.product.id, "USD", 10, "MONTHLY")

    assert (s.plan.plan_template_id, s.plan.code) == (s.plan_template.id, f"plan_{tag}")

    p = s.pricing
    assert (p.plan_id, p.aggregation_id, p.cumulative) == (s.plan.id, s.aggregation.id, True)
    assert p.plan_template_id is None and p.compound_aggregation_id is None
    assert instant(p.start_date) == datetime(2024, 1, 1, tzinfo=timezone.utc)
    bands = [(b.lower_limit, b.fixed_price, b.unit_price) for b in p.pricing_bands]
    assert bands == [(b["lowerLimit"], b["fixedPrice"], b["unitPrice"]) for b in PRICING_BANDS]

    acc = s.account
    assert (acc.code, acc.email_address) == (f"acct_{tag}", f"billing+{tag}@example.com")
    assert (acc.address.address_line1, acc.address.locality, acc.address.country) == ("1 Main St", "Springfield", "US")

    ct = s.contract
    assert (ct.account_id, ct.code, str(ct.start_date), str(ct.end_date)) == (
        s.account.id, f"contract_{tag}", "2030-01-01", "2031-01-01")
    cm = s.commitment
    assert (cm.account_id, cm.contract_id, cm.currency, cm.amount) == (s.account.id, s.contract.id, "USD", 1000)
    assert (cm.product_ids, cm.line_item_types) == ([s.product.id], ["USAGE"])
    b = s.balance
    assert (b.account_id, b.code, b.currency, b.contract_id) == (s.account.id, f"balance_{tag}", "USD", s.contract.id)
    ca = s.counter_adjustment
    assert (ca.account_id, ca.counter_id, str(ca.date), ca.value) == (s.account.id, s.counter.id, "2030-01-01", 5)
    w = s.webhook
    assert (w.code, w.url, w.credentials.type) == (f"hook_{tag}", f"https://example.com/hooks/{tag}", "M3TER_SIGNED_REQUEST")
    # Stored, never returned in plain text.
    assert (w.credentials.api_key, w.credentials.secret) == ("********", "********")
    ic = s.integration_configuration
    assert (ic.destination, ic.destination_id, ic.entity_type, ic.config_data) == (
        "Webhook", s.webhook.id, f"Bill{tag}", {"format": "json", "batch": {"size": 10}})
    # The response schema has no `credentials`: written, never returned.
    assert "credentials" not in ic.model_dump(by_alias=True, exclude_unset=True)
    se = s.scheduled_event_configuration
    assert (se.name, se.entity, se.field, se.offset) == (f"scheduled.bill.due_{tag}", "Bill", "dueDate", 10)
    n = s.notification_configuration
    assert (n.code, n.event_name, n.calculation, n.active) == (
        f"notify_{tag}", se.name, "new.billTotal > 100 AND new.locked == false", True)

    ap = s.account_plan
    assert (ap.account_id, ap.plan_id) == (s.account.id, s.plan.id)
    assert instant(ap.start_date) == datetime(2024, 12, 1, tzinfo=timezone.utc)
    assert ap.end_date is None


def test_response_only_fields_are_derived(setup: Setup) -> None:
    # productId on plans and account plans comes from the template / plan; aggregationType from the pricing's target.
    assert setup.plan.product_id == setup.product.id
    assert setup.account_plan.product_id == setup.product.id
    assert setup.pricing.aggregation_type == "SIMPLE"


@pytest.mark.parametrize("kind", KINDS)
def test_retrieve_returns_what_create_returned(client: m3ter.M3ter, setup: Setup, kind: str) -> None:
    created = getattr(setup, kind)
    fetched = resource(client, kind).retrieve(created.id)
    assert wire(fetched) == wire(created)


@pytest.mark.parametrize("kind", KINDS)
def test_list_filtered_by_ids(client: m3ter.M3ter, setup: Setup, kind: str) -> None:
    created = getattr(setup, kind)
    if kind == "counter_adjustment":
        # Counter adjustments document no `ids` filter: their account and counter narrow to it.
        page = resource(client, kind).list(account_id=created.account_id, counter_id=created.counter_id)
    elif kind == "integration_configuration":
        # Nor do integration configurations: their destination (the setup's webhook) narrows to it.
        page = resource(client, kind).list(destination_id=created.destination_id)
    elif kind == "external_mapping":
        # Nor do external mappings: the mapped entity's id narrows to it.
        page = resource(client, kind).list(m3ter_ids=[created.m3ter_id])
    elif kind in ("permission_policy", "resource_group"):
        # Permission policies and resource groups document no filter at all: the setup's is among
        # them (its type's, for a group), once.
        ids = [e.id for e in resource(client, kind).list()]
        assert ids.count(created.id) == 1, ids
        return
    else:
        page = resource(client, kind).list(ids=[created.id])
    assert [e.id for e in page.data] == [created.id]
    assert not page.next_token


# Per kind: a complete PUT body (the SDK sends exactly what it is given), what to observe on the
# result, and what it must be.
UpdateCase = tuple[dict[str, Any], Callable[[Any], Any], Any]


def _update_cases(s: Setup) -> dict[str, UpdateCase]:
    return {
        "product": (
            dict(code=s.product.code, name="Renamed product", custom_fields={"tier": "gold", "weight": 3}),
            lambda e: (e.name, e.custom_fields),
            ("Renamed product", {"tier": "gold", "weight": 3}),
        ),
        "counter": (
            # Without `product_id`: a full PUT that leaves it out makes the counter global.
            dict(code=s.counter.code, name="Renamed seats", unit="users"),
            lambda e: (e.name, e.unit, e.product_id),
            ("Renamed seats", "users", None),
        ),
        "meter": (
            dict(
                code=s.meter.code,
                name="Renamed meter",
                product_id=s.product.id,
                data_fields=DATA_FIELDS,
                derived_fields=[],
            ),
            lambda e: (e.name, e.derived_fields),
            ("Renamed meter", []),
        ),
        "aggregation": (
            dict(
                code=s.aggregation.code,
                name=s.aggregation.name,
                meter_id=s.meter.id,
                target_field="requests",
                aggregation="MAX",
                rounding="UP",
                quantity_per_unit=10,
                unit="requests",
            ),
            lambda e: (e.aggregation, e.rounding, e.quantity_per_unit),
            ("MAX", "UP", 10),
        ),
        "compound_aggregation": (
            dict(
                code=s.compound_aggregation.code,
                name=s.compound_aggregation.name,
                product_id=s.product.id,
                calculation=s.compound_aggregation.calculation,
                rounding="DOWN",
                quantity_per_unit=2,
                unit="pairs",
            ),
            lambda e: (e.rounding, e.quantity_per_unit, e.unit),
            ("DOWN", 2, "pairs"),
        ),
        "plan_template": (
            dict(
                code=s.plan_template.code,
                name=s.plan_template.name,
                product_id=s.product.id,
                currency="EUR",
                standing_charge=20,
                bill_frequency="MONTHLY",
                bill_frequency_interval=3,
            ),
            lambda e: (e.currency, e.standing_charge, e.bill_frequency_interval),
            ("EUR", 20, 3),
        ),
        "plan": (
            dict(
                code=s.plan.code,
                name=s.plan.name,
                plan_template_id=s.plan_template.id,
                standing_charge=5,
                minimum_spend=100,
            ),
            lambda e: (e.standing_charge, e.minimum_spend, e.product_id),
            (5, 100, s.product.id),
        ),
        "pricing": (
            dict(
                plan_id=s.plan.id,
                aggregation_id=s.aggregation.id,
                start_date="2024-01-01T00:00:00Z",
                cumulative=True,
                pricing_bands=[{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 0.25}],
                description="cheaper",
            ),
            lambda e: ([(b.lower_limit, b.fixed_price, b.unit_price) for b in e.pricing_bands], e.description),
            ([(0, 0, 0.25)], "cheaper"),
        ),
        "currency": (
            dict(code=s.currency.code, name="Renamed currency", max_decimal_places=0, archived=True),
            lambda e: (e.name, e.max_decimal_places, e.rounding_mode, e.archived),
            # A full PUT that leaves `roundingMode` out clears it.
            ("Renamed currency", 0, None, True),
        ),
        "transaction_type": (
            dict(code=s.transaction_type.code, name="Renamed type", archived=True),
            lambda e: (e.name, e.archived),
            ("Renamed type", True),
        ),
        "credit_reason": (
            dict(code=s.credit_reason.code, name="Renamed credit reason"),
            lambda e: (e.name, e.archived),
            ("Renamed credit reason", None),
        ),
        "debit_reason": (
            dict(code=s.debit_reason.code, name="Renamed debit reason", archived=False),
            lambda e: (e.name, e.archived),
            ("Renamed debit reason", False),
        ),
        "counter_pricing": (
            dict(
                plan_id=s.plan.id,
                counter_id=s.counter.id,
                start_date="2024-01-01T00:00:00Z",
                pricing_bands=[{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 4}],
                running_total_bill_in_advance=True,
                description="cheaper seats",
            ),
            lambda e: (
                [(b.lower_limit, b.unit_price) for b in e.pricing_bands],
                e.running_total_bill_in_advance,
                e.pro_rate_running_total,
                e.description,
            ),
            # `proRateRunningTotal` is left out of the PUT: a full replacement clears it.
            ([(0, 4)], True, None, "cheaper seats"),
        ),
        "plan_group": (
            dict(
                code=s.plan_group.code,
                name="Renamed group",
                # EUR like the updated plan template's, so the link's update below stays valid.
                currency="EUR",
                minimum_spend=250,
                minimum_spend_description="at least",
            ),
            lambda e: (e.name, e.currency, e.minimum_spend, e.minimum_spend_description, e.standing_charge),
            ("Renamed group", "EUR", 250, "at least", None),
        ),
        "plan_group_link": (
            # A link holds nothing but its two ends: the PUT sends them again.
            dict(plan_group_id=s.plan_group.id, plan_id=s.plan.id),
            lambda e: (e.plan_group_id, e.plan_id),
            (s.plan_group.id, s.plan.id),
        ),
        "account": (
            dict(
                code=s.account.code,
                name=s.account.name,
                email_address="new-address@example.com",
                days_before_bill_due=14,
            ),
            # `address` is left out of the PUT: a full replacement resets it.
            lambda e: (e.email_address, e.days_before_bill_due, e.address),
            ("new-address@example.com", 14, None),
        ),
        "account_plan": (
            dict(
                account_id=s.account.id,
                plan_id=s.plan.id,
                start_date="2024-12-01T00:00:00Z",
                end_date="2030-01-01T00:00:00Z",
            ),
            lambda e: instant(e.end_date),
            datetime(2030, 1, 1, tzinfo=timezone.utc),
        ),
        "contract": (
            dict(
                account_id=s.account.id,
                code=s.contract.code,
                name="Renamed contract",
                start_date="2030-01-01",
                end_date="2032-01-01",
                purchase_order_number="PO-7",
            ),
            lambda e: (e.name, str(e.end_date), e.purchase_order_number),
            ("Renamed contract", "2032-01-01", "PO-7"),
        ),
        "commitment": (
            # Without `contract_id` and `product_ids`: a full PUT that leaves them out clears them.
            dict(
                account_id=s.account.id,
                currency="USD",
                amount=2500,
                start_date="2030-01-01",
                end_date="2031-01-01",
                overage_surcharge_percent=10,
            ),
            lambda e: (e.amount, e.overage_surcharge_percent, e.contract_id, e.product_ids, e.amount_spent),
            (2500, 10, None, None, 0),
        ),
        "balance": (
            dict(
                account_id=s.account.id,
                code=s.balance.code,
                name="Renamed balance",
                currency="USD",
                start_date="2030-01-01T00:00:00Z",
                end_date="2031-01-01T00:00:00Z",
                rollover_amount=50,
                rollover_end_date="2031-06-01T00:00:00Z",
            ),
            lambda e: (e.name, e.rollover_amount, instant(e.rollover_end_date), e.contract_id, e.amount),
            ("Renamed balance", 50, datetime(2031, 6, 1, tzinfo=timezone.utc), None, 0),
        ),
        "counter_adjustment": (
            dict(
                account_id=s.account.id,
                counter_id=s.counter.id,
                date="2030-01-01",
                value=12,
                purchase_order_number="PO-9",
            ),
            lambda e: (e.value, e.purchase_order_number),
            (12, "PO-9"),
        ),
        "webhook": (
            # Every PUT carries the credentials again: the API never returns them.
            dict(
                code=s.webhook.code,
                name="Renamed hook",
                description="Events of the suite",
                url="https://example.com/hooks/renamed",
                credentials={"type": "M3TER_SIGNED_REQUEST", "api_key": "key-2", "secret": "secret-2"},
                active=False,
            ),
            lambda e: (e.name, e.url, e.active, e.credentials.api_key, e.credentials.secret),
            ("Renamed hook", "https://example.com/hooks/renamed", False, "********", "********"),
        ),
        "integration_configuration": (
            # Without `destination_id`: a full PUT that leaves it out clears it.
            dict(
                destination="Webhook",
                entity_type=s.integration_configuration.entity_type,
                name="Renamed integration",
                config_data={"format": "csv"},
                credentials={"type": "M3TER_SIGNED_REQUEST", "name": "Rotated"},
            ),
            # The SDK reads the update's answer as an integration run: observe the wire fields.
            lambda e: tuple(e.to_dict().get(k) for k in ("name", "configData", "destinationId", "credentials")),
            ("Renamed integration", {"format": "csv"}, None, None),
        ),
        "scheduled_event_configuration": (
            dict(name=s.scheduled_event_configuration.name, entity="Bill", field="endDate", offset=-2),
            lambda e: (e.name, e.entity, e.field, e.offset),
            (s.scheduled_event_configuration.name, "Bill", "endDate", -2),
        ),
        "notification_configuration": (
            dict(
                code=s.notification_configuration.code,
                name="Renamed notification",
                description="Ten days past due",
                event_name="configuration.commitment.updated",
                calculation="new.amountSpent >= new.amount * 0.9 AND old.amountSpent < old.amount * 0.9",
                active=False,
                always_fire_event=False,
            ),
            lambda e: (e.name, e.event_name, e.active, e.always_fire_event),
            ("Renamed notification", "configuration.commitment.updated", False, False),
        ),
        "external_mapping": (
            dict(
                m3ter_entity="Account",
                m3ter_id=s.account.id,
                external_system="Stripe",
                external_table="Customer",
                external_id=f"cus_renamed_{s.tag}",
            ),
            lambda e: (e.m3ter_entity, e.m3ter_id, e.external_id),
            ("Account", s.account.id, f"cus_renamed_{s.tag}"),
        ),
        "resource_group": (
            dict(name=f"Renamed group {s.tag}"),
            lambda e: e.name,
            f"Renamed group {s.tag}",
        ),
        "permission_policy": (
            dict(
                name=f"Writers {s.tag}",
                permission_policy=[
                    {"effect": "DENY", "action": ["CONFIG_DELETE", "CONFIG_UPDATE"], "resource": ["config:*"]}
                ],
            ),
            lambda e: (e.name, [(p.effect, p.action, p.resource) for p in e.permission_policy]),
            (f"Writers {s.tag}", [("DENY", ["CONFIG_DELETE", "CONFIG_UPDATE"], ["config:*"])]),
        ),
    }


@pytest.mark.parametrize("kind", KINDS)
def test_update_is_a_full_put_that_bumps_version(client: m3ter.M3ter, setup: Setup, kind: str) -> None:
    body, observe, expected = _update_cases(setup)[kind]
    created = getattr(setup, kind)
    updated = resource(client, kind).update(created.id, version=created.version, **body)
    assert updated.id == created.id
    assert updated.version == created.version + 1
    assert observe(updated) == expected
    fetched = resource(client, kind).retrieve(created.id)
    assert fetched.version == created.version + 1
    assert observe(fetched) == expected
    # Later tests in this module see the stored version.
    setattr(setup, kind, fetched)


def test_resource_group_items_are_added_listed_and_removed(client: m3ter.M3ter, setup: Setup) -> None:
    groups = client.resource_groups
    contents = lambda g: sorted((i.target_type, i.target_id) for i in groups.list_contents(g.id, type="account"))
    # The setup's group holds its account.
    assert contents(setup.resource_group) == [("ITEM", setup.account.id)]
    outer = groups.create("account", name=f"Outer {setup.tag}")
    groups.add_resource(outer.id, type="account", target_id=setup.account.id, target_type="ITEM")
    groups.add_resource(outer.id, type="account", target_id=setup.resource_group.id, target_type="GROUP")
    want = sorted([("ITEM", setup.account.id), ("GROUP", setup.resource_group.id)])
    assert contents(outer) == want
    # Pages of one follow nextToken to the same members.
    paged = groups.list_contents(outer.id, type="account", page_size=1)
    assert len(paged.data) == 1 and paged.next_token
    assert sorted((i.target_type, i.target_id) for i in paged) == want
    # A PUT renames the group and keeps its items; the version is the group's own.
    renamed = groups.update(outer.id, type="account", name=f"Renamed outer {setup.tag}", version=outer.version)
    assert (renamed.version, contents(outer)) == (outer.version + 1, want)
    # An item of another kind, a group of another type, an unknown type: refused.
    with pytest.raises(m3ter.BadRequestError):
        groups.add_resource(outer.id, type="account", target_id=setup.product.id, target_type="ITEM")
    meters = groups.create("meter", name=f"Meters {setup.tag}")
    with pytest.raises(m3ter.BadRequestError):
        groups.add_resource(outer.id, type="account", target_id=meters.id, target_type="GROUP")
    with pytest.raises(m3ter.NotFoundError):
        groups.retrieve(outer.id, type="meter")
    # Removed once; a second time it is not a member.
    groups.remove_resource(outer.id, type="account", target_id=setup.account.id, target_type="ITEM")
    assert contents(outer) == [("GROUP", setup.resource_group.id)]
    with pytest.raises(m3ter.NotFoundError):
        groups.remove_resource(outer.id, type="account", target_id=setup.account.id, target_type="ITEM")
    groups.delete(outer.id, type="account")
    groups.delete(meters.id, type="meter")


def test_deletes_return_the_entity_then_404(client: m3ter.M3ter, setup: Setup) -> None:
    for kind in reversed(KINDS):
        entity = getattr(setup, kind)
        deleted = resource(client, kind).delete(entity.id)
        assert deleted.id == entity.id, f"{kind}: DELETE must return the deleted entity"
        assert deleted.version == entity.version
        with pytest.raises(m3ter.NotFoundError) as err:
            resource(client, kind).retrieve(entity.id)
        assert err.value.status_code == 404


# --- versions and optimistic locking ---------------------------------------------------------


def test_version_sent_on_create_is_ignored(client: m3ter.M3ter) -> None:
    p = client.products.create(code=unique("ver"), name="Version ignored", version=7)
    assert p.version == 1


def test_stale_version_is_409_and_changes_nothing(client: m3ter.M3ter) -> None:
    code = unique("stale")
    p = client.products.create(code=code, name="v1")
    p2 = client.products.update(p.id, code=code, name="v2", version=1)
    assert p2.version == 2
    with pytest.raises(m3ter.ConflictError) as err:
        client.products.update(p.id, code=code, name="lost update", version=1)
    assert err.value.status_code == 409
    assert isinstance(err.value.body, dict) and err.value.body.get("message"), err.value.body
    after = client.products.retrieve(p.id)
    assert (after.name, after.version) == ("v2", 2)


def test_future_version_is_409(client: m3ter.M3ter) -> None:
    code = unique("future")
    p = client.products.create(code=code, name="v1")
    with pytest.raises(m3ter.ConflictError) as err:
        client.products.update(p.id, code=code, name="v?", version=5)
    assert err.value.status_code == 409


def test_missing_version_on_put_is_409(client: m3ter.M3ter) -> None:
    code = unique("nover")
    p = client.products.create(code=code, name="v1")
    with pytest.raises(m3ter.ConflictError) as err:
        client.products.update(p.id, code=code, name="no version")
    assert err.value.status_code == 409
    assert client.products.retrieve(p.id).name == "v1"


def test_put_without_custom_fields_clears_them(client: m3ter.M3ter) -> None:
    code = unique("cf")
    p = client.products.create(code=code, name="cf", custom_fields={"a": "x"})
    assert p.custom_fields == {"a": "x"}
    p2 = client.products.update(p.id, code=code, name="cf", version=1)
    assert not p2.custom_fields, f"customFields should be reset by a full PUT, got {p2.custom_fields!r}"


# --- not found -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_retrieve_unknown_id_is_404(client: m3ter.M3ter, kind: str) -> None:
    with pytest.raises(m3ter.NotFoundError) as err:
        resource(client, kind).retrieve(str(uuid.uuid4()))
    assert err.value.status_code == 404
    assert isinstance(err.value.body, dict) and err.value.body.get("message"), err.value.body


def test_update_and_delete_unknown_id_are_404(client: m3ter.M3ter) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(m3ter.NotFoundError):
        client.products.update(missing, code=unique("nf"), name="x", version=1)
    with pytest.raises(m3ter.NotFoundError):
        client.products.delete(missing)


# --- deleting referenced entities ------------------------------------------------------------


def test_delete_refuses_to_orphan_dependents(client: m3ter.M3ter) -> None:
    s = build_setup(client)
    cases = [
        ("product", s.product, s.meter),  # the product still has a meter (and more)
        ("meter", s.meter, s.aggregation),
        ("plan", s.plan, s.pricing),
        ("account", s.account, s.account_plan),
        ("contract", s.contract, s.commitment),
        ("counter", s.counter, s.counter_adjustment),
    ]
    for kind, target, dependent in cases:
        with pytest.raises(m3ter.BadRequestError) as err:
            resource(client, kind).delete(target.id)
        message = str(err.value.body.get("message") if isinstance(err.value.body, dict) else err.value)
        assert err.value.status_code == 400
        # "naming a dependent": some dependent's id or code must be in the message.
        named = [
            d
            for d in (getattr(s, k) for k in KINDS)
            if d is not target and d.id in message or (getattr(d, "code", None) and d.code in message)
        ]
        assert named, f"deleting a referenced {kind}: message names no dependent: {message!r}"
        # Still there.
        assert resource(client, kind).retrieve(target.id).id == target.id
    s.delete_all(client)
    with pytest.raises(m3ter.NotFoundError):
        client.products.retrieve(s.product.id)
