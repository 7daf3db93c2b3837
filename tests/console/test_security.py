"""The console's defences: session fixation, forged (cross-site) posts, admin pages closed to
customers, throttled sign-in, expiring sessions, cookies and headers a browser needs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx

from tests.console_support import ORIGIN, Console, console_for, csrf_of
from tests.support import Gateway, bearer

Factory = Callable[..., AbstractAsyncContextManager[Gateway]]


async def test_a_token_planted_before_sign_in_never_becomes_a_session(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    async with console_for(gateway) as console:
        console.client.cookies.set("gw_console", "planted-by-an-attacker", domain="gateway.test", path="/console")
        await console.sign_in(account["api_key"])
        issued = console.client.cookies.get("gw_console", path="/console")
        assert issued and issued != "planted-by-an-attacker"
    async with console_for(gateway) as attacker:
        attacker.client.cookies.set("gw_console", "planted-by-an-attacker", domain="gateway.test", path="/console")
        assert (await attacker.get("/console")).status_code == 303


async def test_signing_in_again_ends_the_previous_session(gateway: Gateway) -> None:
    ada, bob = (
        await gateway.customer("1", email="ada@example.com"),
        await gateway.customer("1", email="bob@example.com"),
    )
    async with console_for(gateway, ada["api_key"]) as console:
        first = console.client.cookies.get("gw_console", path="/console")
        await console.sign_in(bob["api_key"])
        second = console.client.cookies.get("gw_console", path="/console")
        assert first != second
    async with console_for(gateway) as replay:
        replay.client.cookies.set("gw_console", str(first), domain="gateway.test", path="/console")
        assert (await replay.get("/console")).status_code == 303


async def test_a_cross_site_form_post_is_refused(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    async with console_for(gateway, account["api_key"]) as console:
        evil = await console.client.post(
            "/console/sign-out", data={"csrf_token": console.csrf}, headers={"origin": "https://evil.example"}
        )
        no_token = await console.post("/console/sign-out", csrf="")
        wrong_token = await console.post("/console/sign-out", csrf="x" * 64)
        for refused in (evil, no_token, wrong_token):
            assert refused.status_code == 403 and "came from another site" in refused.text
        assert (await console.get("/console")).status_code == 200  # still signed in: nothing happened
        async with console_for(gateway, account["api_key"]) as other:
            stolen = await other.post("/console/sign-out", csrf=console.csrf)  # another session's token
            assert stolen.status_code == 403


async def test_a_forged_sign_in_is_refused(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    async with console_for(gateway) as console:
        form = await console.get("/console/sign-in")
        forged = await console.client.post(
            "/console/sign-in",
            data={"csrf_token": csrf_of(form.text), "api_key": account["api_key"]},
            headers={"origin": "https://evil.example"},
        )
        assert forged.status_code == 403 and "gw_console=" not in forged.headers.get("set-cookie", "")


async def test_a_customer_session_cannot_reach_admin_pages(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    async with console_for(gateway, account["api_key"]) as console:
        for path in ("/console/admin/customers", "/console/admin/plans", "/console/admin/system"):
            page = await console.get(path)
            assert page.status_code == 403, path
            assert "admin pages need the admin key" in page.text


async def test_sign_in_attempts_are_throttled_per_address(gateway_factory: Factory) -> None:
    async with gateway_factory(console_signin_rate_limit="3/minute") as gateway, console_for(gateway) as console:
        for _ in range(3):
            await console.sign_in("gw_live_" + "x" * 43, expect=401)
        throttled = await console.sign_in("gw_live_" + "y" * 43, expect=429)
        assert "too many requests from this address" in throttled.text
        assert int(throttled.headers["retry-after"]) >= 1


async def test_a_session_expires(gateway_factory: Factory) -> None:
    # Two seconds: a cookie's expiry is counted in whole seconds, so one second could end
    # within the test's first milliseconds.
    async with gateway_factory(console_session_hours=2 / 3600) as gateway:
        account = await gateway.customer("1")
        async with console_for(gateway, account["api_key"]) as console:
            assert (await console.get("/console")).status_code == 200
            await asyncio.sleep(2.1)
            assert (await console.get("/console")).status_code == 303


async def test_the_cookie_is_secure_over_https_and_pages_carry_security_headers(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    transport = httpx.ASGITransport(app=gateway.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://gateway.test") as client:
        console = Console(client)
        form = await client.get("/console/sign-in")
        signed = await client.post(
            "/console/sign-in", data={"csrf_token": csrf_of(form.text), "api_key": account["api_key"]},
            headers={"origin": "https://gateway.test"},
        )  # fmt: skip
        cookie = signed.headers["set-cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
        page = await console.get("/console")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store" and page.headers["x-frame-options"] == "DENY"


async def test_an_address_bound_key_signs_in_only_from_its_addresses(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    bound = await gateway.client.post(
        "/user/api-keys",
        json={"key_name": "office", "ip_allowlist": ["203.0.113.7"]},
        headers=bearer(account["api_key"]),
    )
    async with console_for(gateway) as console:
        refused = await console.sign_in(bound.json()["api_key"], expect=403)
        assert "gw_console=" not in refused.headers.get("set-cookie", "")


async def test_unknown_console_pages_and_static_files_are_pages_not_json(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    async with console_for(gateway, account["api_key"]) as console:
        missing = await console.get("/console/nowhere")
        assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
        page = (await console.get("/console")).text
        css = page.split('rel="stylesheet" href="')[1].split('"')[0]
        asset = await console.get(css)
        assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
        assert (await console.get(css.replace("console.css", "nope.css"))).status_code == 404


async def test_the_session_cookie_never_reaches_the_api(gateway: Gateway) -> None:
    """The cookie's path is /console: the JSON API authenticates only by bearer key."""
    account = await gateway.customer("1")
    async with console_for(gateway, account["api_key"]) as console:
        answer: Any = await console.client.get("/user/balance")
        assert answer.status_code == 401
        assert console.client.cookies.get("gw_console", path="/console")
        assert ORIGIN
