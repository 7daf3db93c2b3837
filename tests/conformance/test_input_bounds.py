"""Out-of-range numbers are a 400 on every backend, and a refused write leaves nothing behind
that the reads could not serve (SQLite INTEGER / PostgreSQL BIGINT are 64-bit; orjson writes
no integer beyond 64 bits; Redis counts in doubles)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from typing import Any

import httpx

from gateway.db.plans.plans import LIMIT_FIELDS
from tests.support import ADMIN, Gateway, bearer, json_decimal

Gateways = Callable[..., AbstractAsyncContextManager[Gateway]]
READS = ["/user/api-keys", "/user/limit", "/user/monitor", "/user/api-keys/audit-logs", "/plans", "/user/plan"]
# (label, value) pairs that no number field may accept; sent as JSON values.
HUGE = [("10^30", 10**30), ("2^63", 2**63), ("2^62", 2**62), ("10^16", 10**16)]
NOT_COUNTS = [("true", True), ("'1_000'", "1_000"), ("object", {"a": 1}), ("'NaN'", "NaN"), ("-1", -1)]
NOT_CREDITS = [
    ("'1e20'", "1e20"),
    ("10^12", 10**12),
    ("'1_000'", "1_000"),
    ("'-1e20'", "-1e20"),
    ("'1e999999999'", "1e999999999"),
    ("'1e-999999999'", "1e-999999999"),
    ("'NaN'", "NaN"),
    ("'Infinity'", "Infinity"),
    ("'0x10'", "0x10"),
    ("arabic digits", "\u0661\u0660"),
    ("true", True),
    ("object", {"a": 1}),
    ("''", ""),
]


def assert_refused(response: httpx.Response, label: str, param: str | None) -> None:
    assert response.status_code == 400, f"{label}: {response.status_code} {response.text}"
    error = response.json()["error"]
    assert error["code"] == "invalid_request", f"{label}: {error}"
    assert error["param"] == param, f"{label}: {error}"


async def assert_reads_answer(gateway: Gateway, api_key: str, label: str) -> None:
    for path in READS:
        response = await gateway.client.get(path, headers=bearer(api_key))
        assert response.status_code == 200, f"after {label}: GET {path} → {response.status_code} {response.text}"
    assert (await gateway.client.get("/admin/monitor", headers=ADMIN)).status_code == 200


async def test_credit_amounts_beyond_the_bounds_are_refused(gateways: Gateways) -> None:
    async with gateways() as gateway:
        account = await gateway.customer("10")
        user_id, api_key = account["user_id"], account["api_key"]
        for label, value in NOT_CREDITS:
            body = {"user_id": user_id, "credits": value, "reason": "x"}
            response = await gateway.client.post("/admin/add_credits", json=body, headers=ADMIN)
            assert_refused(response, f"credits {label}", "credits")
        for label, raw in [("1e99", b"1e99"), ("1e400", b"1e400"), ("-1e-400", b"-1e-400")]:
            content = b'{"user_id": "' + user_id.encode() + b'", "reason": "x", "credits": ' + raw + b"}"
            response = await gateway.client.post(
                "/admin/add_credits", content=content, headers={**ADMIN, "content-type": "application/json"}
            )
            assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_request", label
        assert (await gateway.balance(api_key))["credits"] == 10
        await assert_reads_answer(gateway, api_key, "refused credits")
        assert await gateway.ledger_total(user_id) == 10 * 10**9


async def test_a_balance_never_grows_past_the_most_it_may_hold(gateways: Gateways) -> None:
    async with gateways() as gateway:
        account = await gateway.customer("10")
        user_id, api_key = account["user_id"], account["api_key"]
        await gateway.top_up(user_id, "999999990")  # exactly the most a balance holds: 10^9 credits
        body = {"user_id": user_id, "credits": "0.000000001", "reason": "one nano too many"}
        refused = await gateway.client.post("/admin/add_credits", json=body, headers=ADMIN)
        assert_refused(refused, "past the ceiling", "credits")
        assert (await gateway.balance(api_key))["credits"] == 10**9
        taken = await gateway.client.post("/admin/add_credits", json={**body, "credits": "-1000000000"}, headers=ADMIN)
        assert taken.status_code == 200, taken.text
        assert await gateway.ledger_total(user_id) == 0
        await assert_reads_answer(gateway, api_key, "the ceiling")


async def test_key_settings_beyond_the_bounds_are_refused(gateways: Gateways) -> None:
    async with gateways() as gateway:
        account = await gateway.customer("10")
        api_key = account["api_key"]
        cases: list[tuple[str, dict[str, Any], str]] = []
        for label, value in HUGE + NOT_COUNTS:
            cases.append((f"max_requests {label}", {"max_requests": value}, "max_requests"))
            for field in ("requests_per_minute", "tokens_per_day"):
                cases.append((f"{field} {label}", {"rate_limits": {field: value}}, f"rate_limits.{field}"))
        cases += [(f"spend_limit {label}", {"spend_limit": value}, "spend_limit") for label, value in NOT_CREDITS]
        cases.append(("expiration_days 10^30", {"expiration_days": 10**30}, "expiration_days"))
        cases.append(("expiration_days true", {"expiration_days": True}, "expiration_days"))
        for label, fields, param in cases:
            created = await gateway.client.post(
                "/user/api-keys", json={"key_name": "k", **fields}, headers=bearer(api_key)
            )
            assert_refused(created, f"create: {label}", param)
            updated = await gateway.client.put(
                f"/user/api-keys/{account['key_id']}", json={"action": "update", **fields}, headers=bearer(api_key)
            )
            assert_refused(updated, f"update: {label}", param)
            await assert_reads_answer(gateway, api_key, label)
        listed = (await gateway.client.get("/user/api-keys", headers=bearer(api_key))).json()["data"]
        assert len(listed) == 1
        assert (listed[0]["max_requests"], listed[0]["spend_limit"], listed[0]["rate_limits"]) == (None, None, {})
        biggest = {"max_requests": 10**15, "spend_limit": "1000000000", "rate_limits": {"tokens_per_day": 10**15}}
        accepted = await gateway.client.post(
            "/user/api-keys", json={"key_name": "k", **biggest}, headers=bearer(api_key)
        )
        assert accepted.status_code == 201, accepted.text
        await assert_reads_answer(gateway, api_key, "the largest accepted settings")


async def test_admin_limits_beyond_the_bounds_are_refused(gateways: Gateways) -> None:
    async with gateways() as gateway:
        account = await gateway.customer("10")
        api_key = account["api_key"]
        for target in ({"user_id": account["user_id"]}, {"key_id": account["key_id"]}):
            for label, value in HUGE + NOT_COUNTS:
                for field in LIMIT_FIELDS:
                    body = {**target, "rate_limits": {field: value}}
                    response = await gateway.client.post("/admin/limit", json=body, headers=ADMIN)
                    assert_refused(response, f"{target} {field} {label}", f"rate_limits.{field}")
            await assert_reads_answer(gateway, api_key, f"limits for {target}")
        limits = (await gateway.client.get("/user/limit", headers=bearer(api_key))).json()["limits"]
        assert max(window["limit"] for window in limits) == 2_000_000_000  # the enterprise plan's own


async def test_plan_fields_beyond_the_bounds_are_refused(gateways: Gateways) -> None:
    async with gateways() as gateway:
        account = await gateway.customer("10")
        api_key = account["api_key"]
        before = (await gateway.client.get("/plans/enterprise")).json()
        cases: list[tuple[str, str, Any]] = []
        for field in (*LIMIT_FIELDS, "max_tokens_per_request", "max_api_keys", "max_concurrent_requests"):
            cases += [(f"{field} {label}", field, value) for label, value in HUGE + NOT_COUNTS]
        for field in ("price_per_month", "included_credits", "markup"):
            cases += [(f"{field} {label}", field, value) for label, value in NOT_CREDITS]
        for label, field, value in cases:
            created = await gateway.client.post(
                "/admin/plans", json={"id": "big", "name": "Big", field: value}, headers=ADMIN
            )
            assert_refused(created, f"create: {label}", field)
            updated = await gateway.client.put("/admin/plans/enterprise", json={field: value}, headers=ADMIN)
            assert_refused(updated, f"update: {label}", field)
        assert (await gateway.client.get("/plans/big")).status_code == 404
        assert (await gateway.client.get("/plans/enterprise")).json() == before
        await assert_reads_answer(gateway, api_key, "refused plans")
        biggest = {field: 10**15 for field in LIMIT_FIELDS}
        biggest.update(included_credits="1000000000", price_per_month="1000000000")
        created = await gateway.client.post("/admin/plans", json={"id": "big", "name": "Big", **biggest}, headers=ADMIN)
        assert created.status_code == 201, created.text
        newcomer = await gateway.customer("0", email="new@example.com", plan="big")  # granted 10^9 credits
        assert (await gateway.chat(newcomer["api_key"])).status_code == 200
        await assert_reads_answer(gateway, newcomer["api_key"], "the largest accepted plan")


async def test_query_numbers_beyond_the_bounds_are_refused(gateways: Gateways) -> None:
    async with gateways() as gateway:
        account = await gateway.customer("10")
        api_key = account["api_key"]
        customer = [
            ("/user/api-keys/audit-logs", "after", ["1e23", str(10**23), str(2**63), "-1"]),
            ("/user/transactions", "after", ["1e23", str(10**23), str(2**63), "-1"]),
            ("/user/api-keys/audit-logs", "start", ["1e308", "inf", "-inf", "nan", "1e400", "1e23"]),
            ("/user/api-keys/audit-logs", "end", ["1e308", "inf", "nan", "1e400", "-1"]),
        ]
        for path, name, values in customer:
            for value in values:
                response = await gateway.client.get(path, params={name: value}, headers=bearer(api_key))
                assert_refused(response, f"{path}?{name}={value}", f"query.{name}")
        for value in ["1e308", "inf", "-inf", "nan", "1e400"]:
            response = await gateway.client.get("/admin/monitor", params={"since": value}, headers=ADMIN)
            assert_refused(response, f"since={value}", "query.since")
        page = json_decimal(
            await gateway.client.get("/user/transactions", params={"after": 2**63 - 1}, headers=bearer(api_key))
        )
        assert page["data"][0]["amount"] == Decimal(10)
        await assert_reads_answer(gateway, api_key, "refused queries")


async def test_an_unpayable_max_tokens_is_402_or_429_never_a_500(gateways: Gateways) -> None:
    async with gateways() as gateway:
        account = await gateway.customer("10")
        api_key = account["api_key"]
        plans = {"untokened": {"requests_per_minute": 1000}, "tokened": {"tokens_per_minute": 100_000}}
        for plan_id, limits in plans.items():
            created = await gateway.client.post(
                "/admin/plans", json={"id": plan_id, "name": plan_id, **limits}, headers=ADMIN
            )
            assert created.status_code == 201, created.text
        limited = await gateway.client.post(
            "/user/api-keys",
            json={"key_name": "capped", "spend_limit": "5", "max_requests": 10},
            headers=bearer(api_key),
        )
        assert limited.status_code == 201, limited.text
        for plan_id, status in (("untokened", 402), ("tokened", 429)):
            await gateway.assign_plan(account["user_id"], plan_id)
            before = await gateway.balance(api_key)
            for key in (api_key, limited.json()["api_key"]):
                for max_tokens, n in ((2**62, 1), (2**64 - 1, 128)):
                    response = await gateway.chat(key, max_tokens=max_tokens, n=n)
                    assert response.status_code == status, f"{plan_id} {max_tokens}×{n}: {response.text}"
            assert await gateway.balance(api_key) == before  # nothing charged or held
            assert (await gateway.chat(api_key)).status_code == 200  # nothing was left counted or held
            await assert_reads_answer(gateway, api_key, f"max_tokens on {plan_id}")
        assert await gateway.ledger_total(account["user_id"]) == (await gateway.balance(api_key))["credits"] * 10**9


async def test_a_nul_character_anywhere_is_refused_never_a_server_error(gateways: Gateways) -> None:
    """PostgreSQL's text cannot hold a NUL (it was a 500 there, stored as sent on SQLite)."""
    async with gateways() as gateway:
        account = await gateway.customer("1")
        headers = bearer(account["api_key"])
        allowlist = {"key_name": "x", "ip_allowlist": ["\u0000"]}
        credit = {"user_id": "usr\u0000", "credits": "1", "reason": "r"}
        answers = [
            await gateway.client.post("/user/api-keys", json={"key_name": "a\u0000b"}, headers=headers),
            await gateway.client.put("/user/profile", json={"username": "ada\u0000"}, headers=headers),
            await gateway.client.post("/user/api-keys", json=allowlist, headers=headers),
            await gateway.client.get("/user/api-keys?after=a%00b", headers=headers),
            await gateway.client.put("/user/api-keys/key%00x", json={"action": "update"}, headers=headers),
            await gateway.client.post("/admin/add_credits", json=credit, headers=ADMIN),
        ]  # fmt: skip
        for answer in answers:
            assert answer.status_code == 400, (answer.request.url, answer.text)
            assert "NUL character" in answer.json()["error"]["message"]
        assert (await gateway.client.get("/user/api-keys", headers=headers)).status_code == 200
