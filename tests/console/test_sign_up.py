"""Opening an account from the console: the registration rules of POST /auth/register, the
key shown once, and the browser signed in with it."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import httpx

from tests.console_support import ORIGIN, console_for, csrf_of
from tests.support import Gateway, bearer

Factory = Callable[..., AbstractAsyncContextManager[Gateway]]


async def sign_up(client: httpx.AsyncClient, email: str, *, origin: str = ORIGIN) -> httpx.Response:
    form = await client.get("/console/sign-up")
    return await client.post(
        "/console/sign-up", data={"csrf_token": csrf_of(form.text), "email": email}, headers={"origin": origin}
    )


async def test_signing_up_shows_the_key_once_and_signs_in(gateway: Gateway) -> None:
    async with console_for(gateway) as console:
        created = await sign_up(console.client, "new@example.com")
        assert created.status_code == 201 and "it will not be shown again" in created.text
        api_key = created.text.split('<code id="new-secret">')[1].split("<")[0]
        assert (await gateway.client.get("/user/balance", headers=bearer(api_key))).status_code == 200
        overview = await console.get("/console")
        assert overview.status_code == 200 and api_key not in overview.text


async def test_a_taken_email_is_refused_in_place(gateway: Gateway) -> None:
    await gateway.register("taken@example.com")
    async with console_for(gateway) as console:
        refused = await sign_up(console.client, "taken@example.com")
        assert refused.status_code == 409 and 'value="taken@example.com"' in refused.text
        assert "gw_console=" not in refused.headers.get("set-cookie", "")


async def test_sign_up_is_throttled_like_registration(gateway_factory: Factory) -> None:
    async with gateway_factory(register_rate_limit="2/hour") as gateway, console_for(gateway) as console:
        assert (await sign_up(console.client, "a@example.com")).status_code == 201
        assert (await sign_up(console.client, "b@example.com")).status_code == 201
        assert (await sign_up(console.client, "c@example.com")).status_code == 429


async def test_a_forged_sign_up_is_refused(gateway: Gateway) -> None:
    async with console_for(gateway) as console:
        assert (await sign_up(console.client, "x@example.com", origin="https://evil.example")).status_code == 403
