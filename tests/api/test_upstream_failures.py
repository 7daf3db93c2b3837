"""Upstream failures are mapped for the customer and never charged."""

from typing import Any

import pytest
from aiohttp import web

from tests.support import FakeUpstream, Gateway


@pytest.mark.parametrize(
    ("model", "status", "code"),
    [
        ("sim/fail-500", 502, "upstream_error"),
        ("sim/fail-503", 502, "upstream_error"),
        ("sim/error-400", 400, "invalid_request"),
        ("sim/error-401", 502, "upstream_error"),
        ("sim/error-402", 502, "upstream_error"),
        ("sim/error-403", 502, "upstream_error"),
        ("sim/error-429", 429, "rate_limit_exceeded"),
    ],
)
async def test_simulated_failures_are_mapped_and_free(gateway: Gateway, model: str, status: int, code: str) -> None:
    account = await gateway.customer("1")
    response = await gateway.chat(account["api_key"], model=model)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    balance = await gateway.balance(account["api_key"])
    assert (balance["credits"], balance["reserved"]) == (1, 0)
    if status == 429:
        assert response.headers["retry-after"] == "7"


async def test_timeout_is_a_504_and_free(gateway_factory: Any) -> None:
    async with gateway_factory(upstream_timeout=0.2) as gateway:
        account = await gateway.customer("1")
        response = await gateway.chat(account["api_key"], model="sim/timeout")
        assert response.status_code == 504
        assert response.json()["error"]["code"] == "upstream_timeout"
        assert (await gateway.balance(account["api_key"]))["credits"] == 1


def scripted(status: int, body: Any, headers: dict[str, str] | None = None) -> Any:
    async def answer(_: dict[str, Any]) -> web.StreamResponse:
        return web.json_response(body, status=status, headers=headers)

    return answer


@pytest.mark.parametrize(
    ("status", "expected", "code"),
    [
        (400, 400, "invalid_request"),
        (401, 502, "upstream_error"),
        (402, 502, "upstream_error"),
        (403, 502, "upstream_error"),
        (404, 502, "upstream_error"),
        (429, 429, "rate_limit_exceeded"),
        (500, 502, "upstream_error"),
        (502, 502, "upstream_error"),
        (503, 502, "upstream_error"),
        (504, 504, "upstream_timeout"),
    ],
)
async def test_http_upstream_statuses_are_mapped(
    proxied: Gateway, upstream: FakeUpstream, status: int, expected: int, code: str
) -> None:
    account = await proxied.customer("1")
    upstream.answer = scripted(
        status, {"error": {"message": "Context too long (key sk-upstream-secret-123)"}}, {"Retry-After": "3"}
    )
    response = await proxied.chat(account["api_key"])
    assert response.status_code == expected
    error = response.json()["error"]
    assert error["code"] == code
    assert "sk-upstream-secret-123" not in response.text
    if status == 400:
        assert error["message"].startswith("Context too long")
    if status == 429:
        assert response.headers["retry-after"] == "3"
    balance = await proxied.balance(account["api_key"])
    assert (balance["credits"], balance["reserved"]) == (1, 0)


async def test_an_upstream_400_keeps_its_code_param_and_type(proxied: Gateway, upstream: FakeUpstream) -> None:
    """SDK users read `e.code`, and LangChain recognises a context overflow by it."""
    account = await proxied.customer("1")
    error = {
        "message": "This model's maximum context length is 8192 tokens (key sk-upstream-secret-123)",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
    upstream.answer = scripted(400, {"error": error})
    response = await proxied.chat(account["api_key"])
    assert response.status_code == 400
    shown = response.json()["error"]
    assert shown["code"] == "context_length_exceeded"
    assert (shown["param"], shown["type"]) == ("messages", "invalid_request_error")
    assert "sk-upstream-secret-123" not in response.text
    balance = await proxied.balance(account["api_key"])
    assert (balance["credits"], balance["reserved"]) == (1, 0)


async def test_an_unreadable_upstream_answer_is_a_502(proxied: Gateway, upstream: FakeUpstream) -> None:
    account = await proxied.customer("1")

    async def garbage(_: dict[str, Any]) -> web.StreamResponse:
        return web.Response(body=b"<html>oops", content_type="application/json")

    upstream.answer = garbage
    response = await proxied.chat(account["api_key"])
    assert response.status_code == 502
    assert (await proxied.balance(account["api_key"]))["credits"] == 1


async def test_a_vanished_upstream_is_a_502(gateway_factory: Any) -> None:
    from tests.support import free_port

    dead = f"http://127.0.0.1:{free_port()}/v1"
    async with gateway_factory(upstream_base_url=dead, upstream_timeout=2) as gateway:
        # No catalog can be fetched: the gateway says so rather than serving anything for free.
        account = await gateway.customer("1")
        response = await gateway.chat(account["api_key"])
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "service_unavailable"


async def test_the_upstream_dies_after_the_catalog(proxied: Gateway, upstream: FakeUpstream) -> None:
    account = await proxied.customer("1")
    assert (await proxied.chat(account["api_key"])).status_code == 200
    await upstream.stop()
    response = await proxied.chat(account["api_key"])
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_error"
    assert (await proxied.balance(account["api_key"]))["reserved"] == 0
