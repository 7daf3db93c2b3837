"""Admin: a customer's plan, rate limits and status, changed from their page."""

from __future__ import annotations

from typing import Any

from tests.console.admin_helpers import admin_user
from tests.console_support import console_for
from tests.support import ADMIN_KEY, Gateway, bearer


async def limits_of(gateway: Gateway, api_key: str) -> dict[str, Any]:
    response = await gateway.client.get("/user/limit", headers=bearer(api_key))
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def test_assigning_a_plan_applies_at_once(gateway: Gateway) -> None:
    account = await gateway.customer("1", plan="free")
    path = f"/console/admin/customers/{account['user_id']}"
    async with console_for(gateway, ADMIN_KEY) as console:
        page = (await console.get(path)).text
        assert '<option value="pro"' in page and "Does not expire" in page
        done = await console.post(f"{path}/plan", {"plan_id": "pro", "months": "3"})
        assert done.status_code == 303 and done.headers["location"].endswith("?done=plan")
        page = (await console.get(done.headers["location"])).text
        assert "Plan assigned" in page and "Paid until" in page
        assert '<option value="pro" selected>' in page
        unknown = await console.post(f"{path}/plan", {"plan_id": "platinum", "months": "1"})
        assert unknown.status_code == 404 and "Plan not assigned: no plan &#39;platinum&#39;" in unknown.text
        too_long = await console.post(f"{path}/plan", {"plan_id": "pro", "months": "121"})
        assert too_long.status_code == 400 and "duration_months" in too_long.text
    plan = (await gateway.client.get("/user/plan", headers=bearer(account["api_key"]))).json()
    assert plan["id"] == "pro" and plan["expires_at"] is not None


async def test_limits_override_the_plan_and_an_emptied_window_has_no_limit(gateway: Gateway) -> None:
    account = await gateway.customer("1", plan="free")
    path = f"/console/admin/customers/{account['user_id']}"
    async with console_for(gateway, ADMIN_KEY) as console:
        page = (await console.get(path)).text
        shown = {
            name: shown_value(page, name) for name in ("requests_per_minute", "requests_per_hour", "tokens_per_day")
        }
        assert all(shown.values())  # the free plan limits each of these windows
        done = await console.post(f"{path}/limits", {
            "requests_per_minute": "7",  # changed: an override
            "tokens_per_day": "",  # emptied: no limit
            "requests_per_hour": shown["requests_per_hour"],  # left as shown: still the plan's
            **{f"shown_{name}": value for name, value in shown.items()},
        })  # fmt: skip
        assert done.status_code == 303 and done.headers["location"].endswith("?done=limits")
        page = (await console.get(done.headers["location"])).text
        assert "Limits saved" in page and shown_value(page, "requests_per_minute") == "7"
        same = await console.post(f"{path}/limits", {"requests_per_minute": "7", "shown_requests_per_minute": "7"})
        assert same.headers["location"].endswith("?done=unchanged")
        bad = await console.post(f"{path}/limits", {"requests_per_minute": "many", "shown_requests_per_minute": "7"})
        assert bad.status_code == 400 and "Limits not saved" in bad.text and 'value="many"' in bad.text
    windows = {(w["scope"], w["dimension"], w["window_seconds"]): w["limit"]
               for w in (await limits_of(gateway, account["api_key"]))["limits"]}  # fmt: skip
    assert windows[("user", "requests", 60)] == 7
    assert windows[("user", "requests", 3600)] == int(shown["requests_per_hour"])
    assert ("user", "tokens", 86_400) not in windows  # no limit now


def shown_value(page: str, name: str) -> str:
    return page.split(f'name="shown_{name}" value="', 1)[1].split('"', 1)[0]


async def test_suspending_stops_the_keys_and_the_console_session_then_reactivating_restores_them(
    gateway: Gateway,
) -> None:
    account = await gateway.customer("5", email="ada@example.com")
    path = f"/console/admin/customers/{account['user_id']}"
    async with console_for(gateway, account["api_key"]) as customer, console_for(gateway, ADMIN_KEY) as admin:
        assert (await customer.get("/console")).status_code == 200
        done = await admin.post(f"{path}/status", {"status": "suspended", "status_reason": "chargeback"})
        assert done.status_code == 303 and done.headers["location"].endswith("?done=suspended")
        page = (await admin.get(done.headers["location"])).text
        assert "Account suspended" in page and "Reactivate" in page and "suspended</span>" in page
        refused = await gateway.client.get("/user/balance", headers=bearer(account["api_key"]))
        assert refused.status_code in (401, 403) and "suspended" in refused.text
        assert (await gateway.chat(account["api_key"])).status_code in (401, 403)
        signed_out = await customer.get("/console")
        assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/console/sign-in")
        listed = (await admin.get("/console/admin/customers")).text
        assert 'badge bad">suspended' in listed
        back = await admin.post(f"{path}/status", {"status": "active"})
        assert back.headers["location"].endswith("?done=active")
    assert (await gateway.balance(account["api_key"]))["credits"] == 5
    entries = (await gateway.client.get("/user/api-keys/audit-logs", headers=bearer(account["api_key"]))).json()
    actions = [e["action"] for e in entries["data"]]
    assert "account.suspended" in actions and "account.reactivated" in actions


async def test_an_admin_cannot_suspend_the_account_they_are_signed_in_with(gateway: Gateway) -> None:
    admin = await admin_user(gateway)
    async with console_for(gateway, admin["api_key"]) as console:
        refused = await console.post(f"/console/admin/customers/{admin['user_id']}/status", {"status": "suspended"})
        assert refused.status_code == 403 and "lock you out" in refused.text
        assert (await console.get("/console/admin/customers")).status_code == 200


async def test_an_unknown_status_is_refused_in_place(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    async with console_for(gateway, ADMIN_KEY) as console:
        refused = await console.post(f"/console/admin/customers/{account['user_id']}/status", {"status": "deleted"})
    assert refused.status_code == 400 and "Status not changed" in refused.text
    assert (await gateway.balance(account["api_key"]))["credits"] == 1


async def test_a_suspended_customers_sessions_stay_ended_after_reactivation(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    path = f"/console/admin/customers/{account['user_id']}"
    async with console_for(gateway, account["api_key"]) as customer, console_for(gateway, ADMIN_KEY) as admin:
        assert (await customer.get("/console")).status_code == 200
        for status in ("suspended", "active"):  # reactivated before the customer loaded a page
            assert (await admin.post(f"{path}/status", {"status": status})).status_code == 303
        ended = await customer.get("/console")
        assert ended.status_code == 303 and ended.headers["location"].startswith("/console/sign-in")
