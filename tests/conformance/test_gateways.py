"""Whole gateways on one backend: two apps stand for two gateway processes sharing it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from typing import Any

import orjson
import pytest

from gateway.services.billing.estimate import REPLY_PRIMING_TOKENS
from gateway.services.billing.pricing import TokenUsage, cost_of, max_cost
from tests.api.test_concurrency import BODY, PRICE, REQUESTS, slow_answer
from tests.conformance.conftest import Backend
from tests.support import ADMIN, FakeUpstream, Gateway, bearer, json_decimal

Gateways = Callable[..., AbstractAsyncContextManager[Gateway]]


async def statuses(gateway: Gateway, api_key: str, count: int, body: dict[str, Any]) -> list[int]:
    async def one() -> int:
        response = await gateway.client.post("/v1/chat/completions", json=body, headers=bearer(api_key))
        return response.status_code

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def test_no_overdraft_with_traffic_split_across_two_gateways(gateways: Gateways, upstream: FakeUpstream) -> None:
    upstream.answer = slow_answer(0.3)
    async with (
        gateways(upstream_base_url=upstream.base_url) as a,
        gateways(upstream_base_url=upstream.base_url) as b,
    ):
        reservation = max_cost(PRICE, prompt_bound=len(orjson.dumps(BODY)) + REPLY_PRIMING_TOKENS, output_cap=20, n=1)
        account = await a.customer("0")
        funded = Decimal(5 * reservation + reservation // 2) / 10**9
        await a.top_up(account["user_id"], str(funded))
        results = await asyncio.gather(
            statuses(a, account["api_key"], REQUESTS // 2, BODY),
            statuses(b, account["api_key"], REQUESTS // 2, BODY),
        )
        flat = results[0] + results[1]
        assert flat.count(200) == 5
        assert flat.count(402) == REQUESTS - 5
        for gateway in (a, b):
            balance = await gateway.balance(account["api_key"])
            assert balance["credits"] == funded - Decimal(5 * cost_of(PRICE, TokenUsage(9, 20))) / 10**9
            assert balance["reserved"] == 0
        assert await a.ledger_total(account["user_id"]) == (await a.balance(account["api_key"]))["credits"] * 10**9


async def test_streams_and_failures_keep_the_books_on_every_backend(gateways: Gateways) -> None:
    async with gateways() as gateway:
        account = await gateway.customer("0.001")
        bodies = [
            {**BODY, "stream": True, "stream_options": {"include_usage": True}},
            {**BODY, "model": "sim/fail-500"},
            {**BODY, "model": "sim/cut-stream", "stream": True},
            BODY,
        ]
        results = await asyncio.gather(*(statuses(gateway, account["api_key"], 10, b) for b in bodies))
        assert all(status in {200, 402, 502} for group in results for status in group)
        balance = await gateway.balance(account["api_key"])
        assert balance["reserved"] == 0 and balance["credits"] >= 0
        assert await gateway.ledger_total(account["user_id"]) == balance["credits"] * 10**9


async def test_a_deleted_key_stops_working_at_once_here(gateways: Gateways) -> None:
    async with gateways() as gateway:
        account = await gateway.customer("1")
        second = (
            await gateway.client.post("/user/api-keys", json={"key_name": "ci"}, headers=bearer(account["api_key"]))
        ).json()
        assert (await gateway.chat(second["api_key"])).status_code == 200
        deleted = await gateway.client.delete(
            f"/user/api-keys/{second['id']}?confirmation=DELETE_KEY", headers=bearer(account["api_key"])
        )
        assert deleted.status_code == 200
        assert (await gateway.chat(second["api_key"])).status_code == 401
        assert (await gateway.chat(account["api_key"])).status_code == 200


@pytest.mark.shared
async def test_revocation_reaches_the_other_gateway_within_a_second(gateways: Gateways) -> None:
    async with gateways() as a, gateways() as b:
        account = await a.customer("1")
        assert (await b.chat(account["api_key"])).status_code == 200  # now cached in b
        started = time.monotonic()
        deleted = await a.client.delete(
            f"/user/api-keys/{account['key_id']}",
            headers=bearer(account["api_key"]),
            params={"confirmation": "DELETE_KEY"},
        )
        assert deleted.status_code == 200
        while (await b.chat(account["api_key"])).status_code != 401:
            assert time.monotonic() - started < 1.0, "b still accepts the revoked key"
            await asyncio.sleep(0.01)


@pytest.mark.shared
async def test_one_catalog_fetch_serves_every_gateway(gateways: Gateways, upstream: FakeUpstream) -> None:
    async with gateways(upstream_base_url=upstream.base_url) as a:
        await a.client.get("/v1/models")
        async with gateways(upstream_base_url=upstream.base_url) as b:
            assert (await b.client.get("/v1/models")).status_code == 200
            assert upstream.catalog_calls == 1, "b must adopt a's catalog from Redis"
            upstream.catalog = {
                "data": [{"id": "sim/gpt-small", "pricing": {"prompt": "0.000001", "completion": "0.000001"}}]
            }
            assert (await a.client.post("/admin/refresh-models", headers=ADMIN)).status_code == 200
            account = await a.customer("1")
            deadline = time.monotonic() + 1.0
            while json_decimal(await b.chat(account["api_key"]))["usage"]["cost"] != Decimal("0.000029"):
                assert time.monotonic() < deadline, "b does not see a's refresh"
                await asyncio.sleep(0.02)
            assert upstream.catalog_calls == 2


@pytest.mark.shared
async def test_the_register_throttle_is_shared(gateways: Gateways) -> None:
    async with gateways(register_rate_limit="2/hour") as a, gateways(register_rate_limit="2/hour") as b:
        assert (await a.client.post("/auth/register", json={"email": "a@example.com"})).status_code == 201
        assert (await b.client.post("/auth/register", json={"email": "b@example.com"})).status_code == 201
        limited = await a.client.post("/auth/register", json={"email": "c@example.com"})
        assert limited.status_code == 429


async def test_health_names_the_backend(backend: Backend, gateways: Gateways) -> None:
    async with gateways() as gateway:
        health = (await gateway.client.get("/health")).json()
        assert health["status"] == "ok"
        assert health["database"] == ("sqlite" if backend.name == "sqlite" else "postgres")
        assert health["redis"] == ("ok" if backend.shared else "not configured")


async def new_key(gateway: Gateway, owner: str, **fields: Any) -> dict[str, Any]:
    response = await gateway.client.post("/user/api-keys", json={"key_name": "k", **fields}, headers=bearer(owner))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def test_a_keys_spend_limit_and_request_cap_hold_under_concurrency(gateways: Gateways) -> None:
    async with gateways() as gateway:
        account = await gateway.customer("10")
        limited = await new_key(gateway, account["api_key"], spend_limit="0.0004")
        capped = await new_key(gateway, account["api_key"], max_requests=7)
        spend = await statuses(gateway, limited["api_key"], 40, BODY)
        cap = await statuses(gateway, capped["api_key"], 40, BODY)
        assert set(spend) <= {200, 402} and 0 < spend.count(200) < 40
        assert cap.count(200) == 7 and cap.count(429) == 33
        usage = json_decimal(await gateway.client.get("/user/api-keys/usage", headers=bearer(account["api_key"])))
        by_id = {k["id"]: k for k in usage["data"]}
        assert by_id[limited["id"]]["credits_spent"] <= Decimal("0.0004")
        assert by_id[capped["id"]]["requests"] == 7
        balance = await gateway.balance(account["api_key"])
        assert balance["reserved"] == 0
        assert await gateway.ledger_total(account["user_id"]) == balance["credits"] * 10**9


async def test_rate_windows_hold_across_gateways(gateways: Gateways) -> None:
    async with gateways() as a, gateways() as b:
        account = await a.customer("1")
        limits = {"user_id": account["user_id"], "rate_limits": {"requests_per_minute": 17}}
        assert (await a.client.post("/admin/limit", json=limits, headers=ADMIN)).status_code == 200
        results = await asyncio.gather(
            statuses(a, account["api_key"], 30, BODY), statuses(b, account["api_key"], 30, BODY)
        )
        served = (results[0] + results[1]).count(200)
        # Shared (Redis) windows count both gateways together; without Redis each process
        # counts its own requests, which is what the embedded (one process) default promises.
        assert served == 17 if backend_shares(a) else served == 34


def backend_shares(gateway: Gateway) -> bool:
    return gateway.settings.redis_url is not None


@pytest.mark.shared
async def test_a_key_update_reaches_the_other_gateway_within_a_second(gateways: Gateways) -> None:
    async with gateways() as a, gateways() as b:
        account = await a.customer("1")
        key = await new_key(a, account["api_key"])
        assert (await b.chat(key["api_key"], model="sim/gpt-large")).status_code == 200  # cached in b
        started = time.monotonic()
        changed = await a.client.put(
            f"/user/api-keys/{key['id']}",
            json={"action": "update", "allowed_models": ["sim/gpt-small"]},
            headers=bearer(account["api_key"]),
        )
        assert changed.status_code == 200
        while (await b.chat(key["api_key"], model="sim/gpt-large")).status_code != 403:
            assert time.monotonic() - started < 1.0
            await asyncio.sleep(0.01)
