"""Billing through the SDK: ingest usage, run a bill job, poll it to COMPLETE, read the bills.

Expected amounts follow the emulator's documented billing rules (design §7): tiered bands, standing
charge prorated by the active fraction of the period, duplicates by uid dropped (first wins),
`start <= ts < end`.
"""

from __future__ import annotations

import math
import time
from typing import Any

import m3ter
import pytest

from builders import POLL_TIMEOUT_S, STATUSES, Setup, build_setup, new_tag, run_bill_job
from conftest import Emulator



def usage(setup: Setup, uid: str, ts: str, requests: float) -> dict[str, Any]:
    return {
        "uid": f"{setup.tag}-{uid}",
        "meter": setup.meter.code,
        "account": setup.account.code,
        "ts": ts,
        "measure": {"requests": requests},
        "where": {"region": "eu"},
    }


def line(bill: Any, kind: str) -> Any:
    items = [li for li in bill.line_items or [] if li.line_item_type == kind]
    assert len(items) == 1, f"expected one {kind} line, got {[li.line_item_type for li in bill.line_items or []]}"
    return items[0]


def test_bill_job_bills_december_usage(client: m3ter.M3ter) -> None:
    s = build_setup(client, standing_charge=10, account_plan_start="2024-12-01T00:00:00Z")
    batch = [
        usage(s, "a", "2024-12-01T00:00:00Z", 10),  # first instant of the period: counted
        usage(s, "b", "2024-12-15T12:00:00Z", 20),
        usage(s, "c", "2024-12-31T23:59:59Z", 30),
        usage(s, "a", "2024-12-20T00:00:00Z", 1000),  # duplicate uid: dropped, first wins
        usage(s, "d", "2025-01-01T00:00:00Z", 500),  # end is exclusive
        usage(s, "e", "2024-11-30T23:59:59Z", 700),  # before the period
    ]
    assert client.usage.submit(measurements=batch).result == "accepted"
    # The same uid again in a later request is dropped too.
    assert client.usage.submit(measurements=[usage(s, "b", "2024-12-16T00:00:00Z", 20)]).result == "accepted"

    job = run_bill_job(client, s.account.id)
    assert job.bill_ids and len(job.bill_ids) == 1

    bills = list(client.bills.list(bill_job_id=job.id))
    assert [b.id for b in bills] == job.bill_ids
    bill = bills[0]
    assert bill.account_id == s.account.id
    assert str(bill.bill_date) == "2025-01-01"
    assert str(bill.start_date) == "2024-12-01"

    usage_line = line(bill, "USAGE")
    assert usage_line.quantity == pytest.approx(60)
    # Tiered: 50 units at 0.5, then 10 at 0.1.
    assert usage_line.subtotal == pytest.approx(26.0)
    assert usage_line.aggregation_id == s.aggregation.id
    assert usage_line.pricing_id == s.pricing.id
    assert line(bill, "STANDING_CHARGE").subtotal == pytest.approx(10.0)
    assert bill.bill_total == pytest.approx(36.0)

    # The same bill is readable by id and by account, with the same lines.
    again = client.bills.retrieve(bill.id)
    assert again.bill_total == pytest.approx(36.0)
    assert {li.line_item_type for li in again.line_items or []} == {"USAGE", "STANDING_CHARGE"}
    assert [b.id for b in client.bills.list(account_id=s.account.id)] == [bill.id]
    items = list(client.bills.line_items.list(bill.id))
    assert sorted(li.line_item_type for li in items) == ["STANDING_CHARGE", "USAGE"]


def test_mid_period_start_prorates_standing_charge(client: m3ter.M3ter) -> None:
    # Active 16 of December's 31 days; usage before the account plan starts is not billed.
    s = build_setup(client, standing_charge=31, account_plan_start="2024-12-16T00:00:00Z")
    batch = [
        usage(s, "early", "2024-12-10T00:00:00Z", 40),
        usage(s, "late", "2024-12-20T00:00:00Z", 8),
    ]
    assert client.usage.submit(measurements=batch).result == "accepted"
    job = run_bill_job(client, s.account.id)
    (bill,) = list(client.bills.list(bill_job_id=job.id))
    assert line(bill, "STANDING_CHARGE").subtotal == pytest.approx(16.0)
    assert line(bill, "USAGE").quantity == pytest.approx(8)
    assert line(bill, "USAGE").subtotal == pytest.approx(4.0)
    assert bill.bill_total == pytest.approx(20.0)


def test_bill_job_list_and_unknown_job(client: m3ter.M3ter) -> None:
    s = build_setup(client)
    job = run_bill_job(client, s.account.id)
    assert job.id in {j.id for j in client.bill_jobs.list(page_size=100)}
    with pytest.raises(m3ter.NotFoundError):
        client.bill_jobs.retrieve("00000000-0000-4000-8000-00000000dead")


def test_bill_approve_lock_lifecycle(client: m3ter.M3ter) -> None:
    s = build_setup(client)
    job = run_bill_job(client, s.account.id)
    (bill_id,) = job.bill_ids
    assert client.bills.retrieve(bill_id).status == "PENDING"

    # Locking needs an APPROVED bill.
    with pytest.raises(m3ter.BadRequestError) as err:
        client.bills.lock(bill_id)
    assert "APPROVED" in err.value.body["message"]

    assert client.bills.approve(bill_ids=[bill_id]).message
    approved = client.bills.retrieve(bill_id)
    assert approved.status == "APPROVED"
    assert client.bills.list(account_id=s.account.id, status="APPROVED").data[0].id == bill_id

    locked = client.bills.lock(bill_id)
    assert locked.locked is True
    # A locked bill cannot change or go away.
    with pytest.raises(m3ter.BadRequestError):
        client.bills.update_status(bill_id, status="PENDING")
    with pytest.raises(m3ter.BadRequestError):
        client.bills.delete(bill_id)
    assert client.bills.retrieve(bill_id).locked is True


def test_pending_bill_can_be_deleted(client: m3ter.M3ter) -> None:
    s = build_setup(client)
    (bill_id,) = run_bill_job(client, s.account.id).bill_ids
    assert client.bills.update_status(bill_id, status="APPROVED").status == "APPROVED"
    assert client.bills.update_status(bill_id, status="PENDING").status == "PENDING"
    assert client.bills.delete(bill_id).id == bill_id
    with pytest.raises(m3ter.NotFoundError):
        client.bills.retrieve(bill_id)


def test_completed_job_cannot_be_cancelled(client: m3ter.M3ter) -> None:
    s = build_setup(client)
    job = run_bill_job(client, s.account.id)
    with pytest.raises(m3ter.BadRequestError):
        client.bill_jobs.cancel(job.id)
    assert client.bill_jobs.retrieve(job.id).status == "COMPLETE"


def test_latest_bill_by_account(client: m3ter.M3ter) -> None:
    # GET /bills/latest/{accountId} (m3ter-api.md §5.2; SDK `bills.latest_by_account`).
    s = build_setup(client)
    (bill_id,) = run_bill_job(client, s.account.id).bill_ids
    assert client.bills.latest_by_account(s.account.id).id == bill_id


def test_bill_line_item_by_id(client: m3ter.M3ter) -> None:
    # GET /bills/{billId}/lineitems/{id} (m3ter-api.md §5.3; SDK `bills.line_items.retrieve`).
    s = build_setup(client)
    (bill_id,) = run_bill_job(client, s.account.id).bill_ids
    items = list(client.bills.line_items.list(bill_id))
    assert items, "a bill for an account on a plan with a standing charge has line items"
    again = client.bills.line_items.retrieve(items[0].id, bill_id=bill_id)
    assert again.id == items[0].id


def test_empty_bill_total_is_positive_zero(client: m3ter.M3ter, emulator: Emulator) -> None:
    # An account with no account plan gets an empty bill; its total must be 0, not -0.0 on the wire
    # (a float sum of nothing is -0.0 in Rust).
    account = client.accounts.create(code=f"lone_{new_tag()}", name="Lone", email_address="lone@example.com")
    job = run_bill_job(client, account.id)
    with emulator.http() as http:
        r = http.get("/bills", params={"billJobId": job.id})
    assert r.status_code == 200, r.text
    for bill in r.json()["data"]:
        assert math.copysign(1.0, bill["billTotal"]) == 1.0 and bill["billTotal"] == 0, r.text
    assert '"billTotal":-0' not in r.text.replace(" ", ""), r.text


def test_recalculate_job(client: m3ter.M3ter) -> None:
    # POST /billjobs/recalculate (m3ter-api.md §5.1; SDK `bill_jobs.recalculate`).
    s = build_setup(client)
    (bill_id,) = run_bill_job(client, s.account.id).bill_ids
    job = client.bill_jobs.recalculate(bill_ids=[bill_id])
    assert job.type == "RECALCULATE"
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while job.status != "COMPLETE":
        assert job.status in STATUSES - {"CANCELLED"}, job.status
        assert time.monotonic() < deadline, f"recalculate job not COMPLETE after {POLL_TIMEOUT_S}s"
        time.sleep(0.1)
        job = client.bill_jobs.retrieve(job.id)


def test_bills_list_filters(client: m3ter.M3ter) -> None:
    s = build_setup(client)
    (bill_id,) = run_bill_job(client, s.account.id).bill_ids
    (slim,) = list(client.bills.list(ids=[bill_id], exclude_line_items=True))
    assert slim.id == bill_id and not slim.line_items
    assert [b.id for b in client.bills.list(ids=[bill_id])] == [bill_id]
    assert [b.id for b in client.bills.list(account_id=s.account.id, bill_date="2025-01-01")] == [bill_id]
    assert list(client.bills.list(account_id=s.account.id, bill_date="2025-02-01")) == []
    in_range = client.bills.list(account_id=s.account.id, bill_date_start="2025-01-01", bill_date_end="2025-01-02")
    assert [b.id for b in in_range] == [bill_id]
    # billDateEnd is exclusive.
    assert list(client.bills.list(account_id=s.account.id, bill_date_start="2024-12-01", bill_date_end="2025-01-01")) == []


def test_rerun_for_the_same_period_recalculates_and_skips_locked_bills(client: m3ter.M3ter) -> None:
    # A second bill job for an account and period with an unlocked bill recalculates that bill
    # (same id); a locked bill is left alone and named in the job's `lockedBillIds`.
    s = build_setup(client, account_plan_start="2024-12-01T00:00:00Z")
    client.usage.submit(measurements=[usage(s, "a", "2024-12-05T00:00:00Z", 10)])
    (bill_id,) = run_bill_job(client, s.account.id).bill_ids
    first = client.bills.retrieve(bill_id)
    client.usage.submit(measurements=[usage(s, "b", "2024-12-06T00:00:00Z", 20)])
    assert run_bill_job(client, s.account.id).bill_ids == [bill_id]
    again = client.bills.retrieve(bill_id)
    assert [b.id for b in client.bills.list(account_id=s.account.id)] == [bill_id]
    assert line(again, "USAGE").quantity == pytest.approx(30)
    assert again.version == first.version + 1
    assert again.last_calculated_date != first.last_calculated_date

    client.bills.approve(bill_ids=[bill_id])
    client.bills.lock(bill_id)
    job = run_bill_job(client, s.account.id)
    assert not job.bill_ids
    assert (job.model_extra or {}).get("lockedBillIds") == [bill_id]
    assert line(client.bills.retrieve(bill_id), "USAGE").quantity == pytest.approx(30)
