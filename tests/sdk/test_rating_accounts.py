"""The emulator's rating of counters, plan groups, commitments and balances, through the SDK.

Each case builds a one-plan setup for December 2024 (usage priced at 1 per unit of the SUM of
`requests`, 60 units unless it says otherwise), adds the entities under test, runs a bill job and
checks the lines. Every expected amount is computed here from the inputs the case chose.
"""

from __future__ import annotations

from typing import Any

import m3ter
import pytest

from builders import DATA_FIELDS, DERIVED_FIELDS, new_tag, run_bill_job

DAYS_IN_DECEMBER = 31
SEAT_PRICE = 10
USAGE = [("2024-12-02T00:00:00Z", 10), ("2024-12-15T00:00:00Z", 20), ("2024-12-31T12:00:00Z", 30)]
USAGE_TOTAL = sum(q for _, q in USAGE)  # at a unit price of 1


class World:
    """A product, a metered plan, an account, and the helpers to add the rest."""

    def __init__(self, client: m3ter.M3ter) -> None:
        self.client = client
        self.tag = tag = new_tag()
        self.product = client.products.create(code=f"bp_{tag}", name=f"Billing {tag}")
        self.meter = client.meters.create(
            code=f"bm_{tag}",
            name="Billing meter",
            product_id=self.product.id,
            data_fields=DATA_FIELDS,
            derived_fields=DERIVED_FIELDS,
        )
        agg = client.aggregations.create(
            code=f"ba_{tag}",
            name="Billing aggregation",
            meter_id=self.meter.id,
            target_field="requests",
            aggregation="SUM",
            rounding="NONE",
            quantity_per_unit=1,
            unit="u",
        )
        self.template = client.plan_templates.create(
            code=f"bt_{tag}",
            name="Billing template",
            product_id=self.product.id,
            currency="USD",
            standing_charge=0,
            bill_frequency="MONTHLY",
        )
        self.plan = client.plans.create(code=f"bpl_{tag}", name="Billing plan", plan_template_id=self.template.id)
        client.pricings.create(
            plan_id=self.plan.id,
            aggregation_id=agg.id,
            start_date="2024-01-01T00:00:00Z",
            pricing_bands=[{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 1}],
            cumulative=True,
        )
        self.account = client.accounts.create(code=f"bacc_{tag}", name="Billing account", email_address="b@example.com")
        self.counter: Any = None

    def attach_plan(self, start: str = "2024-12-01T00:00:00Z") -> None:
        self.client.account_plans.create(account_id=self.account.id, plan_id=self.plan.id, start_date=start)

    def ingest(self, usage: list[tuple[str, float]] = USAGE) -> None:
        self.client.usage.submit(
            measurements=[
                {
                    "uid": f"{self.tag}-{ts}",
                    "meter": self.meter.code,
                    "account": self.account.code,
                    "ts": ts,
                    "measure": {"requests": q},
                }
                for ts, q in usage
            ]
        )

    def seats(self, adjustments: list[tuple[str, int]], **pricing: Any) -> None:
        """A seats counter priced at SEAT_PRICE a seat on the plan, and the account's adjustments."""
        self.counter = self.client.counters.create(code=f"bs_{self.tag}", name="Seats", unit="seat")
        self.client.counter_pricings.create(
            counter_id=self.counter.id,
            plan_id=self.plan.id,
            start_date="2024-01-01T00:00:00Z",
            pricing_bands=[{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": SEAT_PRICE}],
            **pricing,
        )
        for date, value in adjustments:
            self.client.counter_adjustments.create(
                account_id=self.account.id, counter_id=self.counter.id, date=date, value=value
            )

    def commitment(self, amount: float, **fields: Any) -> Any:
        args: dict[str, Any] = dict(start_date="2024-12-01", end_date="2025-12-01")
        args.update(fields)
        return self.client.commitments.create(account_id=self.account.id, amount=amount, currency="USD", **args)

    def bill(self, bill_date: str = "2025-01-01", last_date: str = "2024-12-31") -> Any:
        job = run_bill_job(self.client, self.account.id, bill_date=bill_date, last_date=last_date)
        (bill,) = list(self.client.bills.list(bill_job_id=job.id))
        return bill


def by_type(bill: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for li in bill.line_items or []:
        out.setdefault(li.line_item_type, []).append(li)
    return out


def total_of(bill: Any) -> float:
    return sum(li.subtotal for li in bill.line_items or [])


@pytest.mark.parametrize("prorated", [True, False])
def test_counter_running_total_charge(client: m3ter.M3ter, prorated: bool) -> None:
    w = World(client)
    w.attach_plan(start="2024-12-16T00:00:00Z")  # active for the 16 days 16–31
    w.seats([("2024-11-20", 3)], pro_rate_running_total=prorated)
    (line,) = by_type(w.bill())["COUNTER_RUNNING_TOTAL_CHARGE"]
    fraction = 16 / DAYS_IN_DECEMBER if prorated else 1
    assert line.subtotal == pytest.approx(3 * SEAT_PRICE * fraction)
    assert line.units == 3
    assert line.counter_id == w.counter.id


@pytest.mark.parametrize("prorated", [True, False])
def test_counter_adjustment_debit_and_credit(client: m3ter.M3ter, prorated: bool) -> None:
    w = World(client)
    w.attach_plan()
    w.seats(
        [("2024-12-01", 3), ("2024-12-17", 5), ("2024-12-25", 4)],
        pro_rate_adjustment_debit=prorated,
        pro_rate_adjustment_credit=prorated,
    )
    lines = by_type(w.bill())
    (running,) = lines["COUNTER_RUNNING_TOTAL_CHARGE"]
    assert running.subtotal == pytest.approx(3 * SEAT_PRICE)  # the value on the first day
    (debit,) = lines["COUNTER_ADJUSTMENT_DEBIT"]
    (credit,) = lines["COUNTER_ADJUSTMENT_CREDIT"]
    # +2 seats from the 17th (15 days left), −1 seat from the 25th (7 days left).
    debit_days, credit_days = (15, 7) if prorated else (DAYS_IN_DECEMBER, DAYS_IN_DECEMBER)
    assert debit.subtotal == pytest.approx(2 * SEAT_PRICE * debit_days / DAYS_IN_DECEMBER)
    assert credit.subtotal == pytest.approx(-1 * SEAT_PRICE * credit_days / DAYS_IN_DECEMBER)
    assert (debit.units, credit.units) == (2, -1)


def test_commitment_fee_on_its_fee_dates(client: m3ter.M3ter) -> None:
    w = World(client)
    w.attach_plan()
    fees = [("2024-12-15", 40.0), ("2025-01-15", 60.0)]
    c = w.commitment(
        100,
        fee_dates=[
            {
                "date": date,
                "amount": amount,
                "servicePeriodStartDate": f"{date[:8]}01T00:00:00Z",
                "servicePeriodEndDate": "2025-12-01T00:00:00Z",
            }
            for date, amount in fees
        ],
    )
    (fee,) = by_type(w.bill())["COMMITMENT_FEE"]
    assert fee.subtotal == pytest.approx(fees[0][1])  # only December's fee date
    assert fee.commitment_id == c.id


def test_commitment_fee_per_billing_plan(client: m3ter.M3ter) -> None:
    w = World(client)
    w.attach_plan()
    amount, prepaid, months = 120.0, 24.0, 12  # a year on a monthly billing plan
    w.commitment(amount, amount_pre_paid=prepaid, billing_plan_id=w.plan.id)
    (fee,) = by_type(w.bill())["COMMITMENT_FEE"]
    assert fee.subtotal == pytest.approx((amount - prepaid) / months)


@pytest.mark.parametrize("amount", [100.0, 50.0])
def test_commitment_consumed(client: m3ter.M3ter, amount: float) -> None:
    w = World(client)
    w.attach_plan()
    w.ingest()
    c = w.commitment(amount)
    bill = w.bill()
    (consumed,) = by_type(bill)["COMMITMENT_CONSUMED"]
    assert consumed.subtotal == pytest.approx(-min(USAGE_TOTAL, amount))
    assert consumed.commitment_id == c.id
    assert bill.bill_total == pytest.approx(USAGE_TOTAL - min(USAGE_TOTAL, amount))


def test_commitment_consumption_carries_over_to_the_next_bill(client: m3ter.M3ter) -> None:
    w = World(client)
    w.attach_plan()
    w.ingest()
    january = [("2025-01-10T00:00:00Z", 45)]
    w.ingest(january)
    amount = 100.0
    w.commitment(amount)
    (december,) = by_type(w.bill())["COMMITMENT_CONSUMED"]
    (jan,) = by_type(w.bill(bill_date="2025-02-01", last_date="2025-01-31"))["COMMITMENT_CONSUMED"]
    left = amount - min(USAGE_TOTAL, amount)
    assert december.subtotal == pytest.approx(-USAGE_TOTAL)
    assert jan.subtotal == pytest.approx(-min(january[0][1], left))


def test_overage_usage_is_billed_separately(client: m3ter.M3ter) -> None:
    w = World(client)
    w.attach_plan()
    w.ingest()
    amount = 50.0
    w.commitment(amount, separate_overage_usage=True)
    bill = w.bill()
    lines = by_type(bill)
    assert sum(li.subtotal for li in lines["USAGE"]) == pytest.approx(amount)
    assert sum(li.subtotal for li in lines["OVERAGE_USAGE"]) == pytest.approx(USAGE_TOTAL - amount)
    (consumed,) = lines["COMMITMENT_CONSUMED"]
    assert consumed.subtotal == pytest.approx(-amount)
    assert bill.bill_total == pytest.approx(USAGE_TOTAL - amount)


def test_overage_surcharge(client: m3ter.M3ter) -> None:
    w = World(client)
    w.attach_plan()
    w.ingest()
    amount, percent = 50.0, 12.5
    w.commitment(amount, overage_surcharge_percent=percent)
    bill = w.bill()
    (surcharge,) = by_type(bill)["OVERAGE_SURCHARGE"]
    overage = USAGE_TOTAL - amount
    assert surcharge.subtotal == pytest.approx(overage * percent / 100)
    assert bill.bill_total == pytest.approx(overage + overage * percent / 100)


def test_balance_consumed(client: m3ter.M3ter) -> None:
    w = World(client)
    w.attach_plan()
    w.ingest()
    balance = client.balances.create(
        account_id=w.account.id,
        code=f"bb_{w.tag}",
        name="Prepaid",
        currency="USD",
        start_date="2024-01-01T00:00:00Z",
        end_date="2026-01-01T00:00:00Z",
    )
    credits = [15.0, 10.0]
    for amount in credits:
        client.balances.transactions.create(balance.id, amount=amount)
    bill = w.bill()
    (consumed,) = by_type(bill)["BALANCE_CONSUMED"]
    assert consumed.subtotal == pytest.approx(-sum(credits))
    assert consumed.balance_id == balance.id
    assert bill.bill_total == pytest.approx(USAGE_TOTAL - sum(credits))
    assert sorted(t.amount for t in client.balances.transactions.list(balance.id)) == sorted(credits)


def test_plan_group_minimum_spend(client: m3ter.M3ter) -> None:
    w = World(client)
    minimum = 100.0
    group = client.plan_groups.create(code=f"bg_{w.tag}", name="Group", currency="USD", minimum_spend=minimum)
    client.plan_group_links.create(plan_group_id=group.id, plan_id=w.plan.id)
    client.account_plans.create(account_id=w.account.id, plan_group_id=group.id, start_date="2024-12-01T00:00:00Z")
    w.ingest()
    bill = w.bill()
    lines = by_type(bill)
    (top_up,) = lines["MINIMUM_SPEND"]
    assert top_up.subtotal == pytest.approx(minimum - USAGE_TOTAL)
    assert top_up.plan_group_id == group.id
    (usage,) = lines["USAGE"]
    assert usage.plan_group_id == group.id
    assert bill.bill_total == pytest.approx(minimum)
    assert total_of(bill) == pytest.approx(bill.bill_total)
