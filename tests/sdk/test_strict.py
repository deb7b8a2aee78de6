"""The emulator in `--strict` mode: the official SDK sends no junk, and junk is named in a 400.

Strict mode rejects unknown and response-only request fields. Running the SDK's full create/update
path against it proves that everything the SDK puts on the wire is part of the request schema.
"""

from __future__ import annotations

import uuid
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


def test_every_documented_field_passes_strict(sdk: m3ter.M3ter) -> None:
    """Every optional parameter the SDK offers, with valid values: strict mode must know them all."""
    tag = unique("all")
    product = sdk.products.create(code=f"p_{tag}", name="All fields", custom_fields={"a": "x", "b": 2})
    meter = sdk.meters.create(
        code=f"m_{tag}",
        name="All fields",
        product_id=product.id,
        group_id=str(uuid.uuid4()),
        custom_fields={"a": 1},
        data_fields=DATA_FIELDS,
        derived_fields=[
            {"category": "MEASURE", "code": "doubled", "name": "Doubled", "unit": "count", "calculation": "requests*2"}
        ],
    )
    agg = sdk.aggregations.create(
        code=f"a_{tag}",
        name="All fields",
        meter_id=meter.id,
        target_field="requests",
        aggregation="SUM",
        rounding="NEAREST",
        quantity_per_unit=2,
        unit="u",
        accounting_product_id=product.id,
        custom_fields={"a": "x"},
        default_value=0,
        segmented_fields=["region"],
        segments=[{"region": "eu"}, {"region": "us"}],
    )
    cagg = sdk.compound_aggregations.create(
        code=f"c_{tag}",
        name="All fields",
        calculation=f"a_{tag} + 1",
        rounding="UP",
        quantity_per_unit=1,
        unit="u",
        accounting_product_id=product.id,
        custom_fields={"a": "x"},
        evaluate_null_aggregations=True,
        product_id=product.id,
    )
    template = sdk.plan_templates.create(
        code=f"t_{tag}",
        name="All fields",
        product_id=product.id,
        currency="USD",
        standing_charge=10,
        bill_frequency="MONTHLY",
        bill_frequency_interval=1,
        custom_fields={"a": "x"},
        minimum_spend=5,
        minimum_spend_bill_in_advance=False,
        minimum_spend_description="min",
        ordinal=0,
        standing_charge_bill_in_advance=True,
        standing_charge_description="standing",
        standing_charge_interval=1,
        standing_charge_offset=0,
    )
    parent = sdk.accounts.create(code=f"par_{tag}", name="Parent", email_address="parent@example.com")
    account = sdk.accounts.create(
        code=f"acc_{tag}",
        name="All fields",
        email_address="all@example.com",
        address={
            "addressLine1": "1",
            "addressLine2": "2",
            "addressLine3": "3",
            "addressLine4": "4",
            "locality": "Town",
            "region": "Region",
            "postCode": "AB1 2CD",
            "country": "GB",
        },
        auto_generate_statement_mode="JSON",
        bill_epoch="2024-12-01",
        credit_application_order=["PREPAYMENT", "BALANCE"],
        currency="USD",
        custom_fields={"a": "x"},
        days_before_bill_due=30,
        parent_account_id=parent.id,
        purchase_order_number="PO-1",
        statement_definition_id=str(uuid.uuid4()),
    )
    plan = sdk.plans.create(
        code=f"pl_{tag}",
        name="All fields",
        plan_template_id=template.id,
        account_id=account.id,
        bespoke=True,
        custom_fields={"a": "x"},
        minimum_spend=5,
        minimum_spend_accounting_product_id=product.id,
        minimum_spend_bill_in_advance=False,
        minimum_spend_description="min",
        ordinal=0,
        standing_charge=3,
        standing_charge_accounting_product_id=product.id,
        standing_charge_bill_in_advance=False,
        standing_charge_description="standing",
    )
    sdk.pricings.create(
        plan_id=plan.id,
        aggregation_id=agg.id,
        start_date="2024-01-01T00:00:00Z",
        end_date="2030-01-01T00:00:00Z",
        pricing_bands=[{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 1}],
        overage_pricing_bands=[{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 2}],
        accounting_product_id=product.id,
        code=f"pr_{tag}",
        cumulative=True,
        description="All fields",
        minimum_spend=1,
        minimum_spend_bill_in_advance=False,
        minimum_spend_description="min",
        segment={"region": "eu"},
        tiers_span_plan=False,
        type="DEBIT",
    )
    sdk.pricings.create(
        plan_template_id=template.id,
        compound_aggregation_id=cagg.id,
        start_date="2024-01-01T00:00:00Z",
        pricing_bands=[{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 1}],
    )
    contract = sdk.contracts.create(
        account_id=account.id,
        name="All fields",
        code=f"ct_{tag}",
        description="every field",
        purchase_order_number="PO-1",
        apply_contract_period_limits=False,
        usage_filters=[{"dimensionCode": "region", "value": "eu", "mode": "INCLUDE"}],
        bill_grouping_key_id=str(uuid.uuid4()),
        start_date="2030-01-01",
        end_date="2031-01-01",
        custom_fields={"a": "x"},
    )
    sdk.account_plans.create(
        account_id=account.id,
        plan_id=plan.id,
        start_date="2024-12-01T00:00:00Z",
        end_date="2030-01-01T00:00:00Z",
        bill_epoch="2024-12-01",
        child_billing_mode="PARENT_BREAKDOWN",
        code=f"ap_{tag}",
        contract_id=contract.id,
        custom_fields={"a": "x"},
    )
    sdk.commitments.create(
        account_id=account.id,
        billing_plan_id=plan.id,
        product_ids=[product.id],
        start_date="2030-01-01",
        end_date="2031-01-01",
        currency="USD",
        amount=1200,
        amount_pre_paid=0,
        amount_first_bill=100,
        overage_surcharge_percent=-5,
        separate_overage_usage=True,
        billing_interval=1,
        billing_offset=0,
        commitment_fee_description="fee",
        commitment_usage_description="usage",
        overage_description="overage",
        commitment_fee_bill_in_advance=True,
        bill_epoch="2030-01-01",
        contract_id=contract.id,
        accounting_product_id=product.id,
        fees_accounting_product_id=product.id,
        drawdowns_accounting_product_id=product.id,
        child_billing_mode="CHILD",
        line_item_types=["USAGE", "STANDING_CHARGE"],
    )
    sdk.balances.create(
        account_id=account.id,
        code=f"bal_{tag}",
        name="All fields",
        description="every field",
        start_date="2030-01-01T00:00:00Z",
        end_date="2031-01-01T00:00:00Z",
        currency="USD",
        rollover_amount=10,
        rollover_end_date="2031-03-01T00:00:00Z",
        balance_draw_down_description="draw",
        overage_surcharge_percent=5,
        overage_description="overage",
        product_ids=[product.id],
        line_item_types=["AD_HOC"],
        contract_id=contract.id,
        consumptions_accounting_product_id=product.id,
        fees_accounting_product_id=product.id,
        allow_overdraft=False,
        custom_fields={"a": "x"},
    )
    r = sdk.usage.submit(
        measurements=[
            {
                "uid": unique("u"),
                "meter": meter.code,
                "account": account.code,
                "ts": "2024-12-02T00:00:00Z",
                "ets": "2024-12-02T01:00:00Z",
                "measure": {"requests": 5},
                "cost": {"c": 1.5},
                "income": {"i": 2},
                "who": {"user": "u1"},
                "what": {"op": "get"},
                "where": {"region": "eu"},
                "other": {"o": "x"},
                "metadata": {"m": "x"},
            }
        ]
    )
    assert r.result == "accepted"
    job = sdk.bill_jobs.create(
        account_ids=[account.id],
        bill_date="2025-01-01",
        bill_frequency_interval=1,
        billing_frequency="MONTHLY",
        currency_conversions=[{"from": "EUR", "to": "USD", "multiplier": 1.1}],
        day_epoch="2024-01-01",
        due_date="2025-01-31",
        external_invoice_date="2025-01-01",
        last_date_in_billing_period="2024-12-31",
        month_epoch="2024-01-01",
        target_currency="USD",
        timezone="UTC",
        week_epoch="2024-01-01",
        year_epoch="2024-01-01",
    )
    assert job.id
