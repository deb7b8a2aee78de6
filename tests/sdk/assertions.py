"""Assertions shared by the test modules."""

from __future__ import annotations

from typing import Any, Callable

import m3ter
import pytest


def message_of(err: m3ter.APIStatusError) -> str:
    """The `message` of an m3ter error body (asserting the body has that documented shape)."""
    body = err.body
    assert isinstance(body, dict), f"error body should be JSON {{'message': ...}}, got {body!r}"
    message = body.get("message")
    assert isinstance(message, str) and message, f"error body has no message: {body!r}"
    return message


def expect_400(call: Callable[[], Any], *fields: str) -> str:
    """Runs `call`, expects a 400 BadRequestError whose message names every one of `fields`."""
    with pytest.raises(m3ter.BadRequestError) as err:
        call()
    assert err.value.status_code == 400
    message = message_of(err.value)
    for field in fields:
        assert field in message, f"message should name `{field}`: {message!r}"
    return message
