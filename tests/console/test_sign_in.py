"""Signing in and out of the console: sessions, cookies, CSRF, throttling, revocation."""

from __future__ import annotations

from tests.console_support import ORIGIN, console_for, csrf_of
from tests.support import ADMIN_KEY, Gateway


async def test_a_customer_signs_in_with_a_key_and_sees_the_overview(gateway: Gateway) -> None:
    account = await gateway.customer("12.5")
    async with console_for(gateway) as console:
        assert (await console.get("/console")).headers["location"].startswith("/console/sign-in")
        signed = await console.sign_in(account["api_key"])
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
        page = await console.get("/console")
        assert page.status_code == 200
        assert "12.50 credits" in page.text
        assert account["api_key"] not in page.text


async def test_root_leads_to_the_console(gateway: Gateway) -> None:
    response = await gateway.client.get("/")
    assert response.status_code == 303 and response.headers["location"] == "/console"


async def test_a_wrong_key_is_refused_in_place(gateway: Gateway) -> None:
    async with console_for(gateway) as console:
        response = await console.sign_in("gw_live_" + "x" * 43, expect=401)
        assert "that key was not accepted" in response.text


async def test_the_admin_key_signs_in_to_the_admin_pages(gateway: Gateway) -> None:
    async with console_for(gateway) as console:
        response = await console.sign_in(ADMIN_KEY)
        assert response.headers["location"] == "/console/admin/customers"


async def test_a_sign_in_post_without_the_form_cookie_is_refused(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    async with console_for(gateway) as console:
        form = await console.get("/console/sign-in")
        console.client.cookies.clear()
        response = await console.client.post(
            "/console/sign-in", data={"csrf_token": csrf_of(form.text), "api_key": account["api_key"]},
            headers={"origin": ORIGIN},
        )  # fmt: skip
        assert response.status_code == 403
        assert "gw_console=" not in response.headers.get("set-cookie", "")
