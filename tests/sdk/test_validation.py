"""Validation errors as the SDK sees them: `BadRequestError` (400) whose message names the field."""

from __future__ import annotations

import uuid
from typing import Any

import m3ter
import pytest

from builders import DATA_FIELDS, PRICING_BANDS, Setup, build_setup
from assertions import expect_400
from conftest import unique


@pytest.fixture(scope="module")
def setup(client: m3ter.M3ter) -> Setup:
    return build_setup(client)


# --- products -------------------------------------------------------------------------------


def test_empty_name(client: m3ter.M3ter) -> None:
    expect_400(lambda: client.products.create(code=unique("v"), name=""), "name")


def test_name_too_long(client: m3ter.M3ter) -> None:
    expect_400(lambda: client.products.create(code=unique("v"), name="n" * 201), "name")


@pytest.mark.parametrize("code", [" leading", "trailing ", "", "x" * 81, "tab\there"])
def test_bad_general_code(client: m3ter.M3ter, code: str) -> None:
    expect_400(lambda: client.products.create(code=code, name="Bad code"), "code")


def test_general_code_allows_inner_spaces(client: m3ter.M3ter) -> None:
    code = unique("inner space")
    assert client.products.create(code=code, name="Inner").code == code


def test_duplicate_code_within_a_kind(client: m3ter.M3ter) -> None:
    code = unique("dup")
    client.products.create(code=code, name="First")
    expect_400(lambda: client.products.create(code=code, name="Second"), "code")


def test_duplicate_code_on_update(client: m3ter.M3ter) -> None:
    taken = unique("taken")
    client.products.create(code=taken, name="Holder")
    other = client.products.create(code=unique("other"), name="Other")
    expect_400(lambda: client.products.update(other.id, code=taken, name="Other", version=1), "code")
    assert client.products.retrieve(other.id).version == 1


def test_too_many_custom_fields(client: m3ter.M3ter) -> None:
    fields = {f"f{i}": i for i in range(101)}
    expect_400(lambda: client.products.create(code=unique("cf"), name="cf", custom_fields=fields), "customFields")


# --- meters ---------------------------------------------------------------------------------


def _meter(client: m3ter.M3ter, **over: Any) -> Any:
    args: dict[str, Any] = dict(code=unique("m"), name="Meter", data_fields=DATA_FIELDS, derived_fields=[])
    args.update(over)
    return client.meters.create(**args)


def test_meter_without_product_is_global(client: m3ter.M3ter) -> None:
    assert _meter(client).product_id is None


def test_meter_bad_category(client: m3ter.M3ter) -> None:
    fields = [{"category": "BOGUS", "code": "q", "name": "Q", "unit": "n"}]
    expect_400(lambda: _meter(client, data_fields=fields), "dataFields[0].category")


def test_meter_needs_a_data_field(client: m3ter.M3ter) -> None:
    expect_400(lambda: _meter(client, data_fields=[]), "dataFields")


def test_meter_derived_fields_null(client: m3ter.M3ter) -> None:
    expect_400(lambda: _meter(client, derived_fields=None), "derivedFields")


def test_meter_identifier_code_for_fields(client: m3ter.M3ter) -> None:
    fields = [{"category": "MEASURE", "code": "1st", "name": "First", "unit": "n"}]
    expect_400(lambda: _meter(client, data_fields=fields), "dataFields[0].code")


def test_meter_unknown_product_in_body(client: m3ter.M3ter) -> None:
    expect_400(lambda: _meter(client, product_id=str(uuid.uuid4())), "productId")


def test_meter_product_id_not_a_uuid(client: m3ter.M3ter) -> None:
    expect_400(lambda: _meter(client, product_id="not-a-uuid"), "productId")


# --- aggregations ---------------------------------------------------------------------------


def _aggregation(client: m3ter.M3ter, setup: Setup, **over: Any) -> Any:
    args: dict[str, Any] = dict(
        code=unique("a"),
        name="Agg",
        meter_id=setup.meter.id,
        target_field="requests",
        aggregation="SUM",
        rounding="NONE",
        quantity_per_unit=1,
        unit="u",
    )
    args.update(over)
    return client.aggregations.create(**args)


def test_aggregation_unknown_meter(client: m3ter.M3ter, setup: Setup) -> None:
    expect_400(lambda: _aggregation(client, setup, meter_id=str(uuid.uuid4())), "meterId")


def test_aggregation_bad_enum(client: m3ter.M3ter, setup: Setup) -> None:
    message = expect_400(lambda: _aggregation(client, setup, aggregation="AVERAGE"), "aggregation")
    assert "SUM" in message, f"an enum error should list the allowed values: {message!r}"


def test_aggregation_bad_rounding(client: m3ter.M3ter, setup: Setup) -> None:
    expect_400(lambda: _aggregation(client, setup, rounding="SIDEWAYS"), "rounding")


def test_aggregation_identifier_code(client: m3ter.M3ter, setup: Setup) -> None:
    expect_400(lambda: _aggregation(client, setup, code="has space"), "code")


def test_aggregation_negative_quantity_per_unit(client: m3ter.M3ter, setup: Setup) -> None:
    expect_400(lambda: _aggregation(client, setup, quantity_per_unit=-1), "quantityPerUnit")


def test_aggregation_accepts_dollar_and_underscore_codes(client: m3ter.M3ter, setup: Setup) -> None:
    code = "$_agg" + uuid.uuid4().hex[:8]
    assert _aggregation(client, setup, code=code).code == code


# --- plan templates, plans, pricings --------------------------------------------------------


def test_plan_template_currency_length(client: m3ter.M3ter, setup: Setup) -> None:
    expect_400(
        lambda: client.plan_templates.create(
            code=unique("pt"),
            name="PT",
            product_id=setup.product.id,
            currency="US",
            standing_charge=0,
            bill_frequency="MONTHLY",
        ),
        "currency",
    )


def test_plan_template_bill_frequency_interval_range(client: m3ter.M3ter, setup: Setup) -> None:
    expect_400(
        lambda: client.plan_templates.create(
            code=unique("pt"),
            name="PT",
            product_id=setup.product.id,
            currency="USD",
            standing_charge=0,
            bill_frequency="MONTHLY",
            bill_frequency_interval=366,
        ),
        "billFrequencyInterval",
    )


def test_plan_unknown_template(client: m3ter.M3ter) -> None:
    expect_400(
        lambda: client.plans.create(code=unique("pl"), name="PL", plan_template_id=str(uuid.uuid4())),
        "planTemplateId",
    )


def test_pricing_both_plan_and_template(client: m3ter.M3ter, setup: Setup) -> None:
    expect_400(
        lambda: client.pricings.create(
            plan_id=setup.plan.id,
            plan_template_id=setup.plan_template.id,
            aggregation_id=setup.aggregation.id,
            start_date="2025-01-01T00:00:00Z",
            pricing_bands=PRICING_BANDS,
        ),
        "planId",
        "planTemplateId",
    )


def test_pricing_neither_aggregation(client: m3ter.M3ter, setup: Setup) -> None:
    expect_400(
        lambda: client.pricings.create(
            plan_id=setup.plan.id, start_date="2025-01-01T00:00:00Z", pricing_bands=PRICING_BANDS
        ),
        "aggregationId",
        "compoundAggregationId",
    )


def test_pricing_needs_bands(client: m3ter.M3ter, setup: Setup) -> None:
    expect_400(
        lambda: client.pricings.create(
            plan_id=setup.plan.id,
            aggregation_id=setup.aggregation.id,
            start_date="2025-01-01T00:00:00Z",
            pricing_bands=[],
        ),
        "pricingBands",
    )


def test_pricing_band_missing_unit_price(client: m3ter.M3ter, setup: Setup) -> None:
    expect_400(
        lambda: client.pricings.create(
            plan_id=setup.plan.id,
            aggregation_id=setup.aggregation.id,
            start_date="2025-01-01T00:00:00Z",
            pricing_bands=[{"lowerLimit": 0, "fixedPrice": 0}],
        ),
        "unitPrice",
    )


def test_pricing_bad_start_date(client: m3ter.M3ter, setup: Setup) -> None:
    expect_400(
        lambda: client.pricings.create(
            plan_id=setup.plan.id,
            aggregation_id=setup.aggregation.id,
            start_date="next tuesday",
            pricing_bands=PRICING_BANDS,
        ),
        "startDate",
    )


def test_pricing_accepts_offset_date_time(client: m3ter.M3ter, setup: Setup) -> None:
    # The SDK serialises datetimes as `+00:00`, not `Z`: both must be accepted. The window ends
    # before the setup's pricing (from 2024-01-01, open-ended) starts: pricings of one
    # aggregation must not overlap.
    p = client.pricings.create(
        plan_id=setup.plan.id,
        aggregation_id=setup.aggregation.id,
        start_date="2023-01-01T00:00:00+00:00",
        end_date="2024-01-01T00:00:00+00:00",
        pricing_bands=PRICING_BANDS,
    )
    assert p.version == 1
    client.pricings.delete(p.id)


# --- accounts and account plans -------------------------------------------------------------


def test_account_bad_email(client: m3ter.M3ter) -> None:
    expect_400(
        lambda: client.accounts.create(code=unique("ac"), name="A", email_address="not an email"),
        "emailAddress",
    )


def test_account_bad_bill_epoch(client: m3ter.M3ter) -> None:
    expect_400(
        lambda: client.accounts.create(
            code=unique("ac"), name="A", email_address="a@example.com", bill_epoch="2024-13-45"
        ),
        "billEpoch",
    )


def test_account_address_line_too_long(client: m3ter.M3ter) -> None:
    expect_400(
        lambda: client.accounts.create(
            code=unique("ac"), name="A", email_address="a@example.com", address={"addressLine1": "x" * 51}
        ),
        "addressLine1",
    )


def test_account_plan_overlap_per_product(client: m3ter.M3ter, setup: Setup) -> None:
    # setup's account is on the plan from 2024-12-01, open-ended: a second plan of the same product overlaps.
    expect_400(
        lambda: client.account_plans.create(
            account_id=setup.account.id, plan_id=setup.plan.id, start_date="2025-06-01T00:00:00Z"
        ),
    )


def test_account_plan_end_date_is_exclusive(client: m3ter.M3ter, setup: Setup) -> None:
    # An account plan ending exactly where the next one starts does not overlap it.
    tag = unique("seq")
    account = client.accounts.create(code=tag, name="Seq", email_address="seq@example.com")
    first = client.account_plans.create(
        account_id=account.id,
        plan_id=setup.plan.id,
        start_date="2024-01-01T00:00:00Z",
        end_date="2024-06-01T00:00:00Z",
    )
    second = client.account_plans.create(
        account_id=account.id, plan_id=setup.plan.id, start_date="2024-06-01T00:00:00Z"
    )
    assert (first.version, second.version) == (1, 1)
    # ...but one starting a day earlier does.
    expect_400(
        lambda: client.account_plans.create(
            account_id=account.id,
            plan_id=setup.plan.id,
            start_date="2024-05-31T00:00:00Z",
            end_date="2024-06-02T00:00:00Z",
        )
    )


def test_account_plan_needs_plan_or_group(client: m3ter.M3ter, setup: Setup) -> None:
    expect_400(
        lambda: client.account_plans.create(account_id=setup.account.id, start_date="2031-01-01T00:00:00Z"),
        "planId",
    )


def test_account_plan_unknown_account(client: m3ter.M3ter, setup: Setup) -> None:
    expect_400(
        lambda: client.account_plans.create(
            account_id=str(uuid.uuid4()), plan_id=setup.plan.id, start_date="2024-12-01T00:00:00Z"
        ),
        "accountId",
    )


def test_unknown_fields_are_ignored_when_not_strict(client: m3ter.M3ter) -> None:
    # The real API ignores unknown fields; only `--strict` rejects them (see test_strict.py).
    p = client.products.create(code=unique("junk"), name="Junk", extra_body={"notAField": 1, "productId": "x"})
    assert p.version == 1
