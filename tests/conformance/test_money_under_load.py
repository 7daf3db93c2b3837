"""Many simultaneous clients of one customer on a key with a spend limit and a request cap:
successes, failing upstreams (their holds are released), cut streams (settled for what was
delivered) and refusals interleave. No deadlock may surface as a 500 or a broken stream, and
no hold may be left behind."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from gateway.services.billing import holds as billing
from tests.conformance.test_gateways import new_key
from tests.support import Gateway, bearer

Gateways = Callable[..., AbstractAsyncContextManager[Gateway]]
CLIENTS = 30
ROUNDS = 4
MIX: list[dict[str, Any]] = [
    {"model": "sim/gpt-small"},
    {"model": "sim/fail-500"},
    {"model": "sim/gpt-small", "stream": True, "stream_options": {"include_usage": True}},
    {"model": "sim/fail-503", "stream": True},
    {"model": "sim/cut-stream", "stream": True},
    {"model": "sim/gpt-large", "max_tokens": 50},
]


async def client(gateway: Gateway, api_key: str, number: int) -> list[tuple[int, str]]:
    seen = []
    for round_ in range(ROUNDS):
        body = {"messages": [{"role": "user", "content": "Hi"}], **MIX[(number + round_) % len(MIX)]}
        response = await gateway.client.post("/v1/chat/completions", json=body, headers=bearer(api_key))
        seen.append((response.status_code, response.text if body.get("stream") else ""))
    return seen


async def test_no_deadlock_no_leaked_hold_under_concurrent_failures(gateways: Gateways) -> None:
    async with gateways() as gateway:
        account = await gateway.customer("5")
        key = await new_key(gateway, account["api_key"], spend_limit="2", max_requests=100)
        results = [
            seen
            for group in await asyncio.gather(*(client(gateway, key["api_key"], n) for n in range(CLIENTS)))
            for seen in group
        ]
        statuses = Counter(status for status, _ in results)
        assert set(statuses) <= {200, 402, 429, 502}, statuses
        for status, text in results:
            if status == 200 and text:
                # every stream ends: normally, or with the gateway's error event for a cut one
                assert text.rstrip().endswith("data: [DONE]") or '"error"' in text.rstrip().rsplit("\n", 1)[-1]
        balance = await gateway.balance(account["api_key"])
        assert balance["reserved"] == 0
        async with gateway.runtime.db.read() as tx:
            held = await tx.fetchval("SELECT held FROM api_keys WHERE id = $1", key["id"])
            open_holds = await tx.fetchval("SELECT COUNT(*) FROM reservations")
        assert held == 0 and open_holds == 0
        assert await gateway.ledger_total(account["user_id"]) == balance["credits"] * 10**9


async def test_a_settlement_that_cannot_be_written_releases_its_hold(
    gateways: Gateways, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The call ends only once its write committed; when it cannot, the hold is released
    (at once, or at the next heartbeat) instead of staying held until a restart."""
    async with gateways() as gateway:
        account = await gateway.customer("1")

        async def database_went_away(*_: Any, **__: Any) -> Any:
            raise ConnectionError("the database went away")

        monkeypatch.setattr(billing, "settle", database_went_away)
        for body in ({}, {"stream": True}):
            response = await gateway.chat(account["api_key"], **body)
            assert response.status_code in (200, 500)
        monkeypatch.undo()
        for _ in range(100):
            if (await gateway.balance(account["api_key"]))["reserved"] == 0:
                break
            await asyncio.sleep(0.02)
        balance = await gateway.balance(account["api_key"])
        assert balance["reserved"] == 0 and balance["credits"] == 1
        assert len(gateway.runtime.releases) == 0
        assert await gateway.ledger_total(account["user_id"]) == balance["credits"] * 10**9
