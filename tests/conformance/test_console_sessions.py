"""Console sessions on every backend: stored hashed, ended by the key's revocation or rotation
on every gateway process (two apps on one database and Redis stand for two processes)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest

from gateway.db.database import Database
from tests.console_support import console_for
from tests.support import Gateway, bearer

Gateways = Callable[..., AbstractAsyncContextManager[Gateway]]


@pytest.mark.shared
async def test_revoking_a_key_ends_its_session_on_every_process(gateways: Gateways) -> None:
    async with gateways() as one, gateways() as other:
        account = await one.customer("3")
        spare = await one.client.post("/user/api-keys", json={"key_name": "spare"}, headers=bearer(account["api_key"]))
        async with console_for(other, account["api_key"]) as console:
            assert (await console.get("/console")).status_code == 200  # the key is cached on `other` now
            deleted = await one.client.request(
                "DELETE", f"/user/api-keys/{account['key_id']}?confirmation=DELETE_KEY",
                headers=bearer(spare.json()["api_key"]),
            )  # fmt: skip
            assert deleted.status_code == 200, deleted.text
            gone = await console.get("/console")
            assert gone.status_code == 303 and gone.headers["location"].startswith("/console/sign-in")


@pytest.mark.shared
async def test_rotating_a_key_ends_its_session_on_every_process(gateways: Gateways) -> None:
    async with gateways() as one, gateways() as other:
        account = await one.customer("3")
        async with console_for(other, account["api_key"]) as console:
            assert (await console.get("/console/usage")).status_code == 200
            rotated = await one.client.put(
                f"/user/api-keys/{account['key_id']}", json={"action": "rotate"}, headers=bearer(account["api_key"])
            )
            assert rotated.status_code == 200
            assert (await console.get("/console/usage")).status_code == 303
        async with console_for(other, rotated.json()["api_key"]) as console:
            assert (await console.get("/console/usage")).status_code == 200


async def test_only_the_token_hash_is_stored_and_sign_out_removes_it(gateways: Gateways, db: Database) -> None:
    async with gateways() as gateway:
        account = await gateway.customer("1")
        async with console_for(gateway, account["api_key"]) as console:
            token = console.client.cookies["gw_console"]
            async with db.read() as tx:
                stored = [r["token_hash"] for r in await tx.fetchall("SELECT token_hash FROM console_sessions")]
            assert len(stored) == 1 and token not in stored[0] and account["api_key"] not in stored[0]
            assert (await console.post("/console/sign-out")).status_code == 303
            async with db.read() as tx:
                assert await tx.fetchval("SELECT COUNT(*) FROM console_sessions") == 0
            console.client.cookies.set("gw_console", token, path="/console")
            assert (await console.get("/console")).status_code == 303
