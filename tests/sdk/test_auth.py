"""Authentication: the SDK's client-credentials flow, and 401/403 as the SDK's error classes."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Iterator

import httpx
import m3ter
import pytest

from conftest import API_KEY, API_SECRET, ORG_ID, Emulator, stop_and_check, unique

TOKEN_TTL_S = 1


@pytest.fixture(scope="module")
def short_ttl() -> Iterator[Emulator]:
    """An emulator whose tokens expire after one second."""
    emu = Emulator("--token-ttl", str(TOKEN_TTL_S))
    yield emu
    stop_and_check(emu)


def test_sdk_token_call(client: m3ter.M3ter) -> None:
    # The SDK's own call, with the Basic header it adds itself before every API call.
    basic = base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
    token = client.authentication.get_bearer_token(
        grant_type="client_credentials", extra_headers={"Authorization": f"Basic {basic}"}
    )
    assert token.access_token
    assert token.expires_in == 18000
    assert (token.token_type or "").lower() == "bearer"


def test_token_with_form_body(emulator: Emulator) -> None:
    # m3ter's docs show a form body; the SDKs send JSON. Both must work.
    basic = base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
    r = httpx.post(
        f"{emulator.base_url}/oauth/token",
        headers={"Authorization": f"Basic {basic}"},
        data={"grant_type": "client_credentials"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["access_token"] and body["expires_in"] == 18000


def test_token_bad_grant_type(emulator: Emulator) -> None:
    r = httpx.post(
        f"{emulator.base_url}/oauth/token", auth=(API_KEY, API_SECRET), json={"grant_type": "password"}
    )
    assert r.status_code == 400, r.text
    assert "grant_type" in r.json()["message"]


def test_unlimited_token_requests(client: m3ter.M3ter) -> None:
    # SDK 0.9.0 fetches a token before every call; 60 calls means 60 token requests.
    p = client.products.create(code=unique("tok"), name="Tokens")
    for _ in range(59):
        assert client.products.retrieve(p.id).id == p.id


def test_bad_secret_is_401(emulator: Emulator) -> None:
    bad = emulator.client(api_secret="wrong-secret")
    with pytest.raises(m3ter.AuthenticationError) as err:
        bad.products.list()
    assert err.value.status_code == 401
    assert "wrong-secret" not in str(err.value), "the secret must never be echoed"


def test_bad_key_is_401(emulator: Emulator) -> None:
    with pytest.raises(m3ter.AuthenticationError) as err:
        emulator.client(api_key="someone-else").products.list()
    assert err.value.status_code == 401


def test_token_call_without_basic_auth_is_401(emulator: Emulator) -> None:
    r = httpx.post(f"{emulator.base_url}/oauth/token", json={"grant_type": "client_credentials"})
    assert r.status_code == 401, r.text
    assert r.json().get("message")


def test_wrong_org_is_403(emulator: Emulator) -> None:
    other_org = str(uuid.uuid4())
    with pytest.raises(m3ter.PermissionDeniedError) as err:
        emulator.client(org_id=other_org).products.list()
    assert err.value.status_code == 403
    assert isinstance(err.value.body, dict) and err.value.body.get("message")


def test_per_call_org_override_is_checked(client: m3ter.M3ter) -> None:
    with pytest.raises(m3ter.PermissionDeniedError):
        client.products.list(org_id=str(uuid.uuid4()))


def test_garbage_bearer_token_is_403(emulator: Emulator) -> None:
    with pytest.raises(m3ter.PermissionDeniedError) as err:
        emulator.client(token="not-a-real-token").products.list()
    assert err.value.status_code == 403


def test_missing_bearer_token_is_403(emulator: Emulator) -> None:
    r = httpx.get(f"{emulator.base_url}/organizations/{ORG_ID}/products")
    assert r.status_code == 403, r.text
    assert r.json().get("message")


def test_preset_token_skips_oauth(emulator: Emulator) -> None:
    sdk = emulator.client(token=emulator.token())
    p = sdk.products.create(code=unique("preset"), name="Preset token")
    assert sdk.products.retrieve(p.id).code == p.code


def test_expired_token_is_403(short_ttl: Emulator) -> None:
    token = short_ttl.token()
    sdk = short_ttl.client(token=token)
    assert sdk.products.list().data == []
    time.sleep(TOKEN_TTL_S + 1.2)
    with pytest.raises(m3ter.PermissionDeniedError) as err:
        sdk.products.list()
    assert err.value.status_code == 403
    # A fresh token works again (the SDK fetches one when it holds none).
    assert short_ttl.client().products.list().data == []

