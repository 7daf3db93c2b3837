"""Registration, balances and keys."""

from decimal import Decimal
from typing import Any

import pytest

from tests.support import ADMIN, Gateway, bearer, json_decimal


async def test_register_answers_the_contracts_fields(gateway: Gateway) -> None:
    response = await gateway.client.post("/auth/register", json={"email": "Ada@Example.com", "username": "ada"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) >= {"user_id", "username", "email", "api_key", "credits", "plan"}
    assert body["email"] == "ada@example.com"
    assert body["username"] == "ada"
    assert body["api_key"].startswith("gw_live_")
    assert body["credits"] == 0 and body["plan"] == "free"


async def test_the_caller_never_chooses_its_credits(gateway: Gateway) -> None:
    response = await gateway.client.post("/auth/register", json={"email": "x@example.com", "credits": 1000})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "credits"


async def test_signup_credits_go_through_the_ledger(gateway_factory: Any) -> None:
    async with gateway_factory(signup_credits="2.5") as gateway:
        account = await gateway.register()
        assert json_decimal(await gateway.client.post("/auth/register", json={"email": "b@example.com"}))[
            "credits"
        ] == Decimal("2.5")
        assert await gateway.ledger_total(account["user_id"]) == 2_500_000_000


async def test_duplicate_email_and_username_are_409(gateway: Gateway) -> None:
    await gateway.register("ada@example.com", username="ada")
    again = await gateway.client.post("/auth/register", json={"email": "ADA@example.com"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_exists"
    taken = await gateway.client.post("/auth/register", json={"email": "b@example.com", "username": "ada"})
    assert taken.status_code == 409


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"email": "not-an-email"},
        {"email": 42},
        {"email": "a@b.co", "environment_tag": "prod"},
        {"email": "a@b.co", "username": "x"},
    ],
)
async def test_bad_registrations_are_400(gateway: Gateway, payload: dict[str, Any]) -> None:
    response = await gateway.client.post("/auth/register", json=payload)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


async def test_registration_is_throttled_per_ip(gateway_factory: Any) -> None:
    async with gateway_factory(register_rate_limit="2/hour", trusted_proxies="127.0.0.1/32") as gateway:
        for n in range(2):
            ok = await gateway.client.post("/auth/register", json={"email": f"u{n}@example.com"})
            assert ok.status_code == 201
        limited = await gateway.client.post("/auth/register", json={"email": "u9@example.com"})
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) > 0
        assert limited.json()["error"]["code"] == "rate_limit_exceeded"
        # another address (via a trusted proxy) has its own allowance
        other = await gateway.client.post(
            "/auth/register", json={"email": "v@example.com"}, headers={"x-forwarded-for": "198.51.100.7"}
        )
        assert other.status_code == 201


async def test_balance_shows_credits_reserved_status_and_a_masked_key(gateway: Gateway) -> None:
    account = await gateway.customer("3.000000001")
    balance = await gateway.balance(account["api_key"])
    assert balance["credits"] == Decimal("3.000000001")
    assert balance["reserved"] == 0
    assert balance["status"] == "active"
    assert balance["user_id"] == account["user_id"]
    assert "…" in balance["api_key"] and balance["api_key"] != account["api_key"]


async def test_keys_are_created_once_in_full_then_masked(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    created = await gateway.client.post(
        "/user/api-keys",
        json={"key_name": "ci", "environment_tag": "staging", "expiration_days": 30},
        headers=bearer(account["api_key"]),
    )
    assert created.status_code == 201
    key = created.json()
    assert key["api_key"].startswith("gw_staging_") and key["id"].startswith("key_")
    assert key["expires_at"] is not None
    listed = await gateway.client.get("/user/api-keys", headers=bearer(account["api_key"]))
    data = listed.json()
    assert data["object"] == "list" and len(data["data"]) == 2
    assert all("…" in k["api_key"] for k in data["data"])
    assert key["api_key"] not in listed.text and account["api_key"] not in listed.text
    # the new key works and spends the same balance
    assert (await gateway.chat(key["api_key"])).status_code == 200


async def test_key_list_pages_with_a_cursor(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    for n in range(4):
        await gateway.client.post("/user/api-keys", json={"key_name": f"k{n}"}, headers=bearer(account["api_key"]))
    first = (await gateway.client.get("/user/api-keys?limit=2", headers=bearer(account["api_key"]))).json()
    assert len(first["data"]) == 2 and first["has_more"] is True
    after = first["data"][-1]["id"]
    rest = (
        await gateway.client.get(f"/user/api-keys?limit=10&after={after}", headers=bearer(account["api_key"]))
    ).json()
    assert len(rest["data"]) == 3 and rest["has_more"] is False
    assert {k["id"] for k in first["data"]}.isdisjoint(k["id"] for k in rest["data"])


async def test_policy_fields_are_not_silently_ignored(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    response = await gateway.client.post(
        "/user/api-keys",
        json={"key_name": "x", "favourite_colour": "blue"},
        headers=bearer(account["api_key"]),
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "favourite_colour"


async def test_expired_keys_are_refused(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    async with gateway.runtime.db.transaction() as tx:
        await tx.execute("UPDATE api_keys SET expires_at = 1 WHERE user_id = $1", account["user_id"])
    gateway.runtime.auth.forget_everything_here()
    response = await gateway.chat(account["api_key"])
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "expired_api_key"


async def test_inactive_keys_and_accounts_are_refused(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    async with gateway.runtime.db.transaction() as tx:
        await tx.execute("UPDATE api_keys SET active = $2 WHERE user_id = $1", account["user_id"], False)
    gateway.runtime.auth.forget_everything_here()
    response = await gateway.client.get("/user/balance", headers=bearer(account["api_key"]))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "inactive_api_key"


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Basic abc", "Bearer sk-not-ours", "Bearer gw_live_" + "A" * 43],
)
async def test_bad_keys_are_401_on_every_customer_route(gateway: Gateway, authorization: str | None) -> None:
    headers = {} if authorization is None else {"authorization": authorization}
    for method, path in [
        ("GET", "/user/balance"),
        ("GET", "/user/api-keys"),
        ("POST", "/v1/chat/completions"),
    ]:
        response = await gateway.client.request(method, path, headers=headers, json={})
        assert response.status_code == 401, (method, path)
        assert response.json()["error"]["code"] == "invalid_api_key"


async def test_the_admin_key_is_not_a_customer_key(gateway: Gateway) -> None:
    response = await gateway.client.get("/user/balance", headers=ADMIN)
    assert response.status_code == 401
