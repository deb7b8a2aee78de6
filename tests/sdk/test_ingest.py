"""Measurements ingest through `client.usage.submit` (same port as the config API)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

import m3ter
import pytest

from builders import DATA_FIELDS
from conftest import unique


def measurement(meter: str, account: str, **over: Any) -> dict[str, Any]:
    m: dict[str, Any] = {
        "uid": str(uuid.uuid4()),
        "meter": meter,
        "account": account,
        "ts": "2024-12-05T10:00:00Z",
        "measure": {"requests": 3},
    }
    m.update(over)
    return m


@pytest.fixture(scope="module")
def meter_code(client: m3ter.M3ter) -> str:
    code = unique("ingest_meter")
    client.meters.create(code=code, name="Ingest meter", data_fields=DATA_FIELDS, derived_fields=[])
    return code


@pytest.fixture(scope="module")
def account_code(client: m3ter.M3ter) -> str:
    code = unique("ingest_acct")
    client.accounts.create(code=code, name="Ingest account", email_address="ingest@example.com")
    return code


def test_submit_is_accepted(client: m3ter.M3ter, meter_code: str, account_code: str) -> None:
    r = client.usage.submit(measurements=[measurement(meter_code, account_code)])
    assert r.result == "accepted"


def test_submit_1000_is_accepted(client: m3ter.M3ter, meter_code: str, account_code: str) -> None:
    batch = [measurement(meter_code, account_code, measure={"requests": i}) for i in range(1000)]
    assert client.usage.submit(measurements=batch).result == "accepted"


def test_submit_1001_is_400(client: m3ter.M3ter, meter_code: str, account_code: str) -> None:
    batch = [measurement(meter_code, account_code) for _ in range(1001)]
    with pytest.raises(m3ter.BadRequestError) as err:
        client.usage.submit(measurements=batch)
    assert err.value.status_code == 400
    assert "measurements" in str(err.value.body)


def test_submit_empty_is_400(client: m3ter.M3ter) -> None:
    with pytest.raises(m3ter.BadRequestError) as err:
        client.usage.submit(measurements=[])
    assert "measurements" in str(err.value.body)


def test_payload_of_512kb_or_more_is_403(client: m3ter.M3ter, meter_code: str, account_code: str) -> None:
    # 600 measurements of ~1 KB each: well under the count limit, over the byte limit.
    filler = {f"k{i}": "x" * 90 for i in range(10)}
    batch = [measurement(meter_code, account_code, metadata=filler) for _ in range(600)]
    with pytest.raises(m3ter.PermissionDeniedError) as err:
        client.usage.submit(measurements=batch)
    assert err.value.status_code == 403


def test_duplicate_uid_is_still_accepted(client: m3ter.M3ter, meter_code: str, account_code: str) -> None:
    # Idempotent on uid: a retried batch is accepted again (the duplicate is dropped at billing,
    # which test_billing.py checks through the bill's quantity).
    m = measurement(meter_code, account_code)
    assert client.usage.submit(measurements=[m]).result == "accepted"
    assert client.usage.submit(measurements=[m, m]).result == "accepted"


def test_datetime_values_as_the_sdk_serialises_them(client: m3ter.M3ter, meter_code: str, account_code: str) -> None:
    ts = datetime(2024, 12, 6, 12, 30, tzinfo=timezone.utc)  # sent as 2024-12-06T12:30:00+00:00
    m = measurement(meter_code, account_code, ts=ts, ets=ts)
    assert client.usage.submit(measurements=[m]).result == "accepted"


def test_missing_required_measurement_field(client: m3ter.M3ter, meter_code: str) -> None:
    m = measurement(meter_code, "someone")
    del m["account"]
    with pytest.raises(m3ter.BadRequestError) as err:
        client.usage.submit(measurements=[m])
    assert "account" in str(err.value.body)


def test_bad_timestamp(client: m3ter.M3ter, meter_code: str, account_code: str) -> None:
    with pytest.raises(m3ter.BadRequestError) as err:
        client.usage.submit(measurements=[measurement(meter_code, account_code, ts="yesterday")])
    assert "ts" in str(err.value.body)


def test_unknown_account_is_autocreated(client: m3ter.M3ter, meter_code: str) -> None:
    code = unique("auto")
    assert client.usage.submit(measurements=[measurement(meter_code, code)]).result == "accepted"
    accounts = list(client.accounts.list(codes=[code]))
    assert len(accounts) == 1
    assert accounts[0].name == f"{code}-autocreated"
    assert accounts[0].email_address and "@" in accounts[0].email_address
    # A second measurement for the same code reuses that account.
    client.usage.submit(measurements=[measurement(meter_code, code)])
    assert len(list(client.accounts.list(codes=[code]))) == 1


def test_unknown_meter_is_accepted(client: m3ter.M3ter, account_code: str) -> None:
    r = client.usage.submit(measurements=[measurement(unique("no_such_meter"), account_code)])
    assert r.result == "accepted"
