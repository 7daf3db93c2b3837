"""Real concurrency: many simultaneous requests against a balance that pays for a few."""

import asyncio
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import web

from gateway.services.billing.estimate import REPLY_PRIMING_TOKENS
from gateway.services.billing.pricing import Price, TokenUsage, cost_of, max_cost
from tests.support import FakeUpstream, Gateway, bearer

PRICE = Price(prompt=Decimal("0.00000015"), completion=Decimal("0.0000006"))  # sim/gpt-small
BODY = {"model": "sim/gpt-small", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 20}
REQUESTS = 60


def slow_answer(delay: float) -> Any:
    async def answer(body: dict[str, Any]) -> web.StreamResponse:
        await asyncio.sleep(delay)
        usage = {"prompt_tokens": 9, "completion_tokens": 20, "total_tokens": 29}
        choice = {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
        return web.json_response({"id": "x", "object": "chat.completion", "choices": [choice], "usage": usage})

    return answer


async def fire(gateway: Gateway, api_key: str, body: dict[str, Any], count: int) -> list[int]:
    async def one() -> int:
        response = await gateway.client.post("/v1/chat/completions", json=body, headers=bearer(api_key))
        return response.status_code

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def check_books(gateway: Gateway, account: dict[str, Any]) -> dict[str, Any]:
    balance = await gateway.balance(account["api_key"])
    assert balance["credits"] >= 0
    assert balance["reserved"] == 0
    assert await gateway.ledger_total(account["user_id"]) == balance["credits"] * 10**9
    return balance


async def test_simultaneous_requests_never_overdraw(proxied: Gateway, upstream: FakeUpstream) -> None:
    upstream.answer = slow_answer(0.3)  # every accepted request is in flight at once
    reservation = max_cost(PRICE, prompt_bound=len(orjson.dumps(BODY)) + REPLY_PRIMING_TOKENS, output_cap=20, n=1)
    affordable = 3
    account = await proxied.customer("0")
    funded = Decimal(affordable * reservation + reservation // 2) / 10**9
    await proxied.top_up(account["user_id"], str(funded))

    statuses = await fire(proxied, account["api_key"], BODY, REQUESTS)

    assert statuses.count(200) == affordable
    assert statuses.count(402) == REQUESTS - affordable
    assert len(upstream.requests) == affordable  # refused requests never reached the upstream
    balance = await check_books(proxied, account)
    charged = cost_of(PRICE, TokenUsage(9, 20))
    assert balance["credits"] == funded - Decimal(affordable * charged) / 10**9


async def test_simultaneous_requests_without_max_tokens_never_overdraw(
    proxied: Gateway, upstream: FakeUpstream
) -> None:
    upstream.answer = slow_answer(0.2)
    account = await proxied.customer("0.0001")
    body = {k: v for k, v in BODY.items() if k != "max_tokens"}
    statuses = await fire(proxied, account["api_key"], body, REQUESTS)
    assert set(statuses) <= {200, 402}
    assert 0 < statuses.count(200) < REQUESTS
    await check_books(proxied, account)


async def test_concurrent_streams_and_failures_keep_the_books(gateway: Gateway) -> None:
    account = await gateway.customer("0.001")
    bodies = [
        {**BODY, "stream": True, "stream_options": {"include_usage": True}},
        {**BODY, "model": "sim/fail-500"},
        {**BODY, "model": "sim/cut-stream", "stream": True},
        BODY,
    ]
    results = await asyncio.gather(*(fire(gateway, account["api_key"], b, 15) for b in bodies))
    assert all(status in {200, 402, 502} for statuses in results for status in statuses)
    await check_books(gateway, account)
