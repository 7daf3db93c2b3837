"""`api/index.py` loaded the way Vercel's Python runtime loads it — the file by path as module
`api.index`, the project root first on `sys.path`, `VERCEL=1` in the environment — and its
`app` driven through ASGI as the runtime drives it (lifespan once, then requests): a paid
request on PostgreSQL, the cron routes, the refusal of SQLite, a frozen instance's heartbeat."""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from gateway.serverless import ServerlessApp
from gateway.services.billing import holds as billing
from gateway.services.billing.money import Nanos
from gateway.settings import ConfigError
from tests.services import database_url, fresh_database, need_postgres, need_redis, redis_prefix
from tests.support import ADMIN, ADMIN_KEY, SECRET_KEY, bearer, json_decimal

ROOT = Path(__file__).resolve().parents[2]
ENTRY = ROOT / "api" / "index.py"
CRON_SECRET = "vercel-cron-secret-0123456789"


@contextmanager
def vercel_import(monkeypatch: pytest.MonkeyPatch, **env: str) -> Iterator[Any]:
    """`vercel_runtime.resolver.import_module("api.index", <root>/api/index.py)`, with the
    function's environment; yields the module. sys.path and sys.modules are put back."""
    monkeypatch.setenv("VERCEL", "1")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "path", [str(ROOT), *(p for p in sys.path if p not in ("", str(ROOT)))])
    spec = importlib.util.spec_from_file_location("api.index", ENTRY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "api.index", module)
    spec.loader.exec_module(module)
    yield module


@asynccontextmanager
async def postgres(redis: bool) -> AsyncIterator[dict[str, str]]:
    """A fresh PostgreSQL database (and a Redis prefix of its own, when asked): the env."""
    base = need_postgres()
    redis_url = need_redis() if redis else None
    async with fresh_database() as name, redis_prefix() as prefix:
        env = {"DATABASE_URL": database_url(name, base), "SECRET_KEY": SECRET_KEY, "ADMIN_API_KEY": ADMIN_KEY}
        if redis_url:
            env |= {"REDIS_URL": redis_url, "REDIS_PREFIX": prefix}
        yield env


@asynccontextmanager
async def served(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://gateway.vercel.app") as client:
            yield client


@pytest.mark.parametrize("redis", [False, True], ids=["postgres", "postgres+redis"])
async def test_a_paid_request_through_the_vercel_entry_point(monkeypatch: pytest.MonkeyPatch, redis: bool) -> None:
    async with postgres(redis) as env:
        with vercel_import(monkeypatch, **env, CRON_SECRET=CRON_SECRET) as module:
            assert isinstance(module.app, ServerlessApp)
            async with served(module.app) as client:
                registered = await client.post("/auth/register", json={"email": "vercel@example.com"})
                assert registered.status_code == 201, registered.text
                account = registered.json()
                topped = await client.post(
                    "/admin/add_credits",
                    json={"user_id": account["user_id"], "credits": "2", "reason": "vercel"},
                    headers=ADMIN,
                )
                assert topped.status_code == 200, topped.text
                reply = await client.post(
                    "/v1/chat/completions",
                    json={"model": "sim/gpt-small", "messages": [{"role": "user", "content": "Hello"}]},
                    headers=bearer(account["api_key"]),
                )
                assert reply.status_code == 200, reply.text
                cost = json_decimal(reply)["usage"]["cost"]
                assert cost > 0
                balance = json_decimal(await client.get("/user/balance", headers=bearer(account["api_key"])))
                assert (balance["credits"], balance["reserved"]) == (Decimal(2) - cost, 0)
                health = (await client.get("/health")).json()
                assert health["database"] == "postgres"
                assert health["redis"] == ("ok" if redis else "not configured")


async def test_the_cron_routes_through_the_vercel_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    async with postgres(redis=False) as env:
        with vercel_import(monkeypatch, **env, CRON_SECRET=CRON_SECRET) as module:
            async with served(module.app) as client:
                account = (await client.post("/auth/register", json={"email": "cron@example.com"})).json()
                await client.post(
                    "/admin/add_credits",
                    json={"user_id": account["user_id"], "credits": "3", "reason": "vercel"},
                    headers=ADMIN,
                )
                runtime = module.app.app.api.state.runtime
                # A function that placed a hold, then was frozen and never woken again.
                await billing.place(runtime.db, user_id=account["user_id"], key_id=None, instance_id="gw_frozen",
                                    amount=Nanos(10**9))  # fmt: skip
                balance = json_decimal(await client.get("/user/balance", headers=bearer(account["api_key"])))
                assert (balance["credits"], balance["reserved"]) == (2, 1)
                refused = await client.get("/internal/cron/release-holds")
                assert refused.status_code == 401, refused.text
                done = await client.get("/internal/cron/release-holds", headers=bearer(CRON_SECRET))
                assert done.status_code == 200, done.text
                assert done.json() == {"job": "release-holds", "done": {"released": 1}, "skipped": None}
                balance = json_decimal(await client.get("/user/balance", headers=bearer(account["api_key"])))
                assert (balance["credits"], balance["reserved"]) == (3, 0)
                for job in ("plan-credits", "auto-topup", "console-sessions"):
                    answer = await client.get(f"/internal/cron/{job}", headers=bearer(CRON_SECRET))
                    assert answer.status_code == 200, answer.text


async def test_a_request_after_a_freeze_proves_the_instance_alive_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """A frozen function's heartbeat stops; by its next request, sweepers may have forgotten
    it. That request writes the heartbeat before anything else, so the hold it places belongs
    to a live process."""
    async with postgres(redis=False) as env:
        with vercel_import(monkeypatch, **env, INSTANCE_HEARTBEAT_SECONDS="3600") as module:
            async with served(module.app) as client:
                runtime = module.app.app.api.state.runtime
                assert (await client.get("/health")).status_code == 200
                async with runtime.db.transaction() as tx:  # frozen for an hour, then forgotten
                    await tx.execute("DELETE FROM instances WHERE id = $1", runtime.instance_id)
                monkeypatch.setattr(time, "time", lambda real=time.time: real() + 7200)
                assert (await client.get("/health")).status_code == 200
                async with runtime.db.read() as tx:
                    beat = await tx.fetchval("SELECT heartbeat_at FROM instances WHERE id = $1", runtime.instance_id)
                assert beat is not None and beat > time.time() - 60


@pytest.mark.parametrize(
    "env",
    [{}, {"DATABASE_URL": "sqlite:///./gateway.db"}, {"DATABASE_URL": "sqlite:////tmp/shared.db"}],
    ids=["default", "relative", "absolute"],
)
def test_sqlite_is_refused_on_vercel_with_what_to_set(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as refused, vercel_import(monkeypatch, SECRET_KEY=SECRET_KEY, **env):
        pass
    message = str(refused.value)
    assert "DATABASE_URL: SQLite cannot work on Vercel" in message
    assert "postgresql://" in message
    assert not Path(".gateway-secret").exists() and not Path("gateway.db").exists()


def test_a_missing_secret_key_is_refused_on_vercel(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as refused, vercel_import(monkeypatch, DATABASE_URL="postgresql://db/gateway"):
        pass
    assert "SECRET_KEY: required on Vercel" in str(refused.value)
    assert not Path(".gateway-secret").exists()
