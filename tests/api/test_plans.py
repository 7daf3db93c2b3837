"""Plans: the seeded tiers, admin editing and assignment, and entitlements on the call."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from tests.support import ADMIN, Gateway, bearer, json_decimal


async def test_seeded_plans_have_the_contracts_numbers(gateway: Gateway) -> None:
    listed = {p["id"]: p for p in (await gateway.client.get("/plans")).json()["data"]}
    assert set(listed) >= {"free", "pro", "enterprise"}
    free, pro, enterprise = listed["free"], listed["pro"], listed["enterprise"]
    assert [free[f"requests_per_{p}"] for p in ("minute", "hour", "day")] == [60, 1_000, 10_000]
    assert [free[f"tokens_per_{p}"] for p in ("minute", "hour", "day")] == [100_000, 1_000_000, 5_000_000]
    assert (free["max_api_keys"], free["max_concurrent_requests"]) == (10, 20)
    assert [pro[f"requests_per_{p}"] for p in ("minute", "hour", "day")] == [600, 20_000, 500_000]
    assert [pro[f"tokens_per_{p}"] for p in ("minute", "hour", "day")] == [1_000_000, 20_000_000, 200_000_000]
    assert (pro["max_api_keys"], pro["max_concurrent_requests"]) == (50, 100)
    assert [enterprise[f"requests_per_{p}"] for p in ("minute", "hour", "day")] == [6_000, 200_000, 5_000_000]
    assert enterprise["tokens_per_day"] == 2_000_000_000
    assert (enterprise["max_api_keys"], enterprise["max_concurrent_requests"]) == (None, 1_000)
    assert all(p["allowed_models"] == ["*"] and p["features"]["streaming"] for p in listed.values())
    assert set(free) >= {"id", "name", "price_per_month", "included_credits", "max_tokens_per_request"}
    assert (await gateway.client.get("/plans/pro")).json()["id"] == "pro"
    assert (await gateway.client.get("/plans/nope")).status_code == 404


async def new_plan(gateway: Gateway, **fields: Any) -> dict[str, Any]:
    body = {"id": "starter", "name": "Starter", "requests_per_minute": 5, **fields}
    response = await gateway.client.post("/admin/plans", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def test_admins_create_and_edit_plans(gateway: Gateway) -> None:
    created = await new_plan(gateway, price_per_month="9.99", included_credits="5", allowed_models=["sim/gpt-*"])
    assert created["requests_per_minute"] == 5 and created["requests_per_hour"] is None
    assert json_decimal(await gateway.client.get("/plans/starter"))["price_per_month"] == Decimal("9.99")
    again = await gateway.client.post("/admin/plans", json={"id": "starter", "name": "x"}, headers=ADMIN)
    assert again.status_code == 409
    edited = await gateway.client.put(
        "/admin/plans/starter", json={"requests_per_minute": None, "features": {"streaming": False}}, headers=ADMIN
    )
    assert edited.status_code == 200
    assert edited.json()["requests_per_minute"] is None and edited.json()["features"] == {"streaming": False}
    assert edited.json()["allowed_models"] == ["sim/gpt-*"]  # untouched fields stay
    missing = await gateway.client.put("/admin/plans/nope", json={"name": "x"}, headers=ADMIN)
    assert missing.status_code == 404
    bad = await gateway.client.post("/admin/plans", json={"id": "Bad Id!", "name": "x"}, headers=ADMIN)
    assert bad.status_code == 400


async def test_assigning_a_plan_grants_its_credits_and_applies_at_once(gateway: Gateway) -> None:
    await new_plan(gateway, included_credits="2.5", allowed_models=["sim/gpt-small"])
    account = await gateway.customer("0", plan="free")
    assert (await gateway.chat(account["api_key"], model="sim/gpt-large")).status_code == 402  # free: any model
    assigned = await gateway.assign_plan(account["user_id"], "starter", months=2)
    assert assigned["expires_at"] - assigned["started_at"] > 58 * 86_400
    plan = (await gateway.client.get("/user/plan", headers=bearer(account["api_key"]))).json()
    assert plan["id"] == "starter" and plan["expires_at"] == assigned["expires_at"]
    assert (await gateway.balance(account["api_key"]))["credits"] == Decimal("2.5")
    refused = await gateway.chat(account["api_key"], model="sim/gpt-large")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "model_not_allowed"
    assert (await gateway.chat(account["api_key"], model="sim/gpt-small")).status_code == 200


async def test_an_expired_plan_falls_back_to_free(gateway: Gateway) -> None:
    await new_plan(gateway, allowed_models=["sim/gpt-small"])
    account = await gateway.customer("1", plan="starter")
    assert (await gateway.chat(account["api_key"], model="sim/gpt-large")).status_code == 403
    async with gateway.runtime.db.transaction() as tx:
        await tx.execute("UPDATE users SET plan_expires_at = $2 WHERE id = $1", account["user_id"], time.time() - 1)
    gateway.runtime.auth.forget_everything_here()
    assert (await gateway.chat(account["api_key"], model="sim/gpt-large")).status_code == 200
    assert (await gateway.client.get("/user/plan", headers=bearer(account["api_key"]))).json()["id"] == "free"


async def test_streaming_and_max_tokens_are_entitlements(gateway: Gateway) -> None:
    await new_plan(gateway, features={"streaming": False}, max_tokens_per_request=10)
    account = await gateway.customer("1", plan="starter")
    streamed = await gateway.chat(account["api_key"], stream=True)
    assert streamed.status_code == 403 and streamed.json()["error"]["code"] == "feature_not_in_plan"
    too_many = await gateway.chat(account["api_key"], max_tokens=11)
    assert too_many.status_code == 400 and too_many.json()["error"]["param"] == "max_tokens"
    capped = json_decimal(await gateway.chat(account["api_key"]))  # no max_tokens: capped by the plan
    assert capped["usage"]["completion_tokens"] == 10


async def test_a_plans_own_markup_prices_its_customers(gateway: Gateway) -> None:
    await new_plan(gateway, markup="2")
    account = await gateway.customer("1", plan="starter")
    body = json_decimal(await gateway.chat(account["api_key"]))
    assert body["usage"]["cost"] == Decimal("0.00001335") * 2


async def test_the_plans_key_count_is_enforced(gateway: Gateway) -> None:
    await new_plan(gateway, max_api_keys=2)
    account = await gateway.customer("1", plan="starter")
    first = await gateway.client.post("/user/api-keys", json={"key_name": "two"}, headers=bearer(account["api_key"]))
    assert first.status_code == 201
    third = await gateway.client.post("/user/api-keys", json={"key_name": "three"}, headers=bearer(account["api_key"]))
    assert third.status_code == 403 and third.json()["error"]["code"] == "key_limit_reached"


async def test_entitlements_and_plan_usage_views(gateway: Gateway) -> None:
    account = await gateway.customer("1", plan="pro")
    key = bearer(account["api_key"])
    entitlements = (await gateway.client.get("/user/plan/entitlements", headers=key)).json()
    assert entitlements["plan_id"] == "pro" and entitlements["features"]["streaming"] is True
    one = (await gateway.client.get("/user/plan/entitlements?feature=streaming", headers=key)).json()
    assert one == {"plan_id": "pro", "feature": "streaming", "enabled": True}
    await gateway.chat(account["api_key"])
    usage = json_decimal(await gateway.client.get("/user/plan/usage", headers=key))
    assert usage["requests"] == 1 and usage["credits_spent"] == Decimal("0.00001335")
    assert usage["api_keys"] == {"used": 1, "max": 50}
    assert {(w["dimension"], w["window_seconds"]) for w in usage["limits"]} >= {("requests", 60), ("tokens", 86400)}


async def test_assign_plan_validation(gateway: Gateway) -> None:
    account = await gateway.register()
    for body, status in [
        ({"user_id": account["user_id"], "plan_id": "nope"}, 404),
        ({"user_id": "usr_nobody", "plan_id": "pro"}, 404),
        ({"user_id": account["user_id"], "plan_id": "pro", "duration_months": 0}, 400),
    ]:
        assert (await gateway.client.post("/admin/assign-plan", json=body, headers=ADMIN)).status_code == status


async def test_a_fixed_model_price_beats_the_plans_markup(gateway_factory: Any, tmp_path: Any) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(
        '{"data": [{"id": "sim/gpt-small", "gateway_pricing": {"prompt": "0.000001", "completion": "0.000001"}}]}'
    )
    async with gateway_factory(price_file=str(prices), credit_markup="3") as gateway:
        await new_plan(gateway, markup="2")
        account = await gateway.customer("1", plan="starter")
        fixed = json_decimal(await gateway.chat(account["api_key"]))
        assert fixed["usage"]["cost"] == Decimal("0.000029")  # 29 tokens × 0.000001, no markup
        other = json_decimal(await gateway.chat(account["api_key"], model="sim/gpt-large"))
        # 9 × 0.0000025 + 20 × 0.00001 = 0.0002225, times the plan's markup (not CREDIT_MARKUP)
        assert other["usage"]["cost"] == Decimal("0.0002225") * 2


async def test_each_plan_period_grants_its_included_credits_once(gateway: Gateway) -> None:
    from gateway.services.plans import periods as plans

    await new_plan(gateway, included_credits="1.5")
    account = await gateway.customer("0", plan="starter")  # period 1 granted at assignment
    started = time.time() - 65 * 86_400  # as if assigned a little over two months ago
    async with gateway.runtime.db.transaction() as tx:
        await tx.execute(
            "UPDATE users SET plan_started_at = $2, plan_expires_at = $3 WHERE id = $1",
            account["user_id"], started, time.time() + 86_400,
        )  # fmt: skip
    assert await plans.grant_due_credits(gateway.runtime.db, gateway.runtime.plans) == 3
    await plans.grant_due_credits(gateway.runtime.db, gateway.runtime.plans)  # again: nothing new
    # 1.5 at assignment, then periods 1, 2 and 3 of the back-dated subscription
    assert (await gateway.balance(account["api_key"]))["credits"] == Decimal("6")
    ledger = (await gateway.client.get("/user/transactions", headers=bearer(account["api_key"]))).json()
    kinds = [t["kind"] for t in ledger["data"]]
    assert kinds.count("plan_credits") == 4
