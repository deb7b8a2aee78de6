"""Lists and pagination: the SDK's cursor over 250+ products, page sizes, tokens, filters.

The product tests run their own emulator so they can assert exact counts and order.
"""

from __future__ import annotations

from typing import Iterator

import m3ter
import pytest

from builders import DATA_FIELDS, KINDS, build_setup, resource, run_bill_job
from conftest import Emulator, stop_and_check

PRODUCTS = 260


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    emu = Emulator()
    yield emu
    stop_and_check(emu)


@pytest.fixture(scope="module")
def sdk(emu: Emulator) -> m3ter.M3ter:
    # A preset token: 260 creates need no 260 extra token calls.
    return emu.client(token=emu.token())


@pytest.fixture(scope="module")
def created(sdk: m3ter.M3ter) -> list[str]:
    """Ids of the PRODUCTS products, in creation order (oldest first)."""
    return [sdk.products.create(code=f"page_{i:04d}", name=f"Paged {i}").id for i in range(PRODUCTS)]


def test_auto_pagination_yields_all_newest_first(sdk: m3ter.M3ter, created: list[str]) -> None:
    seen = [p.id for p in sdk.products.list(page_size=100)]
    assert len(seen) == PRODUCTS
    assert len(set(seen)) == PRODUCTS, "a product was returned twice"
    assert seen == list(reversed(created)), "lists are newest first"


def test_pages_and_last_page_has_no_token(sdk: m3ter.M3ter, created: list[str]) -> None:
    pages = list(sdk.products.list(page_size=100).iter_pages())
    assert [len(p.data) for p in pages] == [100, 100, 60]
    assert all(p.next_token for p in pages[:-1])
    assert not pages[-1].next_token, "nextToken must be omitted on the last page"
    assert not pages[-1].has_next_page()


def test_exact_multiple_of_page_size(sdk: m3ter.M3ter, created: list[str]) -> None:
    # 260 = 2 × 130: no trailing empty page is needed, and if one is served it must be empty and final.
    pages = list(sdk.products.list(page_size=130).iter_pages())
    sizes = [len(p.data) for p in pages]
    assert sizes in ([130, 130], [130, 130, 0]), sizes
    assert sum(sizes) == PRODUCTS


def test_default_page_size_is_10(sdk: m3ter.M3ter, created: list[str]) -> None:
    page = sdk.products.list()
    assert len(page.data) == 10
    assert page.next_token
    assert [p.id for p in page.data] == list(reversed(created))[:10]


def test_products_allow_page_size_200(sdk: m3ter.M3ter, created: list[str]) -> None:
    assert len(sdk.products.list(page_size=200).data) == 200


@pytest.mark.parametrize("size", [0, 201, -1])
def test_products_page_size_out_of_range(sdk: m3ter.M3ter, size: int) -> None:
    with pytest.raises(m3ter.BadRequestError) as err:
        sdk.products.list(page_size=size)
    assert "pageSize" in str(err.value.body)


def test_other_kinds_cap_page_size_at_100(sdk: m3ter.M3ter) -> None:
    assert sdk.meters.list(page_size=100).data == []
    with pytest.raises(m3ter.BadRequestError) as err:
        sdk.meters.list(page_size=101)
    assert "pageSize" in str(err.value.body)


def test_bad_next_token_is_400(sdk: m3ter.M3ter) -> None:
    with pytest.raises(m3ter.BadRequestError):
        sdk.products.list(next_token="definitely-not-a-token")


def test_token_stays_valid_while_products_are_added(sdk: m3ter.M3ter, created: list[str]) -> None:
    first = sdk.products.list(page_size=100)
    extra = [sdk.products.create(code=f"late_{i}", name=f"Late {i}").id for i in range(5)]
    rest: list[str] = []
    page = first
    while page.has_next_page():
        page = page.get_next_page()
        rest.extend(p.id for p in page.data)
    # The continuation holds exactly the older products not yet seen: nothing twice, nothing skipped.
    assert [p.id for p in first.data] + rest == list(reversed(created))
    assert not set(extra) & set(rest)
    for pid in extra:
        sdk.products.delete(pid)


def test_ids_filter_comma_joined(sdk: m3ter.M3ter, created: list[str]) -> None:
    wanted = {created[3], created[200], created[42]}
    got = {p.id for p in sdk.products.list(ids=sorted(wanted))}
    assert got == wanted


def test_ids_filter_repeated_param(emu: Emulator, created: list[str]) -> None:
    with emu.http() as http:
        r = http.get("/products", params=[("ids", created[0]), ("ids", created[1])])
    assert r.status_code == 200, r.text
    assert {p["id"] for p in r.json()["data"]} == {created[0], created[1]}


def test_undocumented_filter_is_ignored(sdk: m3ter.M3ter, created: list[str]) -> None:
    # Products document only `ids`: a `codes` filter must not narrow the list (a client relying on it
    # would work here and break in production).
    page = sdk.products.list(page_size=50, extra_query={"codes": "page_0001"})
    assert len(page.data) == 50


def test_meter_filters(sdk: m3ter.M3ter, created: list[str]) -> None:
    product_a, product_b = created[0], created[1]
    m1 = sdk.meters.create(code="fm1", name="M1", product_id=product_a, data_fields=DATA_FIELDS, derived_fields=[])
    m2 = sdk.meters.create(code="fm2", name="M2", product_id=product_b, data_fields=DATA_FIELDS, derived_fields=[])
    m3 = sdk.meters.create(code="fm3", name="M3", data_fields=DATA_FIELDS, derived_fields=[])
    assert {m.id for m in sdk.meters.list(codes=["fm1", "fm3"])} == {m1.id, m3.id}
    assert {m.id for m in sdk.meters.list(product_id=[product_b])} == {m2.id}
    assert {m.id for m in sdk.meters.list(product_id=[product_a, product_b])} == {m1.id, m2.id}
    assert [m.id for m in sdk.meters.list()] == [m3.id, m2.id, m1.id]


def test_account_codes_filter(sdk: m3ter.M3ter) -> None:
    a = sdk.accounts.create(code="filter-a", name="A", email_address="a@example.com")
    sdk.accounts.create(code="filter-b", name="B", email_address="b@example.com")
    assert [x.id for x in sdk.accounts.list(codes=["filter-a"])] == [a.id]
    assert list(sdk.accounts.list(codes=["no-such-code"])) == []


def test_every_kind_pages_newest_first() -> None:
    # A fresh emulator: three complete setups, then each kind listed one entity per page.
    emu = Emulator()
    try:
        sdk = emu.client(token=emu.token())
        setups = [build_setup(sdk) for _ in range(3)]
        for kind in KINDS:
            created = [getattr(s, kind).id for s in setups]
            listed = [e.id for e in resource(sdk, kind).list(page_size=1)]
            if kind == "currency":
                # The shared currencies every setup makes sure of come first.
                listed = [i for i in listed if i in created]
            assert listed == list(reversed(created)), kind
    finally:
        stop_and_check(emu)


def test_bill_jobs_and_bills_page(emulator: Emulator) -> None:
    sdk = emulator.client(token=emulator.token())
    s = build_setup(sdk)
    # One bill per period: seven months, seven bills (a re-run would recalculate one).
    # Monthly periods from December 2024, when the account plan starts.
    months = [("2025-01-01", "2024-12-31")] + [("2025-%02d-01" % (m + 1), "2025-%02d-28" % m) for m in range(1, 7)]
    jobs = [run_bill_job(sdk, s.account.id, bill, last).id for bill, last in months]
    listed_jobs = [j.id for j in sdk.bill_jobs.list(page_size=2)]
    assert [j for j in listed_jobs if j in jobs] == list(reversed(jobs))
    assert len(listed_jobs) == len(set(listed_jobs))
    bills = [b.id for b in sdk.bills.list(account_id=s.account.id, page_size=3)]
    assert len(bills) == 7 and len(set(bills)) == 7
    items = list(sdk.bills.line_items.list(bills[0], page_size=1))
    assert len(items) == len({i.id for i in items}) >= 1
