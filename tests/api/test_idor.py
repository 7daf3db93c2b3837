"""No customer can see or touch another customer's keys or data, on any customer route."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import Gateway, bearer


@pytest.fixture
async def two(gateway: Gateway) -> tuple[dict[str, Any], dict[str, Any]]:
    alice = await gateway.customer("1", email="alice@example.com")
    bob = await gateway.customer("1", email="bob@example.com")
    extra = await gateway.client.post("/user/api-keys", json={"key_name": "bob-ci"}, headers=bearer(bob["api_key"]))
    bob["second_key"] = extra.json()
    await gateway.chat(bob["api_key"])  # bob has usage, ledger rows and audit entries
    return alice, bob


@pytest.mark.parametrize("action", ["update", "rotate", "bulk_rotate"])
async def test_another_customers_key_cannot_be_changed(gateway: Gateway, two: Any, action: str) -> None:
    alice, bob = two
    for key_id in (bob["key_id"], bob["second_key"]["id"]):
        response = await gateway.client.put(
            f"/user/api-keys/{key_id}", json={"action": action, "key_name": "mine"}, headers=bearer(alice["api_key"])
        )
        assert response.status_code == 404, response.text
    assert (await gateway.chat(bob["api_key"])).status_code == 200
    assert (await gateway.chat(bob["second_key"]["api_key"])).status_code == 200


async def test_another_customers_key_cannot_be_deleted(gateway: Gateway, two: Any) -> None:
    alice, bob = two
    response = await gateway.client.delete(
        f"/user/api-keys/{bob['second_key']['id']}?confirmation=DELETE_KEY", headers=bearer(alice["api_key"])
    )
    assert response.status_code == 404
    assert (await gateway.chat(bob["second_key"]["api_key"])).status_code == 200


async def test_reads_show_only_ones_own_data(gateway: Gateway, two: Any) -> None:
    alice, bob = two
    alice_key = bearer(alice["api_key"])
    bob_ids = {bob["user_id"], bob["key_id"], bob["second_key"]["id"]}
    reads = [
        "/user/balance", "/user/profile", "/user/plan", "/user/plan/usage", "/user/plan/entitlements",
        "/user/limit", "/user/monitor", "/user/api-keys", "/user/api-keys/usage", "/user/usage",
        "/user/transactions", "/user/environment-usage", "/user/api-keys/audit-logs",
        f"/user/api-keys/audit-logs?key_id={bob['key_id']}", "/user/usage?after=zzzz",
        f"/user/api-keys?after={bob['key_id'][:-1]}",
    ]  # fmt: skip
    for path in reads:
        response = await gateway.client.get(path, headers=alice_key)
        assert response.status_code == 200, (path, response.text)
        text = response.text
        assert not any(i in text for i in bob_ids), path
        assert "bob@example.com" not in text and bob["api_key"][-8:] not in text, path
    filtered = (await gateway.client.get(f"/user/api-keys/audit-logs?key_id={bob['key_id']}", headers=alice_key)).json()
    assert filtered["data"] == []


async def test_profile_changes_cannot_take_anothers_identity(gateway: Gateway, two: Any) -> None:
    alice, _ = two
    taken = await gateway.client.put(
        "/user/profile", json={"email": "BOB@example.com"}, headers=bearer(alice["api_key"])
    )
    assert taken.status_code == 409


async def test_closing_an_account_closes_only_ones_own(gateway: Gateway, two: Any) -> None:
    alice, bob = two
    closed = await gateway.client.request(
        "DELETE", "/user/account", json={"confirmation": "DELETE_ACCOUNT"}, headers=bearer(alice["api_key"])
    )
    assert closed.status_code == 200 and closed.json()["status"] == "deleted"
    assert (await gateway.chat(alice["api_key"])).status_code == 401
    assert (await gateway.chat(bob["api_key"])).status_code == 200
    assert (await gateway.chat(bob["second_key"]["api_key"])).status_code == 200
