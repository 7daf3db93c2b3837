"""Every bad input gets a clear error in the OpenAI shape — never a 500."""

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support import ADMIN, Gateway, bearer


def assert_error_shape(response: Any, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code", "param"}
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code
    assert response.headers["x-request-id"]


@pytest.mark.parametrize(
    "body",
    [b"{", b"not json", b"", b"\xff\xfe", b'{"model": "sim/gpt-small", "messages": [}'],
)
async def test_malformed_json_on_chat(gateway: Gateway, body: bytes) -> None:
    account = await gateway.customer("1")
    response = await gateway.client.post("/v1/chat/completions", content=body, headers=bearer(account["api_key"]))
    assert_error_shape(response, 400, "invalid_json")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ([], None),
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": 5, "messages": []}, "model"),
        ({"model": "sim/gpt-small"}, "messages"),
        ({"model": "sim/gpt-small", "messages": "hi"}, "messages"),
        ({"model": "sim/gpt-small", "messages": [{"content": "x"}]}, "messages[0]"),
        ({"model": "sim/gpt-small", "messages": [{"role": "user"}], "stream": "yes"}, "stream"),
        ({"model": "sim/gpt-small", "messages": [{"role": "user"}], "max_tokens": "10"}, "max_tokens"),
        ({"model": "sim/gpt-small", "messages": [{"role": "user"}], "max_tokens": 0}, "max_tokens"),
        ({"model": "sim/gpt-small", "messages": [{"role": "user"}], "max_tokens": True}, "max_tokens"),
        ({"model": "sim/gpt-small", "messages": [{"role": "user"}], "n": 1000}, "n"),
        ({"model": "sim/gpt-small", "messages": [{"role": "user"}], "stream_options": 1}, "stream_options"),
    ],
)
async def test_wrong_types_on_chat(gateway: Gateway, body: Any, param: str | None) -> None:
    account = await gateway.customer("1")
    response = await gateway.client.post("/v1/chat/completions", json=body, headers=bearer(account["api_key"]))
    assert_error_shape(response, 400, "invalid_request")
    assert response.json()["error"]["param"] == param
    assert (await gateway.balance(account["api_key"]))["reserved"] == 0


async def test_unknown_fields_pass_through_on_chat(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    response = await gateway.chat(account["api_key"], temperature=0.2, some_vendor_extension={"x": 1})
    assert response.status_code == 200


async def test_malformed_json_and_wrong_types_on_api_routes(gateway: Gateway) -> None:
    assert_error_shape(
        await gateway.client.post("/auth/register", content=b"{nope", headers={"content-type": "application/json"}),
        400,
        "invalid_json",
    )
    assert_error_shape(await gateway.client.post("/auth/register", json={"email": ["x"]}), 400, "invalid_request")
    assert_error_shape(
        await gateway.client.post("/admin/add_credits", json={"user_id": 1, "credits": {}}, headers=ADMIN),
        400,
        "invalid_request",
    )
    assert_error_shape(await gateway.client.get("/admin/balance?limit=abc", headers=ADMIN), 400, "invalid_request")
    assert_error_shape(await gateway.client.get("/admin/balance?limit=0", headers=ADMIN), 400, "invalid_request")


async def test_unknown_routes_and_methods(gateway: Gateway) -> None:
    assert_error_shape(await gateway.client.get("/nope"), 404, "not_found")
    assert_error_shape(await gateway.client.get("/v1/chat/completions"), 405, "method_not_allowed")
    assert_error_shape(await gateway.client.delete("/health"), 405)


async def test_oversized_bodies_are_413(gateway_factory: Any) -> None:
    async with gateway_factory(max_body_bytes=1000) as gateway:
        account = await gateway.customer("1")
        big = {"model": "sim/gpt-small", "messages": [{"role": "user", "content": "x" * 2000}]}
        response = await gateway.client.post("/v1/chat/completions", json=big, headers=bearer(account["api_key"]))
        assert_error_shape(response, 413, "request_too_large")
        response = await gateway.client.post("/auth/register", json={"email": "a@b.co", "username": "x" * 2000})
        assert_error_shape(response, 413, "request_too_large")

        async def chunked() -> AsyncIterator[bytes]:
            for _ in range(20):
                yield b"x" * 100

        response = await gateway.client.post(
            "/v1/chat/completions", content=chunked(), headers=bearer(account["api_key"])
        )
        assert_error_shape(response, 413, "request_too_large")
        assert (await gateway.balance(account["api_key"]))["reserved"] == 0


async def test_every_response_has_a_request_id(gateway: Gateway) -> None:
    for path in ["/health", "/models", "/v1/models", "/docs", "/openapi.json", "/nope"]:
        response = await gateway.client.get(path)
        assert response.headers["x-request-id"], path
    bad_id = await gateway.client.get("/health", headers={"x-request-id": "bad id\twith spaces"})
    assert bad_id.headers["x-request-id"].startswith("req_")


async def test_openapi_describes_every_route(gateway: Gateway) -> None:
    schema = (await gateway.client.get("/openapi.json")).json()
    paths = set(schema["paths"])
    assert {
        "/health",
        "/models",
        "/models/providers",
        "/v1/models",
        "/auth/register",
        "/user/balance",
        "/user/api-keys",
        "/admin/add_credits",
        "/admin/balance",
        "/admin/refresh-models",
        "/admin/cache-status",
        "/v1/chat/completions",
    } <= paths


async def test_secrets_are_not_logged(gateway: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    account = await gateway.customer("1")
    await gateway.chat(account["api_key"], messages=[{"role": "user", "content": "my secret prompt"}])
    await gateway.chat(account["api_key"], model="sim/fail-500")
    logged = caplog.text
    for secret in (account["api_key"], "my secret prompt", gateway.settings.secret()):
        assert secret not in logged


async def test_an_unexpected_failure_is_a_500_in_the_same_shape(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from gateway.services.billing import balances as accounts

    account = await gateway.customer("1")

    async def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("database exploded at /secret/path")

    monkeypatch.setattr(accounts, "balance_of", broken)
    response = await gateway.client.get("/user/balance", headers=bearer(account["api_key"]))
    assert_error_shape(response, 500, "internal_error")
    assert "exploded" not in response.text
    monkeypatch.setattr("gateway.routes.chat.chat_completion", broken)
    response = await gateway.chat(account["api_key"])
    assert_error_shape(response, 500, "internal_error")
    assert "exploded" not in response.text


def nested(depth: int) -> bytes:
    """A JSON value `depth` containers deep."""
    return b'[{"a": ' * (depth // 2) + (b"[]" if depth % 2 else b"0") + b"}]" * (depth // 2)


def chat_body(*, extra: bytes, stream: bool = True) -> bytes:
    head = b'{"model": "sim/gpt-small", "messages": [{"role": "user", "content": "Hello"}], '
    return head + b'"stream": ' + (b"true" if stream else b"false") + b", " + extra + b"}"


@pytest.mark.parametrize("stream", [True, False])
async def test_deeply_nested_chat_bodies_are_refused_before_anything_is_held(gateway: Gateway, stream: bool) -> None:
    account = await gateway.customer("1")
    limit = 128  # the documented limit: a body nests at most 128 levels, its own object included
    fits = chat_body(extra=b'"metadata_x": ' + nested(limit - 1), stream=stream)
    response = await gateway.client.post("/v1/chat/completions", content=fits, headers=bearer(account["api_key"]))
    assert response.status_code == 200, response.text
    for depth in (limit, 300, 1100):
        deep = chat_body(extra=b'"metadata_x": ' + nested(depth), stream=stream)
        response = await gateway.client.post("/v1/chat/completions", content=deep, headers=bearer(account["api_key"]))
        assert_error_shape(response, 400, "invalid_request")
        assert "128 levels" in response.json()["error"]["message"]
    assert (await gateway.balance(account["api_key"]))["reserved"] == 0
    windows = (await gateway.client.get("/user/limit", headers=bearer(account["api_key"]))).json()["limits"]
    assert {w["used"] for w in windows if w["dimension"] == "requests"} == {1}  # only the one that fitted


async def test_deeply_nested_tools_on_a_test_key_are_refused(gateway: Gateway) -> None:
    account = await gateway.register("t@example.com", environment_tag="test")
    assert account["api_key"].startswith("gw_test_")
    for depth in (300, 129):
        body = chat_body(extra=b'"tools": [' + nested(depth - 2) + b"]")
        response = await gateway.client.post("/v1/chat/completions", content=body, headers=bearer(account["api_key"]))
        assert_error_shape(response, 400, "invalid_request")
    shallow = chat_body(extra=b'"tools": [' + nested(100) + b"]")
    response = await gateway.client.post("/v1/chat/completions", content=shallow, headers=bearer(account["api_key"]))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("depth", [129, 300, 5000])
async def test_deeply_nested_bodies_on_api_routes_are_refused(gateway: Gateway, depth: int) -> None:
    content = b'{"email": "deep@example.com", "username": ' + nested(depth) + b"}"
    response = await gateway.client.post(
        "/auth/register", content=content, headers={"content-type": "application/json"}
    )
    assert_error_shape(response, 400, "invalid_request")
    assert "128 levels" in response.json()["error"]["message"]


async def test_numbers_with_huge_exponents_are_refused_at_once(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    for number in (b"1e-9999999", b"1e9999999", b"-1e9999999", b"1" + b"0" * 5000):
        started = time.monotonic()
        response = await gateway.client.post(
            "/user/api-keys",
            content=b'{"key_name": "k", "max_requests": ' + number + b"}",
            headers={**bearer(account["api_key"]), "content-type": "application/json"},
        )
        assert_error_shape(response, 400, "invalid_request")
        assert time.monotonic() - started < 2, "converting the number must not cost seconds"


async def test_an_unpayable_max_tokens_is_a_402_or_a_429(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    for plan_id, limits in (("untokened", {"requests_per_minute": 100}), ("tokened", {"tokens_per_day": 10**6})):
        created = await gateway.client.post(
            "/admin/plans", json={"id": plan_id, "name": plan_id, **limits}, headers=ADMIN
        )
        assert created.status_code == 201, created.text
    await gateway.assign_plan(account["user_id"], "untokened")
    response = await gateway.chat(account["api_key"], max_tokens=2**62)
    assert_error_shape(response, 402, "insufficient_credits")
    assert response.headers["x-should-retry"] == "false"
    await gateway.assign_plan(account["user_id"], "tokened")
    response = await gateway.chat(account["api_key"], max_tokens=2**62, stream=True)
    assert_error_shape(response, 429, "token_limit_exceeded")
    assert response.headers["x-should-retry"] == "false"
    assert (await gateway.balance(account["api_key"]))["reserved"] == 0
