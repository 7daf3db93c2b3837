"""A browser-like console client for API-level tests: a cookie jar, the sign-in form, and
posts that carry the page's CSRF token and an Origin header, as a browser's would."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tests.support import Gateway

ORIGIN = "http://gateway.test"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


class Console:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.csrf = ""

    async def sign_in(self, api_key: str, *, expect: int = 303) -> httpx.Response:
        form = await self.client.get("/console/sign-in")
        response = await self.client.post(
            "/console/sign-in",
            data={"csrf_token": csrf_of(form.text), "api_key": api_key, "next": ""},
            headers={"origin": ORIGIN},
        )
        assert response.status_code == expect, response.text
        if expect == 303:
            page = await self.client.get(response.headers["location"])
            self.csrf = csrf_of(page.text)
        return response

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params or None)

    async def post(self, path: str, data: dict[str, Any] | None = None, *, csrf: str | None = None) -> httpx.Response:
        fields = {"csrf_token": self.csrf if csrf is None else csrf, **(data or {})}
        return await self.client.post(path, data=fields, headers={"origin": ORIGIN})


@asynccontextmanager
async def console_for(gateway: Gateway, api_key: str | None = None) -> AsyncIterator[Console]:
    """A console client of its own (its own cookies), signed in with `api_key` if given."""
    transport = httpx.ASGITransport(app=gateway.client._transport.app)  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
        console = Console(client)
        if api_key is not None:
            await console.sign_in(api_key)
        yield console
