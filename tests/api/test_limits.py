"""Rate limits on the gateway call: windows, headers, refusals, overrides, concurrency."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from tests.support import ADMIN, FakeUpstream, Gateway, bearer

RATE_HEADERS = {
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-tokens",
}


async def limit(gateway: Gateway, **body: Any) -> dict[str, Any]:
    response = await gateway.client.post("/admin/limit", json=body, headers=ADMIN)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def test_every_authenticated_inference_answer_carries_the_headers(gateway: Gateway) -> None:
    account = await gateway.customer("1", plan="free")
    ok = await gateway.chat(account["api_key"])
    assert set(ok.headers) >= RATE_HEADERS
    assert ok.headers["x-ratelimit-limit-requests"] == "60"  # the tightest: 60 per minute
    assert ok.headers["x-ratelimit-remaining-requests"] == "59"
    assert ok.headers["x-ratelimit-reset-requests"].endswith("s")
    for refused in (
        await gateway.chat(account["api_key"], model="nope/x"),  # 400
        await gateway.chat(account["api_key"], max_tokens=10**7),  # 402
        await gateway.chat(account["api_key"], model="sim/fail-500"),  # 502
    ):
        assert set(refused.headers) >= RATE_HEADERS, refused.status_code
    assert "x-ratelimit-limit-requests" not in (await gateway.chat("gw_live_" + "x" * 43)).headers  # 401


async def test_requests_per_minute_is_enforced_with_retry_after(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    await limit(gateway, user_id=account["user_id"], rate_limits={"requests_per_minute": 3})
    statuses = [(await gateway.chat(account["api_key"])).status_code for _ in range(3)]
    refused = await gateway.chat(account["api_key"])
    assert statuses == [200, 200, 200] and refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert 1 <= int(refused.headers["retry-after"]) <= 61
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"


async def test_refused_requests_count_against_no_window(gateway: Gateway) -> None:
    account = await gateway.customer("0.00001")  # too little for any answer
    await limit(gateway, user_id=account["user_id"], rate_limits={"requests_per_minute": 2})
    for _ in range(5):
        assert (await gateway.chat(account["api_key"])).status_code == 402
    await gateway.top_up(account["user_id"], "1")
    assert [(await gateway.chat(account["api_key"])).status_code for _ in range(3)] == [200, 200, 429]


async def test_token_windows_take_the_estimate_then_actual_usage(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    await limit(gateway, user_id=account["user_id"], rate_limits={"tokens_per_minute": 400})
    too_big = await gateway.chat(account["api_key"], max_tokens=1_000)
    assert too_big.status_code == 429 and too_big.json()["error"]["code"] == "token_limit_exceeded"
    assert too_big.headers["x-should-retry"] == "false"  # it will never fit
    first = await gateway.chat(account["api_key"], max_tokens=100)  # estimate ≈ 190, actual 29
    assert first.status_code == 200
    remaining = int(first.headers["x-ratelimit-remaining-tokens"])
    assert remaining < 400 - 29  # the estimate was counted up front
    second = await gateway.chat(account["api_key"], max_tokens=100)
    assert second.status_code == 200
    assert int(second.headers["x-ratelimit-remaining-tokens"]) > remaining - 190  # the first was corrected
    status = (await gateway.client.get("/user/limit", headers=bearer(account["api_key"]))).json()
    tokens = next(w for w in status["limits"] if w["dimension"] == "tokens" and w["window_seconds"] == 60)
    assert tokens["used"] == 2 * 29  # both corrected to actual usage


async def test_key_limits_apply_to_that_key_only(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    other = (
        await gateway.client.post("/user/api-keys", json={"key_name": "b"}, headers=bearer(account["api_key"]))
    ).json()
    result = await limit(gateway, key_id=other["id"], rate_limits={"requests_per_hour": 1})
    assert result["key_id"] == other["id"] and result["rate_limits"] == {"requests_per_hour": 1}
    assert (await gateway.chat(other["api_key"])).status_code == 200
    refused = await gateway.chat(other["api_key"])
    assert refused.status_code == 429 and "this key" in refused.json()["error"]["message"]
    assert (await gateway.chat(account["api_key"])).status_code == 200


async def test_admin_limit_validation(gateway: Gateway) -> None:
    account = await gateway.register()
    for body, status in [
        ({"rate_limits": {"requests_per_minute": 1}}, 400),
        ({"user_id": account["user_id"], "key_id": account["key_id"], "rate_limits": {}}, 400),
        ({"user_id": account["user_id"], "rate_limits": {"requests_per_week": 1}}, 400),
        ({"user_id": account["user_id"], "rate_limits": {"requests_per_minute": 0}}, 400),
        ({"user_id": "usr_nobody", "rate_limits": {"requests_per_minute": 1}}, 404),
        ({"key_id": "key_nobody", "rate_limits": {"requests_per_minute": 1}}, 404),
        ({"api_key": account["api_key"], "rate_limits": {"requests_per_minute": 1}}, 200),
    ]:
        response = await gateway.client.post("/admin/limit", json=body, headers=ADMIN)
        assert response.status_code == status, (body, response.text)


async def test_concurrent_requests_per_key_are_capped(proxied: Gateway, upstream: FakeUpstream) -> None:
    async def slow(_: dict[str, Any]) -> web.StreamResponse:
        await asyncio.sleep(0.3)
        usage = {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10}
        return web.json_response({"choices": [], "usage": usage})

    upstream.answer = slow
    await proxied.client.post(
        "/admin/plans", json={"id": "narrow", "name": "Narrow", "max_concurrent_requests": 3}, headers=ADMIN
    )
    account = await proxied.customer("1", plan="narrow")
    responses = await asyncio.gather(*(proxied.chat(account["api_key"]) for _ in range(10)))
    codes = [r.status_code for r in responses]
    assert codes.count(200) == 3 and codes.count(429) == 7
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.json()["error"]["code"] == "concurrency_limit_exceeded"
    assert (await proxied.chat(account["api_key"])).status_code == 200  # slots were given back


async def test_many_simultaneous_requests_never_exceed_a_window(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    await limit(gateway, user_id=account["user_id"], rate_limits={"requests_per_minute": 17})
    responses = await asyncio.gather(*(gateway.chat(account["api_key"]) for _ in range(60)))
    assert [r.status_code for r in responses].count(200) == 17


async def test_monitor_shows_limits_and_usage(gateway: Gateway) -> None:
    account = await gateway.customer("1", plan="free")
    await gateway.chat(account["api_key"])
    monitor = (await gateway.client.get("/user/monitor", headers=bearer(account["api_key"]))).json()
    assert monitor["plan_id"] == "free" and monitor["last_24h"]["requests"] == 1
    minute = next(w for w in monitor["limits"] if w["dimension"] == "requests" and w["window_seconds"] == 60)
    assert (minute["limit"], minute["used"], minute["remaining"]) == (60, 1, 59)
    assert minute["reset"].endswith("s")
