"""`gateway admin create-admin|remove-admin`: an admin account's own key replaces ADMIN_API_KEY on
the admin routes and the console's admin pages; a role change reaches running gateways at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.db.accounts import users
from gateway.db.audit import log
from gateway.services.billing import balances
from tests.console_support import console_for
from tests.e2e.cli_support import Operator, customer, database
from tests.services import REDIS_URL, need_redis, redis_prefix
from tests.support import ADMIN, Gateway, bearer, make_settings, running_gateway

pytestmark = pytest.mark.e2e


async def admin_status(gateway: Gateway, key: str) -> int:
    return (await gateway.client.get("/admin/monitor", headers=bearer(key))).status_code


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_create_admin_key_opens_admin_routes_and_the_console(backend: str, tmp_path: Path) -> None:
    async with database(backend, tmp_path) as (url, db):
        operator = Operator(url, tmp_path, SIGNUP_CREDITS="5")
        ran = await operator("admin", "create-admin", "--email", "Ops@Example.com", "--username", "ops")
        assert ran.code == 0, ran
        key = ran.out.strip()
        assert key.startswith("gw_live_")
        assert ran.out == f"{key}\n"  # the key alone on stdout: KEY=$(gateway admin create-admin ...)
        assert key not in ran.err
        assert "ops@example.com" in ran.err
        settings = make_settings(tmp_path, database_url=url, admin_api_key=None)  # the bootstrap key retired
        async with running_gateway(settings) as gateway:
            assert await admin_status(gateway, key) == 200
            assert (await gateway.client.get("/admin/monitor", headers=ADMIN)).status_code == 403
            async with console_for(gateway, key) as console:
                page = await console.get("/console/admin/customers")
                assert page.status_code == 200
                assert "ops@example.com" in page.text
        async with db.read() as tx:
            found = await users.id_by_email(tx, "ops@example.com")
            assert found is not None
            admin = await users.get(tx, found)
            entries = await log.chain(tx, found)
        assert admin is not None
        assert (admin.role, admin.username) == ("admin", "ops")
        assert [e.action for e in entries] == ["account.role_changed"]
        assert (await balances.balance_of(db, user_id=found)).credits == 0  # an operator's, not a customer's


async def test_create_admin_refusals(tmp_path: Path) -> None:
    # On a new deployment: the SQLite file need not exist yet, the command migrates it.
    operator = Operator(f"sqlite:///{tmp_path}/new.db", tmp_path)
    assert (await operator.ok("admin", "create-admin", "--email", "ops@example.com")).startswith("gw_live_")
    refused = operator.refused
    assert await refused("admin", "create-admin", "--email", "ops@example.com") == (
        "an account with this email already exists"
    )
    assert await refused("admin", "create-admin", "--email", "nope") == "'email' is not a valid email address"
    assert (await refused("admin", "create-admin", "--email", "a@example.com", "--username", "x")).startswith(
        "'username' must be 3-40 letters"
    )
    assert await refused("admin", "create-admin") == (
        "give --email for a new admin account (or --promote --user USER_ID for an existing one)"
    )
    assert await refused("admin", "create-admin", "--email", "b@example.com", "--user", "usr_x") == (
        "--user goes with --promote; a new admin account takes --email"
    )
    assert await refused("admin", "create-admin", "--promote", "--email", "b@example.com") == (
        "--promote takes --user USER_ID (and neither --email nor --username)"
    )
    assert await refused("admin", "create-admin", "--promote", "--user", "usr_nobody") == (
        "no user has the id 'usr_nobody'"
    )
    assert await refused("admin", "remove-admin", "--user", "usr_nobody") == "no user has the id 'usr_nobody'"
    assert (await refused("admin", "create-admin", "--email", "c@example.com", SECRET_KEY="")).startswith(
        "SECRET_KEY is not set"
    )


async def test_promote_and_remove_on_sqlite(tmp_path: Path) -> None:
    async with database("sqlite", tmp_path) as (url, db):
        ada = await customer(db, "ada@example.com")
        operator = Operator(url, tmp_path)
        promoted = await operator.ok("admin", "create-admin", "--promote", "--user", ada.user.id)
        assert promoted.startswith(f"{ada.user.id} (ada@example.com) is now an admin: ")
        assert "already an admin" in await operator.ok("admin", "create-admin", "--promote", "--user", ada.user.id)
        async with running_gateway(make_settings(tmp_path, database_url=url)) as gateway:
            assert await admin_status(gateway, ada.api_key) == 200
        removed = await operator.ok("admin", "remove-admin", "--user", ada.user.id)
        assert removed == f"{ada.user.id} (ada@example.com) is no longer an admin\n"
        async with db.read() as tx:
            entries = await log.chain(tx, ada.user.id)
        assert [(e.action, e.details) for e in entries] == [
            ("account.role_changed", '{"previous":"customer","role":"admin"}'),
            ("account.role_changed", '{"previous":"admin","role":"customer"}'),
        ]


async def test_a_role_change_reaches_a_running_gateway_at_once(tmp_path: Path) -> None:
    """With Redis, the command tells the gateways to forget the user's cached keys: the next
    request sees the new role (without Redis it would within KEY_CACHE_SECONDS)."""
    need_redis()
    async with database("postgres", tmp_path) as (url, _), redis_prefix() as prefix:
        settings = make_settings(tmp_path, database_url=url, redis_url=REDIS_URL, redis_prefix=prefix)
        operator = Operator(url, tmp_path, REDIS_URL=REDIS_URL, REDIS_PREFIX=prefix)
        async with running_gateway(settings) as gateway:
            ada = await gateway.register("ada@example.com")
            assert await admin_status(gateway, ada["api_key"]) == 403  # and cached as a customer's key
            await operator.ok("admin", "create-admin", "--promote", "--user", ada["user_id"])
            assert await admin_status(gateway, ada["api_key"]) == 200
            await operator.ok("admin", "remove-admin", "--user", ada["user_id"])
            assert await admin_status(gateway, ada["api_key"]) == 403
