"""The audit trail a customer sees and an admin verifies; usage views; profile and account."""

from __future__ import annotations

import time
from decimal import Decimal

from tests.support import ADMIN, Gateway, bearer, json_decimal


async def audit_actions(gateway: Gateway, api_key: str, query: str = "") -> list[str]:
    response = await gateway.client.get(f"/user/api-keys/audit-logs{query}", headers=bearer(api_key))
    assert response.status_code == 200, response.text
    return [entry["action"] for entry in response.json()["data"]]


async def test_every_change_is_audited(gateway: Gateway) -> None:
    account = await gateway.customer("1")  # admin credit change + plan assignment
    owner = bearer(account["api_key"])
    key = (await gateway.client.post("/user/api-keys", json={"key_name": "ci"}, headers=owner)).json()
    await gateway.client.put(f"/user/api-keys/{key['id']}", json={"action": "update", "max_requests": 5}, headers=owner)
    await gateway.client.put(f"/user/api-keys/{key['id']}", json={"action": "rotate"}, headers=owner)
    await gateway.client.delete(f"/user/api-keys/{key['id']}?confirmation=DELETE_KEY", headers=owner)
    await gateway.client.post(
        "/admin/limit", json={"user_id": account["user_id"], "rate_limits": {"requests_per_day": 9}}, headers=ADMIN
    )
    actions = await audit_actions(gateway, account["api_key"])
    assert actions == [
        "limits.changed", "key.deleted", "key.rotated", "key.updated", "key.created", "plan.assigned",
        "credits.changed",
    ]  # fmt: skip
    assert await audit_actions(gateway, account["api_key"], f"?key_id={key['id']}") == [
        "key.deleted", "key.rotated", "key.updated", "key.created",
    ]  # fmt: skip
    assert await audit_actions(gateway, account["api_key"], "?action=key.rotated") == ["key.rotated"]
    assert await audit_actions(gateway, account["api_key"], f"?start={time.time() + 60}") == []
    paged = (await gateway.client.get("/user/api-keys/audit-logs?limit=2", headers=owner)).json()
    assert len(paged["data"]) == 2 and paged["has_more"]
    rest = await audit_actions(gateway, account["api_key"], f"?after={paged['data'][-1]['id']}")
    assert rest == actions[2:]
    verified = (await gateway.client.get(f"/admin/audit/verify?user_id={account['user_id']}", headers=ADMIN)).json()
    assert verified == {"valid": True, "entries_checked": 7, "first_broken_link": None}


async def test_an_admin_finds_tampering(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    async with gateway.runtime.db.transaction() as tx:
        await tx.execute("DROP TRIGGER audit_no_update")
        await tx.execute("UPDATE audit_log SET details = '{}' WHERE user_id = $1 AND seq = 1", account["user_id"])
    report = (await gateway.client.get("/admin/audit/verify", headers=ADMIN)).json()
    assert report["valid"] is False
    assert report["first_broken_link"]["user_id"] == account["user_id"]
    assert report["first_broken_link"]["seq"] == 1


async def test_usage_transactions_and_environment_views(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    owner = bearer(account["api_key"])
    dev = (
        await gateway.client.post("/user/api-keys", json={"key_name": "d", "environment_tag": "dev"}, headers=owner)
    ).json()
    await gateway.chat(account["api_key"])
    await gateway.chat(dev["api_key"])
    await gateway.chat(dev["api_key"], model="sim/fail-500")
    usage = json_decimal(await gateway.client.get("/user/usage", headers=owner))
    assert [u["outcome"] for u in usage["data"]] == ["upstream_500", "completed", "completed"]
    assert usage["data"][1]["cost"] == Decimal("0.00001335") and usage["data"][0]["cost"] == 0
    transactions = json_decimal(await gateway.client.get("/user/transactions", headers=owner))
    assert [t["kind"] for t in transactions["data"]] == ["usage", "usage", "topup"]
    assert transactions["data"][0]["amount"] == Decimal("-0.00001335")
    by_env = {
        e["environment_tag"]: e
        for e in json_decimal(await gateway.client.get("/user/environment-usage", headers=owner))["data"]
    }
    assert by_env["live"]["requests"] == 1 and by_env["dev"]["requests"] == 2
    assert by_env["dev"]["credits_spent"] == Decimal("0.00001335")
    keys = json_decimal(await gateway.client.get("/user/api-keys/usage", headers=owner))["data"]
    assert {k["id"]: k["requests"] for k in keys} == {account["key_id"]: 1, dev["id"]: 2}


async def test_admin_monitor(gateway: Gateway) -> None:
    first = await gateway.customer("1", email="a@example.com")
    second = await gateway.customer("1", email="b@example.com")
    await gateway.chat(first["api_key"])
    await gateway.chat(second["api_key"], model="sim/gpt-large")
    await gateway.chat(second["api_key"], model="sim/fail-500")
    monitor = json_decimal(await gateway.client.get("/admin/monitor", headers=ADMIN))
    assert monitor["requests"] == 3 and monitor["errors"] == 1
    assert monitor["outcomes"] == {"completed": 2, "upstream_500": 1}
    assert monitor["top_users"][0]["user_id"] == second["user_id"]  # sim/gpt-large costs more
    assert {m["model"] for m in monitor["top_models"]} == {"sim/gpt-small", "sim/gpt-large", "sim/fail-500"}
    assert monitor["credits_spent"] > 0 and monitor["reserved"] == 0 and monitor["gateway_processes"] >= 1
    assert (await gateway.client.get("/admin/monitor", headers=bearer(first["api_key"]))).status_code == 403


async def test_profile_and_account_deletion(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    owner = bearer(account["api_key"])
    profile = (await gateway.client.get("/user/profile", headers=owner)).json()
    assert profile["email"] == "ada@example.com" and profile["status"] == "active"
    changed = await gateway.client.put(
        "/user/profile", json={"username": "ada-l", "email": "ADA2@example.com"}, headers=owner
    )
    assert changed.status_code == 200 and changed.json()["email"] == "ada2@example.com"
    assert (await gateway.client.put("/user/profile", json={"email": "nope"}, headers=owner)).status_code == 400
    await gateway.chat(account["api_key"])
    second = (await gateway.client.post("/user/api-keys", json={"key_name": "x"}, headers=owner)).json()
    assert (await gateway.client.delete("/user/account", headers=owner)).status_code == 400  # no confirmation
    closed = await gateway.client.delete("/user/account?confirmation=DELETE_ACCOUNT", headers=owner)
    assert closed.status_code == 200
    for secret in (account["api_key"], second["api_key"]):
        assert (await gateway.chat(secret)).status_code == 401
    rows = json_decimal(await gateway.client.get(f"/admin/balance?user_id={account['user_id']}", headers=ADMIN))
    assert rows["data"][0]["status"] == "deleted"
    assert rows["data"][0]["credits"] == 1 - Decimal("0.00001335")  # the books are kept
    assert await gateway.ledger_total(account["user_id"]) == rows["data"][0]["credits"] * 10**9
