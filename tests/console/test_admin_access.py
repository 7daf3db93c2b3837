"""Who reaches the admin pages: the admin key's and an admin user's sessions reach every one;
a customer's session gets 403 on every page and form; a read-only admin session changes nothing."""

from __future__ import annotations

from tests.console.admin_helpers import ADMIN_PAGES, ADMIN_POSTS, admin_user, read_only_key
from tests.console_support import console_for
from tests.support import ADMIN_KEY, Gateway


async def test_the_admin_key_and_an_admin_user_reach_every_admin_page(gateway: Gateway) -> None:
    customer = await gateway.customer("3", email="someone@example.com")
    admin = await admin_user(gateway)
    for key in (ADMIN_KEY, admin["api_key"]):
        async with console_for(gateway, key) as console:
            for page in ADMIN_PAGES:
                response = await console.get(page.format(user=customer["user_id"]))
                assert response.status_code == 200, (page, response.text)
                assert 'aria-current="page"' in response.text  # the admin navigation marks where we are


async def test_a_customer_gets_403_on_every_admin_page_and_form(gateway: Gateway) -> None:
    victim = await gateway.customer("3", email="victim@example.com")
    customer = await gateway.customer("3", email="nosy@example.com")
    async with console_for(gateway, customer["api_key"]) as console:
        for page in ADMIN_PAGES:
            response = await console.get(page.format(user=victim["user_id"]))
            assert response.status_code == 403, page
            assert "victim@example.com" not in response.text
        for path, fields in ADMIN_POSTS:
            response = await console.post(path.format(user=victim["user_id"]), fields)
            assert response.status_code == 403, path
    balance = await gateway.balance(victim["api_key"])
    assert str(balance["credits"]) == "3"  # nothing was credited
    assert (await gateway.client.get("/plans/forged")).status_code == 404  # nor any plan made


async def test_signed_out_visitors_are_sent_to_sign_in(gateway: Gateway) -> None:
    async with console_for(gateway) as console:
        response = await console.get("/console/admin/customers")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/console/sign-in?next=")


async def test_a_read_only_admin_session_looks_but_changes_nothing(gateway: Gateway) -> None:
    customer = await gateway.customer("3", email="someone@example.com")
    admin = await admin_user(gateway)
    async with console_for(gateway, await read_only_key(gateway, admin["api_key"])) as console:
        page = await console.get(f"/console/admin/customers/{customer['user_id']}")
        assert page.status_code == 200 and "read-only" in page.text
        for path, fields in ADMIN_POSTS[:-1]:  # all but the audit check, which reads only
            response = await console.post(path.format(user=customer["user_id"]), fields)
            assert response.status_code == 403, path
            assert "read-only" in response.text
        verified = await console.post("/console/admin/audit/verify", {})
        assert verified.status_code == 200 and "Valid" in verified.text
    assert str((await gateway.balance(customer["api_key"]))["credits"]) == "3"


async def test_a_form_from_another_site_is_refused(gateway: Gateway) -> None:
    customer = await gateway.customer("3")
    async with console_for(gateway, ADMIN_KEY) as console:
        path = f"/console/admin/customers/{customer['user_id']}/credits"
        fields = {"direction": "credit", "amount": "5", "reason": "x"}
        assert (await console.post(path, fields, csrf="forged")).status_code == 403
        cross_site = await console.client.post(
            path, data={"csrf_token": console.csrf, **fields}, headers={"origin": "https://evil.example"}
        )
        assert cross_site.status_code == 403
    assert str((await gateway.balance(customer["api_key"]))["credits"]) == "3"
