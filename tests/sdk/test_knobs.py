"""Emulator knobs as an SDK user meets them: rate limits, injected faults, latency, durability."""

from __future__ import annotations

import collections
import time
from pathlib import Path

import m3ter
import pytest

from conftest import Emulator, stop_and_check


def test_max_rps_gives_429_with_retry_after() -> None:
    emu = Emulator("--max-rps", "5")
    try:
        sdk = emu.client(token=emu.token())  # a preset token: the token call is not an org request
        outcomes: list[object] = []
        for _ in range(30):
            try:
                sdk.products.list()
                outcomes.append(200)
            except m3ter.RateLimitError as err:
                retry_after = err.response.headers.get("retry-after")
                assert retry_after is not None and 0 < float(retry_after) <= 1, retry_after
                outcomes.append(429)
        # Calls take milliseconds: a one-second window sees more than 5, and the extra ones get 429.
        # The first 5 always pass (no window can be full before them).
        assert outcomes[:5] == [200] * 5, outcomes
        assert outcomes.count(429) >= 1, outcomes

        # The SDK's own retries honour Retry-After and get every call through.
        patient = emu.client(token=emu.token(), max_retries=4)
        started = time.monotonic()
        for _ in range(12):
            assert patient.products.list().data == []
        assert time.monotonic() - started >= 1.0, "12 calls at 5 req/s cannot finish within a second"
    finally:
        stop_and_check(emu)


def test_fault_injection_kinds_and_sdk_retries() -> None:
    emu = Emulator("--fault-rate", "0.5", "--fault-seed", "3")
    try:
        bare = emu.client(token=emu.token(), max_retries=0)
        seen: collections.Counter[object] = collections.Counter()
        for i in range(150):
            try:
                bare.products.create(code=f"fault_{i}", name="Fault")
                seen["ok"] += 1
            except m3ter.RateLimitError as err:
                assert err.response.headers.get("retry-after") == "1"
                seen[429] += 1
            except m3ter.InternalServerError as err:
                seen[err.status_code] += 1
            except m3ter.APIConnectionError:
                seen["dropped"] += 1
        # Every documented fault kind shows up, and the rest succeed.
        assert {"ok", 429, 500, 503, "dropped"} <= set(seen), seen
        assert 40 <= seen["ok"] <= 110, seen

        # "Commit then fail": some failed creates were stored anyway, so a client must look before
        # it retries a create. With retries the list itself gets through.
        patient = emu.client(token=emu.token(), max_retries=10)
        stored = sum(1 for _ in patient.products.list(page_size=100))
        assert stored > seen["ok"], f"stored {stored}, acknowledged {seen['ok']}: no commit-then-fail fault seen"
        assert stored < 150
    finally:
        stop_and_check(emu)


def test_fault_seed_makes_the_sequence_reproducible() -> None:
    def run() -> list[object]:
        emu = Emulator("--fault-rate", "0.5", "--fault-seed", "42")
        try:
            sdk = emu.client(token=emu.token(), max_retries=0)
            out: list[object] = []
            for i in range(30):
                try:
                    sdk.products.list()
                    out.append("ok")
                except m3ter.APIStatusError as err:
                    out.append(err.status_code)
                except m3ter.APIConnectionError:
                    out.append("dropped")
            return out
        finally:
            stop_and_check(emu)

    first, second = run(), run()
    assert first == second
    assert "ok" in first and len(set(first)) > 1, first


def test_faults_spare_the_token_endpoint() -> None:
    emu = Emulator("--fault-rate", "1", "--fault-seed", "1")
    try:
        for _ in range(10):
            assert emu.token()
    finally:
        stop_and_check(emu)


def test_latency_applies_to_api_calls() -> None:
    emu = Emulator("--latency-ms", "300")
    try:
        sdk = emu.client(token=emu.token())
        started = time.monotonic()
        sdk.products.list()
        assert time.monotonic() - started >= 0.3
    finally:
        stop_and_check(emu)


def test_data_file_survives_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "org.db"
    emu = Emulator("--data", str(data))
    try:
        sdk = emu.client()
        product = sdk.products.create(code="durable", name="Before")
        sdk.products.update(product.id, code="durable", name="After", version=1)
        deleted = sdk.products.create(code="gone", name="Gone")
        sdk.products.delete(deleted.id)
    finally:
        stop_and_check(emu)

    again = Emulator("--data", str(data))
    try:
        sdk = again.client()
        restored = sdk.products.retrieve(product.id)
        assert (restored.code, restored.name, restored.version) == ("durable", "After", 2)
        with pytest.raises(m3ter.NotFoundError):
            sdk.products.retrieve(deleted.id)
        # Versions keep counting from the restored value.
        assert sdk.products.update(product.id, code="durable", name="Again", version=2).version == 3
    finally:
        stop_and_check(again)
