"""Admin: credits (idempotent by reference), balances, catalog refresh and cache status."""

from decimal import Decimal
from typing import Any

import pytest

from tests.support import ADMIN, Gateway, bearer, json_decimal


async def add(gateway: Gateway, **payload: Any) -> Any:
    payload.setdefault("reason", "test")
    return await gateway.client.post("/admin/add_credits", json=payload, headers=ADMIN)


async def test_add_credits_by_user_id_or_api_key(gateway: Gateway) -> None:
    account = await gateway.register()
    by_id = await add(gateway, user_id=account["user_id"], credits=1.25)
    assert by_id.status_code == 200
    assert json_decimal(by_id) == {"user_id": account["user_id"], "credits": Decimal("1.25"), "reserved": 0}
    by_key = await add(gateway, api_key=account["api_key"], credits="0.000000001")
    assert json_decimal(by_key)["credits"] == Decimal("1.250000001")


async def test_numbers_are_read_from_their_decimal_text(gateway: Gateway) -> None:
    account = await gateway.register()
    raw = b'{"user_id": "%s", "credits": 0.1, "reason": "x"}' % account["user_id"].encode()
    response = await gateway.client.post(
        "/admin/add_credits", content=raw, headers={**ADMIN, "content-type": "application/json"}
    )
    assert json_decimal(response)["credits"] == Decimal("0.1")
    raw = b'{"user_id": "%s", "credits": 0.2, "reason": "x"}' % account["user_id"].encode()
    response = await gateway.client.post(
        "/admin/add_credits", content=raw, headers={**ADMIN, "content-type": "application/json"}
    )
    assert response.content.endswith(b'"credits":0.3,"reserved":0}')  # not 0.30000000000000004


async def test_a_reference_applies_once(gateway: Gateway) -> None:
    account = await gateway.register()
    first = await add(gateway, user_id=account["user_id"], credits="5", reference="inv-1")
    await add(gateway, user_id=account["user_id"], credits="1")
    again = await add(gateway, user_id=account["user_id"], credits="5", reference="inv-1")
    assert again.status_code == 200
    assert again.json() == first.json()  # the original result
    assert (await gateway.balance(account["api_key"]))["credits"] == 6
    assert await gateway.ledger_total(account["user_id"]) == 6 * 10**9


async def test_a_reused_reference_with_other_terms_is_409(gateway: Gateway) -> None:
    ada = await gateway.register("ada@example.com")
    bob = await gateway.register("bob@example.com")
    await add(gateway, user_id=ada["user_id"], credits="5", reference="inv-2")
    other_amount = await add(gateway, user_id=ada["user_id"], credits="6", reference="inv-2")
    other_user = await add(gateway, user_id=bob["user_id"], credits="5", reference="inv-2")
    for response in (other_amount, other_user):
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "reference_conflict"
    assert (await gateway.balance(bob["api_key"]))["credits"] == 0


async def test_negative_adjustments_never_go_below_zero(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    ok = await add(gateway, user_id=account["user_id"], credits="-0.4")
    assert json_decimal(ok)["credits"] == Decimal("0.6")
    refused = await add(gateway, user_id=account["user_id"], credits="-0.7")
    assert refused.status_code == 400
    assert (await gateway.balance(account["api_key"]))["credits"] == Decimal("0.6")
    assert await gateway.ledger_total(account["user_id"]) == 600_000_000


@pytest.mark.parametrize(
    "payload",
    [
        {"credits": "1"},  # no target
        {"user_id": "usr_x", "api_key": "gw_live_x", "credits": "1"},  # two targets
        {"user_id": "{uid}", "credits": "1.0000000001"},  # too many decimals
        {"user_id": "{uid}", "credits": 1.0000000001},
        {"user_id": "{uid}", "credits": "abc"},
        {"user_id": "{uid}", "credits": True},
        {"user_id": "{uid}", "credits": "0"},
        {"user_id": "{uid}", "credits": "1", "bonus": 5},
    ],
)
async def test_bad_credit_requests_are_400(gateway: Gateway, payload: dict[str, Any]) -> None:
    account = await gateway.register()
    payload = {k: (v.replace("{uid}", account["user_id"]) if isinstance(v, str) else v) for k, v in payload.items()}
    response = await add(gateway, **payload)
    assert response.status_code == 400, response.text
    assert (await gateway.balance(account["api_key"]))["credits"] == 0


async def test_unknown_users_are_404(gateway: Gateway) -> None:
    response = await add(gateway, user_id="usr_nobody", credits="1")
    assert response.status_code == 404
    response = await add(gateway, api_key="gw_live_" + "B" * 43, credits="1")
    assert response.status_code == 404


async def test_admin_balance_lists_users_with_masked_keys(gateway: Gateway) -> None:
    accounts = [await gateway.customer("1", email=f"u{n}@example.com") for n in range(3)]
    first = await gateway.client.get("/admin/balance?limit=2", headers=ADMIN)
    assert first.status_code == 200
    page = json_decimal(first)
    assert len(page["data"]) == 2 and page["has_more"] is True
    rest = json_decimal(await gateway.client.get(f"/admin/balance?after={page['data'][-1]['user_id']}", headers=ADMIN))
    listed = page["data"] + rest["data"]
    assert [u["user_id"] for u in listed] == [a["user_id"] for a in accounts]
    assert all(u["credits"] == 1 and u["reserved"] == 0 for u in listed)
    text = first.text + str(rest)
    assert all(a["api_key"] not in text for a in accounts)
    assert all("…" in k for u in listed for k in u["api_keys"])
    one = json_decimal(await gateway.client.get(f"/admin/balance?user_id={accounts[1]['user_id']}", headers=ADMIN))
    assert [u["user_id"] for u in one["data"]] == [accounts[1]["user_id"]]


async def test_admin_routes_need_the_admin_key(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    for method, path in [
        ("POST", "/admin/add_credits"),
        ("GET", "/admin/balance"),
        ("POST", "/admin/refresh-models"),
        ("GET", "/admin/cache-status"),
    ]:
        no_key = await gateway.client.request(method, path, json={})
        assert no_key.status_code == 401
        customer = await gateway.client.request(method, path, json={}, headers=bearer(account["api_key"]))
        assert customer.status_code == 403
        assert customer.json()["error"]["code"] == "admin_required"
        wrong = await gateway.client.request(method, path, json={}, headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401


async def test_admin_routes_are_closed_without_an_admin_key(gateway_factory: Any) -> None:
    async with gateway_factory(admin_api_key=None) as gateway:
        response = await gateway.client.get("/admin/balance", headers={"authorization": "Bearer anything"})
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "admin_required"
