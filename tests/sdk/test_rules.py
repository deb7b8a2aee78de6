"""Cross-entity rules the API documents (m3ter-api.md §3 and §6), seen through the SDK."""

from __future__ import annotations

import m3ter
import pytest

from builders import DATA_FIELDS, PRICING_BANDS, Setup, build_setup
from conftest import unique
from assertions import expect_400


@pytest.fixture(scope="module")
def setup(client: m3ter.M3ter) -> Setup:
    return build_setup(client)


def test_meter_update_cannot_drop_a_targeted_field(client: m3ter.M3ter, setup: Setup) -> None:
    without_requests = [f for f in DATA_FIELDS if f["code"] != "requests"]
    message = expect_400(
        lambda: client.meters.update(
            setup.meter.id,
            code=setup.meter.code,
            name=setup.meter.name,
            product_id=setup.product.id,
            data_fields=without_requests,
            derived_fields=[],
            version=setup.meter.version,
        ),
        "requests",
    )
    assert setup.aggregation.id in message or setup.aggregation.code in message, message
    assert client.meters.retrieve(setup.meter.id).version == setup.meter.version


def test_aggregation_target_field_must_be_on_the_meter(client: m3ter.M3ter, setup: Setup) -> None:
    expect_400(
        lambda: client.aggregations.create(
            name="Bad target",
            meter_id=setup.meter.id,
            target_field="no_such_field",
            aggregation="SUM",
            rounding="NONE",
            quantity_per_unit=1,
            unit="u",
        ),
        "targetField",
    )


def test_aggregation_may_target_a_derived_field(client: m3ter.M3ter, setup: Setup) -> None:
    agg = client.aggregations.create(
        name="Derived",
        code=unique("derived"),
        meter_id=setup.meter.id,
        target_field="doubled",
        aggregation="SUM",
        rounding="NONE",
        quantity_per_unit=1,
        unit="u",
    )
    assert agg.target_field == "doubled"
    client.aggregations.delete(agg.id)


def test_overage_bands_need_tiered_pricing(client: m3ter.M3ter, setup: Setup) -> None:
    expect_400(
        lambda: client.pricings.create(
            plan_id=setup.plan.id,
            aggregation_id=setup.aggregation.id,
            start_date="2027-01-01T00:00:00Z",
            cumulative=False,
            pricing_bands=PRICING_BANDS,
            overage_pricing_bands=PRICING_BANDS,
        ),
        "overagePricingBands",
    )


def test_bespoke_plan_only_for_its_account(client: m3ter.M3ter, setup: Setup) -> None:
    bespoke = client.plans.create(
        code=unique("bespoke"),
        name="Bespoke",
        plan_template_id=setup.plan_template.id,
        bespoke=True,
        account_id=setup.account.id,
    )
    other = client.accounts.create(code=unique("other"), name="Other", email_address="other@example.com")
    expect_400(
        lambda: client.account_plans.create(
            account_id=other.id, plan_id=bespoke.id, start_date="2020-01-01T00:00:00Z"
        ),
        "planId",
    )
    # A plan's accountId is immutable.
    expect_400(
        lambda: client.plans.update(
            bespoke.id,
            code=bespoke.code,
            name="Bespoke",
            plan_template_id=setup.plan_template.id,
            bespoke=True,
            account_id=other.id,
            version=1,
        ),
        "accountId",
    )


def test_delete_product_with_only_a_plan_template(client: m3ter.M3ter) -> None:
    product = client.products.create(code=unique("p"), name="P")
    template = client.plan_templates.create(
        code=unique("pt"), name="PT", product_id=product.id, currency="USD", standing_charge=0, bill_frequency="MONTHLY"
    )
    message = expect_400(lambda: client.products.delete(product.id))
    assert template.id in message or template.code in message, message
    client.plan_templates.delete(template.id)
    assert client.products.delete(product.id).id == product.id


def test_account_plan_list_filters(client: m3ter.M3ter, setup: Setup) -> None:
    account = client.accounts.create(code=unique("apl"), name="APL", email_address="apl@example.com")
    ended = client.account_plans.create(
        account_id=account.id, plan_id=setup.plan.id, start_date="2023-01-01T00:00:00Z", end_date="2024-01-01T00:00:00Z"
    )
    current = client.account_plans.create(
        account_id=account.id, plan_id=setup.plan.id, start_date="2024-01-01T00:00:00Z"
    )
    # `account` lists only plans active now, unless includeall.
    assert [ap.id for ap in client.account_plans.list(account=account.id)] == [current.id]
    assert {ap.id for ap in client.account_plans.list(account=account.id, includeall=True)} == {ended.id, current.id}


def test_pricing_list_filters(client: m3ter.M3ter, setup: Setup) -> None:
    ids = {p.id for p in client.pricings.list(plan_id=setup.plan.id)}
    assert setup.pricing.id in ids
    assert setup.pricing.id in {p.id for p in client.pricings.list(aggregation_id=setup.aggregation.id)}
    # Active on a date before the pricing starts: not listed.
    assert setup.pricing.id not in {p.id for p in client.pricings.list(plan_id=setup.plan.id, date="2023-06-01T00:00:00Z")}


def test_plan_and_template_product_filter(client: m3ter.M3ter, setup: Setup) -> None:
    assert [t.id for t in client.plan_templates.list(product_id=setup.product.id)] == [setup.plan_template.id]
    assert setup.plan.id in {p.id for p in client.plans.list(product_id=setup.product.id)}


def test_parent_account_cycles_are_refused(client: m3ter.M3ter) -> None:
    parent = client.accounts.create(code=unique("parent"), name="Parent", email_address="p@example.com")
    child = client.accounts.create(
        code=unique("child"), name="Child", email_address="c@example.com", parent_account_id=parent.id
    )
    # The account itself as its parent is refused...
    expect_400(
        lambda: client.accounts.update(
            parent.id, code=parent.code, name="Parent", email_address="p@example.com", parent_account_id=parent.id, version=1
        ),
        "parentAccountId",
    )
    # ...and so is a longer loop: parent -> child -> parent.
    expect_400(
        lambda: client.accounts.update(
            parent.id, code=parent.code, name="Parent", email_address="p@example.com", parent_account_id=child.id, version=1
        ),
        "parentAccountId",
    )
    assert client.accounts.retrieve(parent.id).parent_account_id is None


def test_plan_group_link_needs_a_plan_in_the_group_currency(client: m3ter.M3ter, setup: Setup) -> None:
    gbp = client.plan_groups.create(code=unique("gbp_group"), name="GBP group", currency="GBP")
    message = expect_400(
        lambda: client.plan_group_links.create(plan_group_id=gbp.id, plan_id=setup.plan.id),
        "GBP",
    )
    assert "USD" in message and setup.plan.code in message, message
    assert [link.id for link in client.plan_group_links.list(plan_group=gbp.id)] == []
    client.plan_groups.delete(gbp.id)


def test_currency_fields_name_picklist_currencies(client: m3ter.M3ter, setup: Setup) -> None:
    # The session's picklist has entries (builders.SHARED_CURRENCIES), so an ISO code that is
    # not among them is refused, with the currencies it has.
    message = expect_400(
        lambda: client.plan_groups.create(code=unique("jpy_group"), name="JPY", currency="JPY"),
        "JPY",
    )
    assert "USD" in message, message
    # A currency in use cannot be deleted.
    usd = client.currencies.list(codes=["USD"]).data[0]
    expect_400(lambda: client.currencies.delete(usd.id), usd.id, "references it")
    assert client.currencies.retrieve(usd.id).id == usd.id


def test_picklist_filters(client: m3ter.M3ter, setup: Setup) -> None:
    code = unique("old")
    old = client.transaction_types.create(code=code, name="Old", archived=True)
    archived = [t.id for t in client.transaction_types.list(archived=True)]
    live = [t.id for t in client.transaction_types.list(archived=False)]
    assert old.id in archived and old.id not in live
    assert setup.transaction_type.id in live and setup.transaction_type.id not in archived
    assert [t.id for t in client.transaction_types.list(codes=[code])] == [old.id]
    client.transaction_types.delete(old.id)


def test_counter_pricing_needs_exactly_one_owner(client: m3ter.M3ter, setup: Setup) -> None:
    band = [{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 1}]
    for owners in ({}, {"plan_id": setup.plan.id, "plan_template_id": setup.plan_template.id}):
        expect_400(
            lambda: client.counter_pricings.create(
                counter_id=setup.counter.id, start_date="2025-01-01T00:00:00Z", pricing_bands=band, **owners
            ),
            "planId",
        )
