"""Several real gateway processes on one PostgreSQL and Redis, for the scale-out tests."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import redis

from tests.e2e.processes import Process, gateway_args, simulator_process
from tests.services import POSTGRES_URL, database_url, need_postgres, need_redis, pgbouncer, redis_prefix
from tests.support import ADMIN, ADMIN_KEY, SECRET_KEY, free_port


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database (its name) for one test, dropped afterwards."""
    need_postgres()
    name = f"gw_e2e_{secrets.token_hex(6)}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(POSTGRES_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def private_redis(port: int | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server of the test's own (so the test may stop it); yields its URL."""
    binary = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin:/usr/sbin")
    assert binary is not None, "redis-server is not installed"
    port = port or free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=port, socket_timeout=0.5).ping()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Cluster:
    """Gateway processes sharing one database, one Redis prefix and one simulated upstream."""

    def __init__(self, tmp_path: Path, stack: ExitStack, **env: str) -> None:
        self.tmp_path = tmp_path
        self.stack = stack
        name = stack.enter_context(postgres_database())
        self.direct_url = database_url(name)
        self.pooled_url = database_url(name, stack.enter_context(pgbouncer()) + "/x")
        redis_url = need_redis()
        self.prefix = stack.enter_context(sync_redis_prefix())
        self.env = {
            "SECRET_KEY": SECRET_KEY,
            "ADMIN_API_KEY": ADMIN_KEY,
            "REDIS_URL": redis_url,
            "REDIS_PREFIX": self.prefix,
            "REGISTER_RATE_LIMIT": "1000/minute",
            "INSTANCE_HEARTBEAT_SECONDS": "0.5",
            "INSTANCE_STALE_SECONDS": "3",
            **env,
        }
        self.processes: list[Process] = []

    def upstream(self, *, token_delay_ms: int) -> Process:
        process = self.stack.enter_context(simulator_process(self.tmp_path, token_delay_ms=token_delay_ms))
        self.env["UPSTREAM_BASE_URL"] = f"{process.url}/v1"
        return process

    def start(self, count: int, **env: str) -> list[Process]:
        """Start `count` gateways at once (odd ones through PgBouncer); wait until all answer."""
        started = []
        for _ in range(count):
            number = len(self.processes) + 1
            db = self.pooled_url if number % 2 == 0 else self.direct_url
            port = free_port()
            process = Process(
                gateway_args(port),
                env={**self.env, "DATABASE_URL": db, **env},
                cwd=self.tmp_path,
                port=port,
                log=self.tmp_path / f"gateway-{number}.log",
            )
            self.stack.callback(process.stop)
            self.processes.append(process)
            started.append(process)
        for process in started:
            process.wait_ready("/health")
        return started

    def customer(self, via: Process, credits: str, email: str) -> dict[str, Any]:
        """A customer on the enterprise plan (so the free plan's limits stay out of the way)."""
        account: dict[str, Any] = httpx.post(f"{via.url}/auth/register", json={"email": email}).json()
        assigned = httpx.post(
            f"{via.url}/admin/assign-plan", json={"user_id": account["user_id"], "plan_id": "enterprise"}, headers=ADMIN
        )
        assert assigned.status_code == 200, assigned.text
        if Decimal(credits) == 0:
            return account
        topped = httpx.post(
            f"{via.url}/admin/add_credits",
            json={"user_id": account["user_id"], "credits": credits, "reason": "e2e"},
            headers=ADMIN,
        )
        assert topped.status_code == 200, topped.text
        return account

    def books(self, user_id: str) -> tuple[int, int, int]:
        """(credits, reserved, Σ ledger) read straight from PostgreSQL."""

        async def read() -> tuple[int, int, int]:
            conn = await asyncpg.connect(self.direct_url)
            try:
                row = await conn.fetchrow("SELECT credits, reserved FROM balances WHERE user_id = $1", user_id)
                total = await conn.fetchval("SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE user_id = $1", user_id)
                return int(row["credits"]), int(row["reserved"]), int(total)
            finally:
                await conn.close()

        return asyncio.run(read())


@contextmanager
def sync_redis_prefix() -> Iterator[str]:
    """`tests.services.redis_prefix` for tests that run no event loop of their own."""
    holder: dict[str, str] = {}
    manager = redis_prefix()

    async def enter() -> None:
        holder["prefix"] = await manager.__aenter__()

    async def leave() -> None:
        await manager.__aexit__(None, None, None)

    asyncio.run(enter())
    try:
        yield holder["prefix"]
    finally:
        asyncio.run(leave())
