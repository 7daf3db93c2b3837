"""Console input every backend can store: a NUL character (which PostgreSQL's text cannot
hold) is refused as invalid in any form field, query parameter or path, never a server error."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from tests.console_support import console_for
from tests.support import Gateway

Gateways = Callable[..., AbstractAsyncContextManager[Gateway]]


async def test_a_nul_character_is_refused_not_a_server_error(gateways: Gateways) -> None:
    async with gateways() as gateway:
        account = await gateway.customer("3")
        async with console_for(gateway, account["api_key"]) as console:
            answers = [
                await console.get("/console/usage", model="a\x00b"),
                await console.get("/console/keys/key%00x"),
                await console.post("/console/keys", {"key_name": "a\x00b"}),
            ]
            for answer in answers:
                assert answer.status_code == 400, (answer.request.url, answer.status_code)
                assert "NUL" in answer.text
            assert (await console.get("/console/keys")).status_code == 200
