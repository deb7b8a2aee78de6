"""The usage query API (`POST /usage/query`, Data Explorer v2) through the official SDK.

One emulator of this module's own holds two meters and two accounts with a fixed set of
measurements; every expected value is worked out here from that set, never copied from an answer.
The row format is the emulator's (docs/emulator.md "Usage queries"): the spec leaves rows open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

import httpx
import m3ter
import pytest

from assertions import expect_400
from builders import new_tag, run_bill_job
from conftest import Emulator, stop_and_check

START = "2026-11-01T00:00:00Z"
END = "2026-12-01T00:00:00Z"
ROUTE = "POST /organizations/{orgId}/usage/query"

REQUEST_FIELDS: list[dict[str, Any]] = [
    {"category": "MEASURE", "code": "requests", "name": "Requests", "unit": "count"},
    {"category": "WHERE", "code": "region", "name": "Region"},
]
DOUBLED = [{"category": "MEASURE", "code": "doubled", "name": "Doubled", "unit": "count", "calculation": "requests*2"}]
BYTE_FIELDS: list[dict[str, Any]] = [
    {"category": "MEASURE", "code": "bytes", "name": "Bytes", "unit": "b"},
    {"category": "WHERE", "code": "region", "name": "Region"},
]


@dataclass(frozen=True)
class M:
    """One ingested measurement: meter key ("a" or "b"), account key, ts, value, region."""

    meter: str
    account: str
    ts: str
    value: float
    region: str | None


# Ingested in this order (one request: arrival order is list order). Two fall outside November:
# the window is [start, end), so the one at END itself is out.
MEASUREMENTS = [
    M("a", "one", "2026-10-31T23:59:59Z", 100, "eu"),
    M("a", "one", "2026-11-02T10:15:00Z", 10, "eu"),
    M("a", "two", "2026-11-03T08:00:00Z", 20, "us"),
    M("a", "one", "2026-11-02T11:00:00Z", 5, "us"),
    M("b", "one", "2026-11-05T00:00:00Z", 1000, "eu"),
    M("a", "one", "2026-11-09T00:00:00Z", 7, "eu"),
    M("a", "two", "2026-11-17T12:00:00Z", 1.5, "eu"),
    M("b", "two", "2026-11-06T00:00:00Z", 500, "us"),
    M("a", "one", "2026-11-30T23:59:59Z", 3, None),
    M("a", "one", "2026-12-01T00:00:00Z", 200, "eu"),
]


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def in_window(m: M, start: str = START, end: str = END) -> bool:
    return parse(start) <= parse(m.ts) < parse(end)


def expected(function: str, ms: list[M], field: str = "value") -> float | None:
    """The documented meaning of each function (design §7), over the measurements given."""
    if field == "region":
        regions = [m.region for m in ms if m.region is not None]
        if not regions:
            return None
        return len(regions) if function == "COUNT" else len(set(regions))
    values = [m.value * (2 if field == "doubled" else 1) for m in ms]
    if not values:
        return None
    if function == "SUM":
        return sum(values)
    if function == "MIN":
        return min(values)
    if function == "MAX":
        return max(values)
    if function == "COUNT":
        return len(values)
    if function == "MEAN":
        return sum(values) / len(values)
    if function == "LATEST":
        # Latest by ts; on a tie the later arrival (none tie here).
        return max(ms, key=lambda m: parse(m.ts)).value * (2 if field == "doubled" else 1)
    raise AssertionError(function)


@dataclass
class Org:
    emu: Emulator
    client: m3ter.M3ter
    meters: dict[str, Any]
    accounts: dict[str, Any]

    def meter_id(self, key: str) -> str:
        return self.meters[key].id

    def account_id(self, key: str) -> str:
        return self.accounts[key].id

    def query(self, **kw: Any) -> Any:
        kw.setdefault("start_date", START)
        kw.setdefault("end_date", END)
        return self.client.usage.query(**kw)

    def agg(self, meter: str, field: str, function: str) -> dict[str, Any]:
        field_type = "DIMENSION" if field == "region" else "MEASURE"
        return {"meterId": self.meter_id(meter), "fieldCode": field, "fieldType": field_type, "function": function}


@pytest.fixture(scope="module")
def org() -> Iterator[Org]:
    """A fresh emulator: queries without `meterIds`/`accountIds` see this module's data alone."""
    emu = Emulator()
    client = emu.client()
    tag = new_tag()
    product = client.products.create(code=f"uq_{tag}", name=f"Usage query {tag}")
    meters = {
        "a": client.meters.create(
            code=f"uqa_{tag}", name="Requests", product_id=product.id, data_fields=REQUEST_FIELDS, derived_fields=DOUBLED
        ),
        "b": client.meters.create(
            code=f"uqb_{tag}", name="Bytes", product_id=product.id, data_fields=BYTE_FIELDS, derived_fields=[]
        ),
    }
    accounts = {
        key: client.accounts.create(code=f"uq{key}_{tag}", name=f"Account {key}", email_address=f"{key}@example.com")
        for key in ("one", "two")
    }
    batch = []
    for i, m in enumerate(MEASUREMENTS):
        field = "requests" if m.meter == "a" else "bytes"
        item: dict[str, Any] = {
            "uid": f"{tag}-{i}",
            "meter": meters[m.meter].code,
            "account": accounts[m.account].code,
            "ts": m.ts,
            "measure": {field: m.value},
        }
        if m.region is not None:
            item["where"] = {"region": m.region}
        batch.append(item)
    client.usage.submit(measurements=batch)
    yield Org(emu, client, meters, accounts)
    stop_and_check(emu)


def of(meter: str | None = None, account: str | None = None, pred: Callable[[M], bool] = lambda m: True) -> list[M]:
    return [
        m
        for m in MEASUREMENTS
        if in_window(m) and (meter is None or m.meter == meter) and (account is None or m.account == account) and pred(m)
    ]


def raw_key(org: Org, row: dict[str, Any]) -> tuple[str, str, str]:
    return (row["meterId"], row["accountId"], row["ts"])


def m_key(org: Org, m: M) -> tuple[str, str, str]:
    return (org.meter_id(m.meter), org.account_id(m.account), m.ts)


# --- raw measurements (no aggregations) -------------------------------------------------------


def test_raw_query_answers_the_window_newest_received_first_as_ingested(org: Org) -> None:
    got = org.query(meter_ids=[org.meter_id("a")])
    want = list(reversed(of("a")))
    assert [raw_key(org, r) for r in got.data or []] == [m_key(org, m) for m in want]
    assert got.has_more_data is False
    first = (got.data or [])[0]
    # As ingested: the codes sent, the measure, and the ids it was stored under.
    assert first["meter"] == org.meters["a"].code and first["account"] == org.accounts["one"].code
    assert first["measure"] == {"requests": 3} and "where" not in first
    assert first["uid"].endswith("-8")


def test_raw_query_without_meter_ids_covers_every_meter(org: Org) -> None:
    got = org.query()
    assert [raw_key(org, r) for r in got.data or []] == [m_key(org, m) for m in reversed(of())]


def test_raw_query_limit_cuts_the_newest_and_says_there_is_more(org: Org) -> None:
    all_in = list(reversed(of()))
    got = org.query(limit=2)
    assert [raw_key(org, r) for r in got.data or []] == [m_key(org, m) for m in all_in[:2]]
    assert got.has_more_data is True
    exact = org.query(limit=len(all_in))
    assert len(exact.data or []) == len(all_in) and exact.has_more_data is False


def test_raw_query_filters_by_account_and_dimension(org: Org) -> None:
    got = org.query(
        account_ids=[org.account_id("two")],
        dimension_filters=[{"meterId": org.meter_id("a"), "fieldCode": "region", "values": ["eu"]}],
    )
    # The filter is on meter a only: meter b's measurements of account two all stay.
    want = reversed(of(account="two", pred=lambda m: m.meter == "b" or m.region == "eu"))
    assert [raw_key(org, r) for r in got.data or []] == [m_key(org, m) for m in want]


def test_unknown_meter_and_account_ids_select_nothing(org: Org) -> None:
    nobody = "00000000-0000-4000-8000-00000000dead"
    assert org.query(meter_ids=[nobody]).data == []
    assert org.query(account_ids=[nobody]).data == []
    agg = [org.agg("a", "requests", "SUM")]
    assert org.query(aggregations=agg, account_ids=[nobody]).data == []


# --- aggregations -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field,function",
    [("requests", f) for f in ("SUM", "MIN", "MAX", "COUNT", "LATEST", "MEAN")]
    + [("doubled", "SUM"), ("doubled", "MAX"), ("region", "COUNT"), ("region", "UNIQUE")],
)
def test_each_function_over_the_window(org: Org, field: str, function: str) -> None:
    got = org.query(aggregations=[org.agg("a", field, function)])
    assert got.data == [{"meterId": org.meter_id("a"), "values": {f"{field}:{function}": pytest.approx(expected(function, of("a"), field))}}]
    assert got.has_more_data is False


def test_account_group_gives_a_row_per_account_in_id_order(org: Org) -> None:
    aggs = [org.agg("a", "requests", "SUM"), org.agg("a", "requests", "COUNT"), org.agg("a", "region", "UNIQUE")]
    got = org.query(aggregations=aggs, groups=[{"groupType": "ACCOUNT"}], account_ids=[org.account_id(k) for k in ("one", "two")])
    want = [
        {
            "meterId": org.meter_id("a"),
            "accountId": org.account_id(k),
            "values": {
                "region:UNIQUE": expected("UNIQUE", of("a", k), "region"),
                "requests:COUNT": expected("COUNT", of("a", k)),
                "requests:SUM": pytest.approx(expected("SUM", of("a", k))),
            },
        }
        for k in sorted(("one", "two"), key=org.account_id)
    ]
    assert got.data == want


@pytest.mark.parametrize("frequency", ["HOUR", "DAY", "WEEK", "MONTH", "QUARTER"])
def test_time_group_buckets_by_utc_start(org: Org, frequency: str) -> None:
    def start_of(ts: str) -> str:
        t = parse(ts)
        if frequency == "HOUR":
            b = t.replace(minute=0, second=0)
        elif frequency == "DAY":
            b = t.replace(hour=0, minute=0, second=0)
        elif frequency == "WEEK":
            b = (t - timedelta(days=t.weekday())).replace(hour=0, minute=0, second=0)
        elif frequency == "MONTH":
            b = t.replace(day=1, hour=0, minute=0, second=0)
        else:
            b = t.replace(month=(t.month - 1) // 3 * 3 + 1, day=1, hour=0, minute=0, second=0)
        return b.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    got = org.query(
        aggregations=[org.agg("a", "requests", "SUM")],
        groups=[{"groupType": "TIME", "frequency": frequency}],
    )
    buckets: dict[str, list[M]] = {}
    for m in of("a"):
        buckets.setdefault(start_of(m.ts), []).append(m)
    want = [
        {"meterId": org.meter_id("a"), "timeGroup": b, "values": {"requests:SUM": pytest.approx(expected("SUM", ms))}}
        for b, ms in sorted(buckets.items())
    ]
    assert got.data == want


def test_dimension_group_gives_a_row_per_value_missing_first(org: Org) -> None:
    got = org.query(
        aggregations=[org.agg("a", "requests", "SUM"), org.agg("b", "bytes", "SUM")],
        groups=[{"groupType": "DIMENSION", "meterId": org.meter_id("a"), "fieldCode": "region"}],
    )
    rows_a = [
        {
            "meterId": org.meter_id("a"),
            "dimensions": {"region": region},
            "values": {"requests:SUM": pytest.approx(expected("SUM", of("a", pred=lambda m, r=region: m.region == r)))},
        }
        for region in (None, "eu", "us")
    ]
    # Meter b has no DIMENSION group: one row, empty dimensions.
    row_b = {"meterId": org.meter_id("b"), "dimensions": {}, "values": {"bytes:SUM": expected("SUM", of("b"))}}
    want = sorted([*rows_a, row_b], key=lambda r: r["meterId"])
    assert got.data == want


def test_groups_combine_in_account_time_dimension_order(org: Org) -> None:
    got = org.query(
        aggregations=[org.agg("a", "requests", "MAX")],
        groups=[
            {"groupType": "DIMENSION", "meterId": org.meter_id("a"), "fieldCode": "region"},
            {"groupType": "TIME", "frequency": "MONTH"},
            {"groupType": "ACCOUNT"},
        ],
    )
    combos: dict[tuple[str, str, str], list[M]] = {}
    for m in of("a"):
        combos.setdefault((org.account_id(m.account), "2026-11-01T00:00:00Z", m.region or ""), []).append(m)
    want = [
        {
            "meterId": org.meter_id("a"),
            "accountId": account,
            "timeGroup": bucket,
            "dimensions": {"region": region or None},
            "values": {"requests:MAX": expected("MAX", ms)},
        }
        for (account, bucket, region), ms in sorted(combos.items())
    ]
    assert got.data == want


def test_filters_apply_before_aggregating(org: Org) -> None:
    got = org.query(
        aggregations=[org.agg("a", "requests", "SUM")],
        dimension_filters=[{"meterId": org.meter_id("a"), "fieldCode": "region", "values": ["us", "apac"]}],
        account_ids=[org.account_id("one")],
    )
    want = expected("SUM", of("a", "one", lambda m: m.region == "us"))
    assert got.data == [{"meterId": org.meter_id("a"), "values": {"requests:SUM": want}}]


def test_row_limit_and_has_more_data(org: Org) -> None:
    query = dict(aggregations=[org.agg("a", "requests", "SUM")], groups=[{"groupType": "TIME", "frequency": "DAY"}])
    every = org.query(**query).data or []
    assert len(every) == len({parse(m.ts).date() for m in of("a")}) > 2
    cut = org.query(**query, limit=2)
    assert cut.data == every[:2] and cut.has_more_data is True
    whole = org.query(**query, limit=len(every))
    assert whole.data == every and whole.has_more_data is False


def test_a_query_counts_once_in_the_stats_under_its_route(org: Org) -> None:
    before = httpx.get(f"{org.emu.base_url}/_emulator/stats").json()["requests"].get(ROUTE, 0)
    org.query(aggregations=[org.agg("a", "requests", "SUM")])
    after = httpx.get(f"{org.emu.base_url}/_emulator/stats").json()["requests"][ROUTE]
    assert after == before + 1


# --- refusals ---------------------------------------------------------------------------------


def test_missing_dates_are_refused_naming_the_field(org: Org) -> None:
    expect_400(lambda: org.client.usage.query(end_date=END), "startDate", "required")
    expect_400(lambda: org.client.usage.query(start_date=START), "endDate", "required")
    expect_400(lambda: org.query(start_date=END, end_date=START), "endDate", "startDate")


def test_groups_without_aggregations_are_refused(org: Org) -> None:
    expect_400(lambda: org.query(groups=[{"groupType": "ACCOUNT"}]), "groups", "aggregations")


def test_an_unknown_field_is_refused_listing_the_meters_fields(org: Org) -> None:
    msg = expect_400(lambda: org.query(aggregations=[{**org.agg("a", "requests", "SUM"), "fieldCode": "nope"}]), "aggregations[0].fieldCode", "nope")
    for code in ("requests", "region", "doubled"):
        assert code in msg


@pytest.mark.parametrize(
    "field,field_type,function,named",
    [
        ("requests", "MEASURE", "UNIQUE", "aggregations[0].function"),
        ("region", "DIMENSION", "SUM", "aggregations[0].function"),
        ("region", "MEASURE", "COUNT", "aggregations[0].fieldType"),
        ("doubled", "DIMENSION", "COUNT", "aggregations[0].fieldType"),
    ],
)
def test_a_function_or_type_that_does_not_fit_the_field_is_refused(
    org: Org, field: str, field_type: str, function: str, named: str
) -> None:
    agg = {"meterId": org.meter_id("a"), "fieldCode": field, "fieldType": field_type, "function": function}
    expect_400(lambda: org.query(aggregations=[agg]), named)


def test_other_malformed_requests_are_refused(org: Org) -> None:
    agg = [org.agg("a", "requests", "SUM")]
    expect_400(lambda: org.query(limit=0), "limit")
    expect_400(lambda: org.query(limit=20001), "limit")
    expect_400(lambda: org.query(aggregations=agg, groups=[{"groupType": "TIME"}]), "groups[0].frequency")
    expect_400(lambda: org.query(aggregations=agg, groups=[{"groupType": "DIMENSION", "meterId": org.meter_id("a")}]), "groups[0].fieldCode")
    expect_400(
        lambda: org.query(aggregations=agg, groups=[{"groupType": "DIMENSION", "meterId": org.meter_id("a"), "fieldCode": "requests"}]),
        "groups[0].fieldCode",
    )
    expect_400(lambda: org.query(aggregations=[{**agg[0], "function": "MEDIAN"}]), "aggregations[0].function")
    expect_400(lambda: org.query(aggregations=[{**agg[0], "meterId": "00000000-0000-4000-8000-00000000dead"}]), "aggregations[0].meterId")
    expect_400(lambda: org.query(dimension_filters=[{"meterId": org.meter_id("a"), "fieldCode": "region", "values": []}]), "dimensionFilters[0].values")


# --- the property: a usage query and a bill cannot disagree -----------------------------------


def test_a_sum_equals_the_quantity_of_the_bill_line_priced_on_it(org: Org) -> None:
    client, tag = org.client, new_tag()
    meter = org.meters["a"]
    aggregation = client.aggregations.create(
        code=f"uqagg_{tag}", name="Requests", meter_id=meter.id, target_field="requests",
        aggregation="SUM", rounding="NONE", quantity_per_unit=1, unit="requests",
    )
    template = client.plan_templates.create(
        code=f"uqt_{tag}", name="T", product_id=meter.product_id, currency="USD", standing_charge=0, bill_frequency="MONTHLY"
    )
    plan = client.plans.create(code=f"uqp_{tag}", name="P", plan_template_id=template.id)
    client.pricings.create(
        plan_id=plan.id, aggregation_id=aggregation.id, start_date="2026-01-01T00:00:00Z",
        pricing_bands=[{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 0.25}],
    )
    account = org.accounts["one"]
    client.account_plans.create(account_id=account.id, plan_id=plan.id, start_date=START)
    job = run_bill_job(client, account.id, bill_date="2026-12-01", last_date="2026-11-30")
    (bill,) = list(client.bills.list(bill_job_id=job.id))
    (line,) = [li for li in bill.line_items or [] if li.line_item_type == "USAGE"]

    got = org.query(
        aggregations=[org.agg("a", "requests", "SUM")], groups=[{"groupType": "ACCOUNT"}], account_ids=[account.id]
    )
    (row,) = got.data or []
    assert row["values"]["requests:SUM"] == line.quantity
    assert line.quantity == pytest.approx(expected("SUM", of("a", "one")))
