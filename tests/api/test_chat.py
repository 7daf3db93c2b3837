"""The paid gateway call, non-streaming, through the ASGI app and the in-process simulator."""

import json
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web

from gateway.db.billing import holds as reservations
from tests.support import FakeUpstream, Gateway, bearer, json_decimal

# sim/gpt-small: 0.00000015 per prompt token, 0.0000006 per completion token.
# "Hello" → 9 prompt tokens, 20 completion tokens → 1,350 + 12,000 nano-credits.
HELLO_COST = Decimal("0.00001335")


async def test_a_paid_request_costs_exactly_its_tokens(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    response = await gateway.chat(account["api_key"])
    assert response.status_code == 200, response.text
    body = json_decimal(response)
    assert body["usage"]["prompt_tokens"] == 9
    assert body["usage"]["completion_tokens"] == 20
    assert body["usage"]["cost"] == HELLO_COST
    balance = await gateway.balance(account["api_key"])
    assert balance["credits"] == Decimal(1) - HELLO_COST
    assert balance["reserved"] == 0
    assert await gateway.ledger_total(account["user_id"]) == (Decimal(1) - HELLO_COST) * 10**9


async def test_usage_rows_and_no_reservation_left(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    await gateway.chat(account["api_key"])
    async with gateway.runtime.db.read() as tx:
        assert await reservations.held_by_user(tx, account["user_id"]) == 0
        row = await tx.fetchrow("SELECT * FROM usage_records WHERE user_id = $1", account["user_id"])
    assert row is not None
    assert (row["outcome"], row["prompt_tokens"], row["completion_tokens"], row["cost"]) == (
        "completed",
        9,
        20,
        13_350,
    )
    assert row["usage_source"] == "upstream"


async def test_markup_applies_to_the_price(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    async with gateway_factory(credit_markup="1.5") as gateway:
        account = await gateway.customer("1")
        body = json_decimal(await gateway.chat(account["api_key"]))
        assert body["usage"]["cost"] == HELLO_COST * Decimal("1.5")


async def test_a_request_fee_is_charged(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    body = json_decimal(await gateway.chat(account["api_key"], model="sim/per-request"))
    # 9 × 0.000001 + 20 × 0.000002 + 0.001
    assert body["usage"]["cost"] == Decimal("0.001049")


async def test_client_max_tokens_is_honoured_not_lowered(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    response = await gateway.chat(account["api_key"], max_tokens=5)
    body = json_decimal(response)
    assert body["usage"]["completion_tokens"] == 5
    assert body["choices"][0]["finish_reason"] == "length"


async def test_unaffordable_max_tokens_is_refused_with_402(gateway: Gateway) -> None:
    account = await gateway.customer("0.0001")
    response = await gateway.chat(account["api_key"], max_tokens=1_000)  # up to 0.0006 credits
    assert response.status_code == 402
    assert response.headers["x-should-retry"] == "false"
    assert response.json()["error"]["code"] == "insufficient_credits"
    balance = await gateway.balance(account["api_key"])
    assert balance["credits"] == Decimal("0.0001") and balance["reserved"] == 0


async def test_without_max_tokens_the_output_is_capped_at_what_the_balance_pays(gateway: Gateway) -> None:
    # The prompt bound is the body's bytes; leave room for exactly 7 output tokens.
    account = await gateway.customer("0")
    body = {"model": "sim/gpt-small", "messages": [{"role": "user", "content": "Hello"}]}
    import orjson

    bound = len(orjson.dumps(body)) + 3
    credits = Decimal(bound * 150 + 7 * 600 + 599) / 10**9
    await gateway.top_up(account["user_id"], str(credits))
    response = await gateway.chat(account["api_key"])
    assert response.status_code == 200, response.text
    data = json_decimal(response)
    assert data["usage"]["completion_tokens"] == 7
    assert data["choices"][0]["finish_reason"] == "length"
    balance = await gateway.balance(account["api_key"])
    assert balance["credits"] == credits - data["usage"]["cost"] >= 0


async def test_402_when_not_even_one_token_is_affordable(gateway: Gateway) -> None:
    account = await gateway.customer("0")
    response = await gateway.chat(account["api_key"])
    assert response.status_code == 402
    assert response.headers["x-should-retry"] == "false"


async def test_test_keys_use_the_simulator_and_spend_nothing(gateway: Gateway) -> None:
    account = await gateway.register(environment_tag="test")
    assert account["api_key"].startswith("gw_test_")
    response = await gateway.chat(account["api_key"])
    assert response.status_code == 200
    assert json_decimal(response)["usage"]["cost"] == 0
    assert (await gateway.balance(account["api_key"]))["credits"] == 0


async def test_test_keys_answer_every_model_of_the_live_catalog_for_free(
    proxied: Gateway, upstream: FakeUpstream
) -> None:
    """The simulator answers the live catalog's ids too, so code written against a test key
    works unchanged with a live one."""
    upstream.catalog = {
        "data": [
            {"id": "openai/gpt-4o", "context_length": 128_000, "top_provider": {"max_completion_tokens": 16_384},
             "pricing": {"prompt": "0.0000025", "completion": "0.00001"}},
        ]
    }  # fmt: skip
    account = await proxied.register(environment_tag="test")
    for stream in (False, True):
        response = await proxied.chat(account["api_key"], model="openai/gpt-4o", stream=stream)
        assert response.status_code == 200, response.text
        if not stream:
            document = json_decimal(response)
            assert document["model"] == "openai/gpt-4o" and document["usage"]["cost"] == 0
        else:
            assert response.text.rstrip().endswith("data: [DONE]")
    assert upstream.requests == []  # never reached the real upstream
    assert (await proxied.balance(account["api_key"]))["credits"] == 0


@pytest.mark.parametrize("model", ["nope/not-a-model", "sim/unpriced", "sim/variable"])
async def test_unknown_and_unpriced_models_are_refused(gateway: Gateway, model: str) -> None:
    account = await gateway.customer("1")
    response = await gateway.chat(account["api_key"], model=model)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "model_not_found"
    assert response.json()["error"]["param"] == "model"


async def test_a_free_model_is_served_for_nothing(gateway: Gateway) -> None:
    account = await gateway.customer("0")
    await gateway.top_up(account["user_id"], "0.000001")
    response = await gateway.chat(account["api_key"], model="sim/free")
    assert response.status_code == 200
    assert json_decimal(response)["usage"]["cost"] == 0


async def test_no_usage_from_upstream_is_billed_by_the_documented_rule(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    response = await gateway.chat(account["api_key"], model="sim/no-usage")
    data = json_decimal(response)
    # completion: the reply's text bytes / 4, rounded up; prompt: request bytes / 4
    text = data["choices"][0]["message"]["content"]
    assert data["usage"]["completion_tokens"] == -(-len(text.encode()) // 4)
    assert data["usage"]["cost"] > 0


@pytest.mark.parametrize("stream", [False, True])
async def test_the_delivered_usage_estimate_never_exceeds_what_the_request_could_produce(
    gateway: Gateway, stream: bool
) -> None:
    """Without reported usage the gateway estimates from the delivered text; the estimate is
    capped at max_tokens times n, so it never charges more than the hold."""
    account = await gateway.customer("1")
    body: dict[str, Any] = {"model": "sim/no-usage", "n": 3, "max_tokens": 64, "stream": stream}
    body["messages"] = [{"role": "user", "content": "a long answer please [[tokens=64]]"}]
    if stream:
        body["stream_options"] = {"include_usage": True}
    response = await gateway.chat(account["api_key"], **body)
    assert response.status_code == 200
    if stream:
        usage = next(e["usage"] for e in sse_events(response.text) if e.get("usage"))
    else:
        usage = json_decimal(response)["usage"]
    assert usage["completion_tokens"] <= 64 * 3
    async with gateway.runtime.db.read() as tx:
        row = await tx.fetchrow("SELECT cost, reserved FROM usage_records WHERE user_id = $1", account["user_id"])
    assert row is not None and 0 < row["cost"] <= row["reserved"]


def sse_events(text: str) -> list[dict[str, Any]]:
    payloads = [line[6:] for line in text.splitlines() if line.startswith("data: ") and line != "data: [DONE]"]
    return [json.loads(p, parse_float=Decimal) for p in payloads]


async def test_overuse_is_written_off_never_overdrawn(gateway: Gateway) -> None:
    account = await gateway.customer("0.001")
    response = await gateway.chat(account["api_key"], model="sim/overuse", max_tokens=10)
    assert response.status_code == 200
    balance = await gateway.balance(account["api_key"])
    assert balance["credits"] >= 0
    async with gateway.runtime.db.read() as tx:
        row = await tx.fetchrow("SELECT cost, written_off FROM usage_records WHERE user_id = $1", account["user_id"])
    assert row is not None and row["written_off"] > 0
    assert Decimal(row["cost"]) / 10**9 == json_decimal(response)["usage"]["cost"]
    assert await gateway.ledger_total(account["user_id"]) == balance["credits"] * 10**9


async def test_request_id_is_echoed_or_made(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    response = await gateway.client.post(
        "/v1/chat/completions",
        json={"model": "sim/gpt-small", "messages": [{"role": "user", "content": "x"}]},
        headers={**bearer(account["api_key"]), "x-request-id": "client-req-42"},
    )
    assert response.headers["x-request-id"] == "client-req-42"
    response = await gateway.chat(account["api_key"])
    assert response.headers["x-request-id"].startswith("req_")


async def test_an_answer_with_nan_and_infinity_is_passed_through_and_charged(
    proxied: Gateway, upstream: FakeUpstream
) -> None:
    """vLLM-based providers send NaN and -Infinity in logprobs; Python's json reads them."""
    account = await proxied.customer("1")
    raw = (
        b'{"id":"c1","object":"chat.completion","created":1,"model":"sim/gpt-small","choices":[{"index":0,'
        b'"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop","logprobs":{"content":['
        b'{"token":"Hi","logprob":-Infinity,"top_logprobs":[{"token":"Hi","logprob":NaN}]}]}}],'
        b'"usage":{"prompt_tokens":9,"completion_tokens":20,"total_tokens":29}}'
    )

    async def answer(_: dict[str, Any]) -> web.StreamResponse:
        return web.Response(body=raw, content_type="application/json")

    upstream.answer = answer
    response = await proxied.chat(account["api_key"])
    assert response.status_code == 200, response.text
    assert '"logprob":-Infinity' in response.text and '"logprob":NaN' in response.text
    body = json.loads(response.content, parse_float=Decimal)
    assert body["usage"]["cost"] == HELLO_COST
    assert body["choices"][0]["message"]["content"] == "Hi"
    assert (await proxied.balance(account["api_key"]))["credits"] == 1 - HELLO_COST
