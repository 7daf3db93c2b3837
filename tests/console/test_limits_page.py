"""The console's Limits page: each window's use against its limit (as GET /user/limit), the
plan's other caps, an admin's overrides, the keys with limits of their own, the empty state."""

from __future__ import annotations

from typing import Any

from gateway.routes.console.limits import WindowLine
from tests.console_support import console_for
from tests.support import ADMIN, Gateway, bearer


async def new_plan(gateway: Gateway, **fields: Any) -> None:
    response = await gateway.client.post("/admin/plans", json=fields, headers=ADMIN)
    assert response.status_code == 201, response.text


async def test_each_window_shows_its_use_against_its_limit(gateway: Gateway) -> None:
    account = await gateway.customer("10", plan="pro")
    assert (await gateway.chat(account["api_key"])).status_code == 200
    api = (await gateway.client.get("/user/limit", headers=bearer(account["api_key"]))).json()
    async with console_for(gateway, account["api_key"]) as console:
        page = await console.get("/console/limits")
    assert page.status_code == 200
    text = page.text
    for window in api["limits"]:  # the same figures as the API's
        assert f"{window['used']:,} of {window['limit']:,}" in text
    assert "Requests per minute" in text and "1 of 600" in text and "Tokens per day" in text
    assert text.count('<svg class="meter"') == 6 and '<rect width="1"' in text  # a sliver for any use
    assert "Pro" in text and "1 of 50" in text  # keys used of the plan's most
    assert ">100</p>" in text  # concurrent requests per key
    assert "None of your keys has rate limits of its own" in text


async def test_an_admins_override_and_a_full_window(gateway: Gateway) -> None:
    account = await gateway.customer("10", plan="pro")
    override = {"user_id": account["user_id"], "rate_limits": {"requests_per_minute": 1}}
    assert (await gateway.client.post("/admin/limit", json=override, headers=ADMIN)).status_code == 200
    assert (await gateway.chat(account["api_key"])).status_code == 200
    async with console_for(gateway, account["api_key"]) as console:
        text = (await console.get("/console/limits")).text
    assert "1 of 1" in text and '<svg class="meter full"' in text and 'aria-label="100% used"' in text
    assert text.count("set by an administrator") == 1


async def test_keys_with_limits_of_their_own(gateway: Gateway) -> None:
    account = await gateway.customer("10")
    limits = {"requests_per_minute": 5, "tokens_per_day": 700}
    created = await gateway.client.post(
        "/user/api-keys", json={"key_name": "<b>ci</b>", "rate_limits": limits}, headers=bearer(account["api_key"])
    )
    key = created.json()
    async with console_for(gateway, key["api_key"]) as console:
        text = (await console.get("/console/limits")).text
    assert f'href="/console/keys/{key["id"]}">&lt;b&gt;ci&lt;/b&gt;</a>' in text and "<b>ci</b>" not in text
    assert "Requests per minute: 5 · Tokens per day: 700" in text
    assert text.count(">this key<") == 2  # signed in with it: its own windows are shown too
    assert "0 of 5" in text and "0 of 700" in text


async def test_a_plan_without_limits_shows_the_empty_state(gateway: Gateway) -> None:
    await new_plan(gateway, id="open", name="Open")
    account = await gateway.customer("10", plan="open")
    async with console_for(gateway, account["api_key"]) as console:
        text = (await console.get("/console/limits")).text
    assert "Your plan sets no rate limits" in text and "<svg" not in text
    assert text.count(">no limit</p>") == 2 and "As many keys as you need" in text


async def test_a_test_key_session_sees_its_limits(gateway: Gateway) -> None:
    account = await gateway.register("t@example.com", environment_tag="test")
    async with console_for(gateway, account["api_key"]) as console:
        page = await console.get("/console/limits")
    assert page.status_code == 200 and "Requests per minute" in page.text and "of 60" in page.text


def test_a_windows_meter() -> None:
    window = WindowLine("requests_per_minute", "user", False, limit=200, used=1, remaining=199, reset="1s")
    assert (window.label, window.percent, window.bar) == ("Requests per minute", 0, 1)
    over = WindowLine("tokens_per_day", "key", False, limit=10, used=12, remaining=0, reset="1s")
    assert (over.label, over.percent, over.bar) == ("Tokens per day", 100, 100)
