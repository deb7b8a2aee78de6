"""Races through the SDK's async client: uniqueness and optimistic locking hold under concurrency."""

from __future__ import annotations

import asyncio
from typing import Any

import m3ter

from builders import build_setup, run_bill_job
from conftest import API_KEY, API_SECRET, ORG_ID, Emulator, unique

RACERS = 16


def async_client(emulator: Emulator) -> m3ter.AsyncM3ter:
    return m3ter.AsyncM3ter(
        api_key=API_KEY,
        api_secret=API_SECRET,
        org_id=ORG_ID,
        base_url=emulator.base_url,
        token=emulator.token(),
        max_retries=0,
        timeout=30.0,
    )


async def settle(calls: list[Any]) -> list[Any]:
    """Runs coroutines concurrently and returns results and exceptions alike."""
    return await asyncio.gather(*calls, return_exceptions=True)


def test_concurrent_creates_of_one_code_store_one(emulator: Emulator) -> None:
    code = unique("race")

    async def race() -> list[Any]:
        async with async_client(emulator) as sdk:
            return await settle([sdk.products.create(code=code, name=f"Racer {i}") for i in range(RACERS)])

    results = asyncio.run(race())
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1, results
    assert all(isinstance(e, m3ter.BadRequestError) and "code" in e.body["message"] for e in lost), lost
    listed = [p for p in emulator.client().products.list(page_size=200) if p.code == code]
    assert [p.id for p in listed] == [won[0].id]


def test_concurrent_updates_with_one_version_let_one_win(emulator: Emulator) -> None:
    code = unique("lock")
    product = emulator.client().products.create(code=code, name="v1")

    async def race() -> list[Any]:
        async with async_client(emulator) as sdk:
            return await settle(
                [sdk.products.update(product.id, code=code, name=f"writer {i}", version=1) for i in range(RACERS)]
            )

    results = asyncio.run(race())
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1, results
    assert all(isinstance(e, m3ter.ConflictError) for e in lost), lost
    stored = emulator.client().products.retrieve(product.id)
    assert (stored.version, stored.name) == (2, won[0].name)


def test_concurrent_distinct_creates_all_succeed(emulator: Emulator) -> None:
    prefix = unique("many")

    async def burst() -> list[Any]:
        async with async_client(emulator) as sdk:
            return await settle([sdk.products.create(code=f"{prefix}_{i}", name="Many") for i in range(50)])

    results = asyncio.run(burst())
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors[:3]
    ids = {r.id for r in results}
    assert len(ids) == 50
    # Each one is readable and listed exactly once.
    listed = [p.id for p in emulator.client().products.list(page_size=200) if p.code.startswith(prefix)]
    assert sorted(listed) == sorted(ids)


def test_concurrent_account_plans_do_not_overlap(emulator: Emulator) -> None:
    sdk = emulator.client()
    product = sdk.products.create(code=unique("ovp"), name="Overlap")
    template = sdk.plan_templates.create(
        code=unique("ovt"), name="T", product_id=product.id, currency="USD", standing_charge=0, bill_frequency="MONTHLY"
    )
    plans = [sdk.plans.create(code=unique("ovpl"), name="P", plan_template_id=template.id) for _ in range(4)]
    account = sdk.accounts.create(code=unique("ova"), name="A", email_address="ov@example.com")

    async def race() -> list[Any]:
        async with async_client(emulator) as asdk:
            return await settle(
                [
                    asdk.account_plans.create(account_id=account.id, plan_id=p.id, start_date="2024-12-01T00:00:00Z")
                    for p in plans
                ]
            )

    results = asyncio.run(race())
    won = [r for r in results if not isinstance(r, BaseException)]
    assert len(won) == 1, f"one active plan per product per account, got {len(won)}: {results}"
    assert all(isinstance(r, m3ter.BadRequestError) for r in results if isinstance(r, BaseException))


def test_concurrent_resubmits_of_one_uid_bill_once(emulator: Emulator) -> None:
    sdk = emulator.client(token=emulator.token())
    s = build_setup(sdk)
    m = {
        "uid": unique("same-uid"),
        "meter": s.meter.code,
        "account": s.account.code,
        "ts": "2024-12-10T00:00:00Z",
        "measure": {"requests": 7},
    }

    async def resubmit() -> list[Any]:
        async with async_client(emulator) as asdk:
            return await settle([asdk.usage.submit(measurements=[m]) for _ in range(RACERS)])

    results = asyncio.run(resubmit())
    assert all(getattr(r, "result", None) == "accepted" for r in results), results
    (bill_id,) = run_bill_job(sdk, s.account.id).bill_ids
    usage = [li for li in sdk.bills.retrieve(bill_id).line_items or [] if li.line_item_type == "USAGE"]
    assert [li.quantity for li in usage] == [7]
