"""Wire-level behaviour the SDK cannot provoke: malformed bodies, content types, the stats endpoint."""

from __future__ import annotations

import json
from typing import Iterator

import httpx
import pytest

from conftest import ORG_ID, Emulator, stop_and_check, unique


def assert_message_body(r: httpx.Response, status: int) -> str:
    """The response has `status` and the documented `{"message": "..."}` JSON body."""
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text}"
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    body = r.json()
    assert isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"], body
    return body["message"]


def test_create_is_200_not_201(emulator: Emulator) -> None:
    with emulator.http() as http:
        r = http.post("/products", json={"code": unique("raw"), "name": "Raw"})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1


def test_malformed_json_is_400_with_message(emulator: Emulator) -> None:
    with emulator.http() as http:
        r = http.post("/products", content=b'{"code": "x", "name": ', headers={"Content-Type": "application/json"})
    assert_message_body(r, 400)


def test_json_that_is_not_an_object_is_400(emulator: Emulator) -> None:
    with emulator.http() as http:
        r = http.post("/products", json=["code", "name"])
    assert_message_body(r, 400)


def test_wrong_content_type_is_400_with_message(emulator: Emulator) -> None:
    with emulator.http() as http:
        r = http.post("/products", content=b"code=x&name=y", headers={"Content-Type": "text/plain"})
    assert_message_body(r, 400)


def test_missing_required_field_message_names_it(emulator: Emulator) -> None:
    with emulator.http() as http:
        r = http.post("/products", json={"code": unique("raw")})
    assert "name" in assert_message_body(r, 400)


def test_unknown_id_in_path_is_404_with_message(emulator: Emulator) -> None:
    with emulator.http() as http:
        r = http.get("/products/00000000-0000-4000-8000-0000000000ff")
    assert_message_body(r, 404)


def test_delete_returns_the_entity(emulator: Emulator) -> None:
    with emulator.http() as http:
        created = http.post("/products", json={"code": unique("del"), "name": "Del"}).json()
        r = http.delete(f"/products/{created['id']}")
        assert r.status_code == 200, r.text
        assert r.json()["id"] == created["id"]
        assert http.get(f"/products/{created['id']}").status_code == 404


def test_measurements_share_the_port(emulator: Emulator) -> None:
    body = {"measurements": [{"meter": "m", "account": unique("acct"), "ts": "2024-12-01T00:00:00Z"}]}
    with emulator.http() as http:
        r = http.post("/measurements", json=body)
    assert r.status_code == 200, r.text
    assert r.json() == {"result": "accepted"}


@pytest.mark.parametrize("size,status", [(511_999, 200), (512_000, 403)])
def test_ingest_size_limit_boundary(emulator: Emulator, size: int, status: int) -> None:
    # "< 512,000 bytes" (SPEC): pad a small valid body with JSON whitespace to the exact size.
    core = json.dumps({"measurements": [{"meter": "m", "account": unique("size"), "ts": "2024-12-01T00:00:00Z"}]})
    body = (core[:-1] + " " * (size - len(core)) + "}").encode()
    assert len(body) == size
    with emulator.http() as http:
        r = http.post("/measurements", content=body, headers={"Content-Type": "application/json"})
    if status == 200:
        assert r.status_code == 200, r.text
    else:
        assert_message_body(r, 403)


# --- /_emulator/stats on its own emulator, so counts are exact -------------------------------


@pytest.fixture(scope="module")
def counted() -> Iterator[Emulator]:
    emu = Emulator()
    yield emu
    stop_and_check(emu)


def test_stats_count_by_route_template(counted: Emulator) -> None:
    stats = httpx.get(f"{counted.base_url}/_emulator/stats")  # no auth needed
    assert stats.status_code == 200, stats.text
    assert httpx.delete(f"{counted.base_url}/_emulator/stats").status_code in (200, 204)
    after_reset = httpx.get(f"{counted.base_url}/_emulator/stats").json()
    # Only the stats reads themselves (if they count at all) are left after a reset.
    assert all("/_emulator/stats" in route for route in after_reset["requests"]), after_reset
    assert after_reset["total"] == sum(after_reset["requests"].values()) <= 1, after_reset

    sdk = counted.client()
    p = sdk.products.create(code="stats", name="Stats")
    sdk.products.retrieve(p.id)
    sdk.products.retrieve(p.id)

    stats = httpx.get(f"{counted.base_url}/_emulator/stats").json()
    requests = stats["requests"]
    assert requests.get("POST /organizations/{orgId}/products") == 1, requests
    by_id = [k for k in requests if k.startswith("GET /organizations/{orgId}/products/{") and k.endswith("}")]
    assert len(by_id) == 1 and requests[by_id[0]] == 2, requests
    # Three SDK calls, each preceded by a token call (SDK 0.9.0); the stats reads themselves may count.
    assert stats["total"] >= 6, stats
    assert ORG_ID not in str(requests), "routes are counted by template, not by concrete path"
