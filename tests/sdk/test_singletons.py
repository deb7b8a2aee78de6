"""The three singletons (customFields, organizationConfig, billConfig) through the official SDK.

A singleton is one entity per org on its collection path: GET reads it, PUT replaces it whole and
bumps its version (optimistic locking as for any update). There is no list, create, id path or
delete. The emulator's org has never written them: GET answers 404 until the first PUT, which needs
no version. Each test module gets its own emulator: org-level custom fields, once written, govern
the entity-level custom fields of every later create, which the shared emulator must not see.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import m3ter
import pytest

from conftest import Emulator, stop_and_check, unique

ORG_CONFIG = dict(
    currency="GBP",
    day_epoch="2024-01-01",
    days_before_bill_due=30,
    month_epoch="2024-01-01",
    timezone="Europe/London",
    week_epoch="2024-01-01",
    year_epoch="2024-01-01",
)


@pytest.fixture(scope="module")
def own() -> Iterator[Emulator]:
    emu = Emulator()
    yield emu
    stop_and_check(emu)


@pytest.fixture(scope="module")
def sdk(own: Emulator) -> m3ter.M3ter:
    return own.client()


def _cases(sdk: m3ter.M3ter) -> dict[str, tuple[Any, dict[str, Any], dict[str, Any], Callable[[Any], Any]]]:
    """Per singleton: its SDK resource, a first body, a second body, and what to observe."""
    return {
        "organizationConfig": (
            sdk.organization_config,
            ORG_CONFIG,
            {**ORG_CONFIG, "timezone": "UTC", "bill_prefix": "INV-"},
            lambda e: (e.timezone, e.currency, e.bill_prefix),
        ),
        "billConfig": (
            sdk.bill_config,
            dict(bill_lock_date="2024-03-01"),
            dict(bill_lock_date="2024-06-01"),
            lambda e: str(e.bill_lock_date),
        ),
        "customFields": (
            sdk.custom_fields,
            dict(account={"tier": "silver"}),
            dict(account={"tier": "silver", "region": "eu"}, product={"team": "core"}),
            lambda e: (e.account, e.product),
        ),
    }


@pytest.mark.parametrize("kind", ["organizationConfig", "billConfig", "customFields"])
def test_get_put_bumps_the_version_of_the_one_entity(sdk: m3ter.M3ter, kind: str) -> None:
    res, first_body, second_body, observe = _cases(sdk)[kind]
    # Never written: 404, and the first PUT needs no version.
    with pytest.raises(m3ter.NotFoundError):
        res.retrieve()
    first = res.update(**first_body)
    assert first.version == 1
    second = res.update(**second_body, version=first.version)
    assert second.id == first.id, f"{kind}: a PUT replaces the one entity, it makes no other"
    assert second.version == 2
    fetched = res.retrieve()
    assert (fetched.id, fetched.version) == (first.id, 2)
    assert observe(fetched) == observe(second)
    # A stale version is refused and changes nothing.
    with pytest.raises(m3ter.ConflictError):
        res.update(**first_body, version=1)
    assert res.retrieve().version == 2


def test_a_put_replaces_the_whole_entity(sdk: m3ter.M3ter) -> None:
    current = sdk.organization_config.retrieve()
    body = {**ORG_CONFIG, "consolidate_bills": True}
    updated = sdk.organization_config.update(**body, version=current.version)
    # Left out of the PUT: gone, as for every full replacement.
    assert updated.bill_prefix is None
    assert updated.consolidate_bills is True


def test_required_fields_and_limits_are_checked(own: Emulator) -> None:
    with own.http() as http:
        r = http.put("/organizationconfig", json={"timezone": "UTC", "version": 99})
        assert r.status_code in (400, 409), r.text
        current = http.get("/organizationconfig").json()
        r = http.put(
            "/organizationconfig",
            json={"timezone": "UTC", "currency": "GBP", "version": current["version"]},
        )
        assert r.status_code == 400, r.text
        assert "dayEpoch" in r.json()["message"]
        r = http.put("/billconfig", json={"billLockDate": "soon", "version": 2})
        assert r.status_code == 400, r.text


def test_singletons_have_no_list_create_id_or_delete(own: Emulator) -> None:
    with own.http() as http:
        cf = http.get("/customfields").json()
        assert http.post("/customfields", json={}).status_code == 405
        assert http.delete("/customfields").status_code == 405
        assert http.get(f"/customfields/{cf['id']}").status_code == 404


def test_entity_custom_fields_need_the_org_level_default(sdk: m3ter.M3ter) -> None:
    # Org-level account fields are `tier` and `region` (written above).
    ok = sdk.accounts.create(
        code=unique("cf"), name="Declared", email_address="a@example.com", custom_fields={"tier": "gold"}
    )
    assert ok.custom_fields == {"tier": "gold"}
    with pytest.raises(m3ter.BadRequestError) as err:
        sdk.accounts.create(
            code=unique("cf"), name="Undeclared", email_address="a@example.com", custom_fields={"colour": "red"}
        )
    assert "colour" in str(err.value) and "customFields.account" in str(err.value)
    # A product field declared at org level (`team`, written above) is accepted.
    product = sdk.products.create(code=unique("cf"), name="P", custom_fields={"team": "core"})
    assert product.custom_fields == {"team": "core"}
