"""The emulator in `--strict` mode: the official SDK sends no junk, and junk is named in a 400.

Strict mode rejects unknown and response-only request fields. Running the SDK's full create/update
path against it proves that everything the SDK puts on the wire is part of the request schema.
"""

from __future__ import annotations

from typing import Iterator

import m3ter
import pytest

from builders import DATA_FIELDS, Setup, build_setup
from conftest import Emulator, stop_and_check, unique


@pytest.fixture(scope="module")
def strict() -> Iterator[Emulator]:
    emu = Emulator("--strict")
    yield emu
    stop_and_check(emu)


@pytest.fixture(scope="module")
def sdk(strict: Emulator) -> m3ter.M3ter:
    return strict.client()


def test_full_setup_usage_and_billing_pass_strict(sdk: m3ter.M3ter) -> None:
    s: Setup = build_setup(sdk)
    # A full PUT of every kind, built the way a careful SDK user would: every request field, plus version.
    sdk.products.update(s.product.id, code=s.product.code, name="Strict product", version=1)
    sdk.meters.update(
        s.meter.id,
        code=s.meter.code,
        name="Strict meter",
        product_id=s.product.id,
        data_fields=DATA_FIELDS,
        derived_fields=[],
        version=1,
    )
    sdk.accounts.update(
        s.account.id,
        code=s.account.code,
        name="Strict account",
        email_address="strict@example.com",
        version=1,
    )
    r = sdk.usage.submit(
        measurements=[
            {
                "uid": unique("u"),
                "meter": s.meter.code,
                "account": s.account.code,
                "ts": "2024-12-02T00:00:00Z",
                "measure": {"requests": 5},
            }
        ]
    )
    assert r.result == "accepted"
    job = sdk.bill_jobs.create(
        bill_date="2025-01-01", last_date_in_billing_period="2024-12-31", account_ids=[s.account.id]
    )
    assert job.id
    s.delete_all(sdk)


def test_unknown_field_is_named(sdk: m3ter.M3ter) -> None:
    with pytest.raises(m3ter.BadRequestError) as err:
        sdk.products.create(code=unique("junk"), name="Junk", extra_body={"colour": "red"})
    assert "colour" in err.value.body["message"]


def test_response_only_field_is_named(sdk: m3ter.M3ter) -> None:
    product = sdk.products.create(code=unique("ro"), name="RO")
    template = sdk.plan_templates.create(
        code=unique("ro"), name="RO", product_id=product.id, currency="USD", standing_charge=0, bill_frequency="MONTHLY"
    )
    # productId is response-only on plans: it comes from the template.
    with pytest.raises(m3ter.BadRequestError) as err:
        sdk.plans.create(
            code=unique("ro"), name="RO", plan_template_id=template.id, extra_body={"productId": product.id}
        )
    assert "productId" in err.value.body["message"]


def test_read_only_common_fields_are_named(sdk: m3ter.M3ter) -> None:
    code = unique("ro")
    p = sdk.products.create(code=code, name="RO")
    with pytest.raises(m3ter.BadRequestError) as err:
        sdk.products.update(p.id, code=code, name="RO", version=1, extra_body={"dtCreated": "2024-01-01T00:00:00Z"})
    assert "dtCreated" in err.value.body["message"]


def test_unknown_nested_field_is_named(sdk: m3ter.M3ter) -> None:
    fields = [{"category": "MEASURE", "code": "q", "name": "Q", "unit": "n", "colour": "red"}]
    with pytest.raises(m3ter.BadRequestError) as err:
        sdk.meters.create(code=unique("m"), name="M", data_fields=fields, derived_fields=[])
    assert "colour" in err.value.body["message"]


def test_unknown_measurement_field_is_named(sdk: m3ter.M3ter) -> None:
    m = {"meter": "m", "account": "a", "ts": "2024-12-01T00:00:00Z", "colour": "red"}
    with pytest.raises(m3ter.BadRequestError) as err:
        sdk.usage.submit(measurements=[m])
    assert "colour" in err.value.body["message"]
