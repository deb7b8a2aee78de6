"""The emulator's rating rules (design §7), driven end to end through the SDK.

Each case builds its own product, meter, aggregation, template, plan, pricing(s), account and
account plan for December 2024, ingests usage, runs a bill job and checks the bill's lines.
"""

from __future__ import annotations

from typing import Any

import m3ter
import pytest

from builders import DATA_FIELDS, DERIVED_FIELDS, new_tag, run_bill_job

ONE_BAND = [{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 1}]
TWO_BANDS = [
    {"lowerLimit": 0, "fixedPrice": 5, "unitPrice": 1},
    {"lowerLimit": 50, "fixedPrice": 20, "unitPrice": 0.5},
]
# requests on three December days; LATEST is the one on the 31st.
USAGE = [("2024-12-02T00:00:00Z", 10), ("2024-12-31T12:00:00Z", 30), ("2024-12-15T00:00:00Z", 20)]


def bill_for(
    client: m3ter.M3ter,
    *,
    usage: list[tuple[str, float]] = USAGE,
    aggregation: str = "SUM",
    target_field: str = "requests",
    rounding: str = "NONE",
    quantity_per_unit: float = 1,
    default_value: float | None = None,
    bands: list[dict[str, Any]] = ONE_BAND,
    cumulative: bool | None = True,
    pricing_minimum_spend: float | None = None,
    template_standing_charge: float = 0,
    plan_standing_charge: float | None = None,
    plan_minimum_spend: float | None = None,
    template_bands: list[dict[str, Any]] | None = None,
    compound: str | None = None,
    account_plan_start: str = "2024-12-01T00:00:00Z",
) -> Any:
    """Builds a one-pricing setup, ingests `usage` (requests values) and returns December's bill."""
    tag = new_tag()
    product = client.products.create(code=f"rp_{tag}", name=f"Rating {tag}")
    meter = client.meters.create(
        code=f"rm_{tag}",
        name="Rating meter",
        product_id=product.id,
        data_fields=DATA_FIELDS,
        derived_fields=DERIVED_FIELDS,
    )
    agg_args: dict[str, Any] = dict(
        code=f"ra_{tag}",
        name="Rating aggregation",
        meter_id=meter.id,
        target_field=target_field,
        aggregation=aggregation,
        rounding=rounding,
        quantity_per_unit=quantity_per_unit,
        unit="u",
    )
    if default_value is not None:
        agg_args["default_value"] = default_value
    agg = client.aggregations.create(**agg_args)
    priced: dict[str, Any] = {"aggregation_id": agg.id}
    if compound is not None:
        cagg = client.compound_aggregations.create(
            code=f"rc_{tag}",
            name="Rating compound",
            product_id=product.id,
            calculation=compound.replace("AGG", f"ra_{tag}"),
            rounding=rounding,
            quantity_per_unit=quantity_per_unit,
            unit="u",
        )
        priced = {"compound_aggregation_id": cagg.id}
    template = client.plan_templates.create(
        code=f"rt_{tag}",
        name="Rating template",
        product_id=product.id,
        currency="USD",
        standing_charge=template_standing_charge,
        bill_frequency="MONTHLY",
    )
    plan_args: dict[str, Any] = dict(code=f"rpl_{tag}", name="Rating plan", plan_template_id=template.id)
    if plan_standing_charge is not None:
        plan_args["standing_charge"] = plan_standing_charge
    if plan_minimum_spend is not None:
        plan_args["minimum_spend"] = plan_minimum_spend
    plan = client.plans.create(**plan_args)
    pricing_args: dict[str, Any] = dict(
        plan_id=plan.id, start_date="2024-01-01T00:00:00Z", pricing_bands=bands, **priced
    )
    if cumulative is not None:
        pricing_args["cumulative"] = cumulative
    if pricing_minimum_spend is not None:
        pricing_args["minimum_spend"] = pricing_minimum_spend
    client.pricings.create(**pricing_args)
    if template_bands is not None:
        client.pricings.create(
            plan_template_id=template.id,
            start_date="2024-01-01T00:00:00Z",
            pricing_bands=template_bands,
            cumulative=True,
            **priced,
        )
    account = client.accounts.create(code=f"racc_{tag}", name="Rating account", email_address="r@example.com")
    client.account_plans.create(account_id=account.id, plan_id=plan.id, start_date=account_plan_start)
    if usage:
        client.usage.submit(
            measurements=[
                {"uid": f"{tag}-{i}", "meter": meter.code, "account": account.code, "ts": ts, "measure": {"requests": q}}
                for i, (ts, q) in enumerate(usage)
            ]
        )
    job = run_bill_job(client, account.id)
    (bill,) = list(client.bills.list(bill_job_id=job.id))
    return bill


def lines(bill: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for li in bill.line_items or []:
        out.setdefault(li.line_item_type, []).append(li)
    return out


def usage_line(bill: Any) -> Any:
    got = lines(bill).get("USAGE", [])
    assert len(got) == 1, f"expected one USAGE line, got {[li.line_item_type for li in bill.line_items or []]}"
    return got[0]


@pytest.mark.parametrize(
    "function,expected",
    [("SUM", 60), ("MIN", 10), ("MAX", 30), ("COUNT", 3), ("MEAN", 20), ("LATEST", 30)],
)
def test_aggregation_functions(client: m3ter.M3ter, function: str, expected: float) -> None:
    line = usage_line(bill_for(client, aggregation=function))
    assert line.quantity == pytest.approx(expected)
    assert line.subtotal == pytest.approx(expected)


@pytest.mark.parametrize(
    "rounding,units",
    [("UP", 9), ("DOWN", 8), ("NONE", 60 / 7)],
)
def test_rounding_of_units(client: m3ter.M3ter, rounding: str, units: float) -> None:
    line = usage_line(bill_for(client, rounding=rounding, quantity_per_unit=7))
    assert line.units == pytest.approx(units)
    assert line.subtotal == pytest.approx(units)


def test_nearest_rounds_half_up(client: m3ter.M3ter) -> None:
    line = usage_line(bill_for(client, rounding="NEAREST", quantity_per_unit=8))  # 60 / 8 = 7.5
    assert line.units == pytest.approx(8)


def test_derived_field_is_computed_per_measurement(client: m3ter.M3ter) -> None:
    line = usage_line(bill_for(client, target_field="doubled"))  # requests*2
    assert line.quantity == pytest.approx(120)


def test_default_value_without_usage(client: m3ter.M3ter) -> None:
    line = usage_line(bill_for(client, usage=[], default_value=5))
    assert line.quantity == pytest.approx(5)
    assert line.subtotal == pytest.approx(5)


def test_no_usage_no_default_is_a_zero_line(client: m3ter.M3ter) -> None:
    bill = bill_for(client, usage=[])
    line = usage_line(bill)
    assert (line.quantity, line.subtotal) == (0, 0)
    assert bill.bill_total == 0


@pytest.mark.parametrize(
    "cumulative,total",
    [
        (True, (5 + 50 * 1) + (20 + 10 * 0.5)),  # tiered: each reached band at its own rate
        (None, (5 + 50 * 1) + (20 + 10 * 0.5)),  # cumulative absent = tiered
        (False, 20 + 60 * 0.5),  # volume: all units at the highest reached band
    ],
)
def test_tiered_and_volume_bands(client: m3ter.M3ter, cumulative: bool | None, total: float) -> None:
    line = usage_line(bill_for(client, bands=TWO_BANDS, cumulative=cumulative))
    assert line.subtotal == pytest.approx(total)
    assert len(line.usage_per_pricing_band or []) >= 1


def test_band_is_reached_only_above_its_lower_limit(client: m3ter.M3ter) -> None:
    # Exactly 50 units: the second band (lowerLimit 50) is not reached, so no fixed price of 20.
    line = usage_line(bill_for(client, usage=[("2024-12-05T00:00:00Z", 50)], bands=TWO_BANDS))
    assert line.subtotal == pytest.approx(5 + 50 * 1)


def test_pricing_minimum_spend_tops_up_its_usage(client: m3ter.M3ter) -> None:
    bill = bill_for(client, pricing_minimum_spend=100)  # usage 60 at 1.0
    assert usage_line(bill).subtotal == pytest.approx(60)
    (top_up,) = lines(bill)["MINIMUM_SPEND"]
    assert top_up.subtotal == pytest.approx(40)
    assert bill.bill_total == pytest.approx(100)


def test_minimum_spend_below_usage_adds_no_line(client: m3ter.M3ter) -> None:
    bill = bill_for(client, pricing_minimum_spend=10)
    assert "MINIMUM_SPEND" not in lines(bill)
    assert bill.bill_total == pytest.approx(60)


def test_plan_minimum_spend_ignores_standing_charge(client: m3ter.M3ter) -> None:
    bill = bill_for(client, plan_minimum_spend=100, template_standing_charge=30)
    (top_up,) = lines(bill)["MINIMUM_SPEND"]
    assert top_up.subtotal == pytest.approx(40)  # 100 - 60 of usage; the 30 standing charge doesn't count
    assert bill.bill_total == pytest.approx(60 + 40 + 30)


def test_plan_standing_charge_overrides_template(client: m3ter.M3ter) -> None:
    bill = bill_for(client, template_standing_charge=10, plan_standing_charge=4)
    (standing,) = lines(bill)["STANDING_CHARGE"]
    assert standing.subtotal == pytest.approx(4)


def test_zero_standing_charge_adds_no_line(client: m3ter.M3ter) -> None:
    assert "STANDING_CHARGE" not in lines(bill_for(client, template_standing_charge=0))


def test_plan_pricing_replaces_template_pricing(client: m3ter.M3ter) -> None:
    bill = bill_for(client, bands=[{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 2}], template_bands=ONE_BAND)
    assert usage_line(bill).subtotal == pytest.approx(120)


def test_compound_aggregation_pricing(client: m3ter.M3ter) -> None:
    line = usage_line(bill_for(client, compound="AGG * 2 + 1"))
    assert line.quantity == pytest.approx(121)
    assert line.subtotal == pytest.approx(121)


def test_usage_outside_the_account_plan_is_not_billed(client: m3ter.M3ter) -> None:
    bill = bill_for(client, account_plan_start="2024-12-10T00:00:00Z", template_standing_charge=31)
    assert usage_line(bill).quantity == pytest.approx(50)  # the 2nd December's 10 is before the plan
    (standing,) = lines(bill)["STANDING_CHARGE"]
    assert standing.subtotal == pytest.approx(31 * 22 / 31)
