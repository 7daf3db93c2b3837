"""Key settings, rotation and deletion; spend limits, request caps and allowlists on calls."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from tests.support import Gateway, bearer, json_decimal


async def new_key(gateway: Gateway, owner: str, **fields: Any) -> dict[str, Any]:
    response = await gateway.client.post("/user/api-keys", json={"key_name": "k", **fields}, headers=bearer(owner))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def change(gateway: Gateway, owner: str, key_id: str, **body: Any) -> Any:
    return await gateway.client.put(f"/user/api-keys/{key_id}", json=body, headers=bearer(owner))


async def test_a_key_with_every_setting(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    key = await new_key(
        gateway, account["api_key"], key_name="ci", environment_tag="dev", expiration_days=7, max_requests=10,
        spend_limit="0.5", ip_allowlist=["10.0.0.0/8", "2001:db8::1"], domain_referrers=["*.Example.com."],
        allowed_models=["sim/*"], rate_limits={"requests_per_minute": 5},
    )  # fmt: skip
    assert key["api_key"].startswith("gw_dev_")
    assert key["ip_allowlist"] == ["10.0.0.0/8", "2001:db8::1"]
    assert key["domain_referrers"] == ["*.example.com"]
    assert json_decimal_like(key["spend_limit"]) == Decimal("0.5")
    assert (key["max_requests"], key["allowed_models"], key["rate_limits"]) == (
        10,
        ["sim/*"],
        {"requests_per_minute": 5},
    )


def json_decimal_like(value: Any) -> Decimal:
    return Decimal(str(value))


@pytest.mark.parametrize(
    "fields",
    [
        {"ip_allowlist": ["not-an-ip"]},
        {"ip_allowlist": ["10.0.0.0/33"]},
        {"domain_referrers": ["http://example.com"]},
        {"domain_referrers": ["exa mple.com"]},
        {"domain_referrers": ["*"]},
        {"spend_limit": "-1"},
        {"spend_limit": "0.0000000001"},
        {"max_requests": 0},
        {"expiration_days": 0},
        {"rate_limits": {"requests_per_fortnight": 1}},
        {"environment_tag": "prod"},
    ],
)
async def test_bad_settings_are_refused(gateway: Gateway, fields: dict[str, Any]) -> None:
    account = await gateway.customer("1")
    response = await gateway.client.post(
        "/user/api-keys", json={"key_name": "k", **fields}, headers=bearer(account["api_key"])
    )
    assert response.status_code == 400, response.text


async def test_update_changes_only_what_is_sent_and_applies_at_once(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    key = await new_key(gateway, account["api_key"], allowed_models=["sim/gpt-small"], max_requests=5)
    assert (await gateway.chat(key["api_key"], model="sim/gpt-large")).status_code == 403
    updated = await change(gateway, account["api_key"], key["id"], action="update", allowed_models=[])
    assert updated.status_code == 200
    assert updated.json()["allowed_models"] == [] and updated.json()["max_requests"] == 5
    assert (await gateway.chat(key["api_key"], model="sim/gpt-large")).status_code == 200  # no stale cache
    off = await change(gateway, account["api_key"], key["id"], action="update", active=False)
    assert off.json()["active"] is False
    assert (await gateway.chat(key["api_key"])).json()["error"]["code"] == "inactive_api_key"
    cleared = await change(gateway, account["api_key"], key["id"], action="update", active=True, max_requests=None)
    assert cleared.json()["max_requests"] is None


async def test_rotation_keeps_the_key_and_kills_the_old_secret(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    key = await new_key(gateway, account["api_key"], key_name="rotating", max_requests=100)
    assert (await gateway.chat(key["api_key"])).status_code == 200
    rotated = (await change(gateway, account["api_key"], key["id"], action="rotate")).json()
    assert rotated["id"] == key["id"] and rotated["key_name"] == "rotating" and rotated["max_requests"] == 100
    assert rotated["api_key"] != key["api_key"] and rotated["rotated_at"]
    assert (await gateway.chat(key["api_key"])).status_code == 401
    assert (await gateway.chat(rotated["api_key"])).status_code == 200
    usage = (await gateway.client.get("/user/api-keys/usage", headers=bearer(account["api_key"]))).json()["data"]
    assert next(k for k in usage if k["id"] == key["id"])["requests"] == 2  # same key, same usage


async def test_bulk_rotation_by_environment(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    test_key = await new_key(gateway, account["api_key"], environment_tag="test")
    live_key = await new_key(gateway, account["api_key"])
    rotated = (
        await change(gateway, account["api_key"], live_key["id"], action="bulk_rotate", environment_tag="test")
    ).json()["data"]
    assert [k["id"] for k in rotated] == [test_key["id"]]
    assert (await gateway.chat(test_key["api_key"])).status_code == 401
    assert (await gateway.chat(live_key["api_key"])).status_code == 200
    everything = (await change(gateway, live_key["api_key"], live_key["id"], action="bulk_rotate")).json()["data"]
    assert {k["id"] for k in everything} == {account["key_id"], test_key["id"], live_key["id"]}
    for old in (account["api_key"], live_key["api_key"]):
        assert (await gateway.chat(old)).status_code == 401
    for secret in (k["api_key"] for k in everything):
        assert (await gateway.chat(secret)).status_code == 200


async def test_delete_needs_confirmation(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    key = await new_key(gateway, account["api_key"])
    owner = bearer(account["api_key"])
    assert (await gateway.client.delete(f"/user/api-keys/{key['id']}", headers=owner)).status_code == 400
    deleted = await gateway.client.request(
        "DELETE", f"/user/api-keys/{key['id']}", json={"confirmation": "DELETE_KEY"}, headers=owner
    )
    assert deleted.status_code == 200
    assert (await gateway.chat(key["api_key"])).status_code == 401
    listed = (await gateway.client.get("/user/api-keys", headers=owner)).json()["data"]
    assert key["id"] not in {k["id"] for k in listed}


async def test_a_spend_limit_is_hard_even_under_concurrency(gateway: Gateway) -> None:
    account = await gateway.customer("10")
    # each request holds ~0.00009 credits (prompt bound + 20 tokens); the limit allows a few
    key = await new_key(gateway, account["api_key"], spend_limit="0.0004")
    responses = await asyncio.gather(*(gateway.chat(key["api_key"], max_tokens=20) for _ in range(30)))
    codes = [r.status_code for r in responses]
    assert set(codes) <= {200, 402} and 0 < codes.count(200) < 30
    refused = next(r for r in responses if r.status_code == 402)
    assert refused.json()["error"]["code"] == "key_spend_limit_reached"
    assert refused.headers["x-should-retry"] == "false"
    usage = json_decimal(await gateway.client.get("/user/api-keys/usage", headers=bearer(account["api_key"])))
    spent = next(k for k in usage["data"] if k["id"] == key["id"])
    assert spent["credits_spent"] <= Decimal("0.0004")
    assert spent["credits_spent"] == Decimal("0.00001335") * codes.count(200)
    assert (await gateway.chat(account["api_key"])).status_code == 200  # other keys are unaffected


async def test_a_request_cap_counts_forwarded_requests(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    key = await new_key(gateway, account["api_key"], max_requests=2)
    assert (await gateway.chat(key["api_key"], model="sim/fail-500")).status_code == 502  # forwarded: counts
    assert (await gateway.chat(key["api_key"], model="nope/x")).status_code == 400  # refused first: free
    assert (await gateway.chat(key["api_key"])).status_code == 200
    capped = await gateway.chat(key["api_key"])
    assert capped.status_code == 429 and capped.json()["error"]["code"] == "key_request_cap_reached"
    assert capped.headers["x-should-retry"] == "false"
    raised = await change(gateway, account["api_key"], key["id"], action="update", max_requests=3)
    assert raised.status_code == 200
    assert (await gateway.chat(key["api_key"])).status_code == 200


async def test_ip_and_domain_allowlists_on_the_call(gateway_factory: Any) -> None:
    async with gateway_factory(trusted_proxies="127.0.0.1/32") as gateway:
        account = await gateway.customer("1")
        key = await new_key(
            gateway, account["api_key"], ip_allowlist=["198.51.100.0/24"], domain_referrers=["*.example.com"]
        )

        async def call(**headers: str) -> Any:
            return await gateway.client.post(
                "/v1/chat/completions",
                json={"model": "sim/gpt-small", "messages": [{"role": "user", "content": "hi"}]},
                headers={**bearer(key["api_key"]), **headers},
            )

        allowed_ip = {"x-forwarded-for": "198.51.100.7"}
        assert (await call(**allowed_ip, origin="https://app.example.com")).status_code == 200
        assert (await call(**allowed_ip, referer="https://a.b.example.com/page")).status_code == 200
        wrong_ip = await call(**{"x-forwarded-for": "203.0.113.9"}, origin="https://app.example.com")
        assert wrong_ip.status_code == 403 and wrong_ip.json()["error"]["code"] == "ip_not_allowed"
        for bad in (
            {},
            {"origin": "null"},
            {"origin": "https://example.com"},
            {"origin": "https://example.com.evil.net"},
        ):
            refused = await call(**allowed_ip, **bad)
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "domain_not_allowed", bad
        logs = (await gateway.client.get("/user/api-keys/audit-logs", headers=bearer(account["api_key"]))).json()
        actions = [e["action"] for e in logs["data"]]
        # Once a minute per key and reason (tests/api/test_refusal_audit.py).
        assert actions.count("request.domain_not_allowed") == 1 and actions.count("request.ip_not_allowed") == 1
