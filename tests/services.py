"""Real PostgreSQL, PgBouncer and Redis for the tests: reachability, throwaway databases and
key prefixes, all cleaned up afterwards.

A test that needs a service skips with a visible reason when it is unreachable, unless
REQUIRE_SERVICES=1 (CI): then it fails.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import asyncpg
import pytest
import redis
import redis.asyncio

from tests.support import free_port

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
_reachable: dict[str, str | None] = {}


def _required() -> bool:
    return os.environ.get("REQUIRE_SERVICES") == "1"


def _unavailable(service: str, reason: str) -> None:
    message = f"{service} unavailable: {reason}"
    if _required():
        pytest.fail(f"{message} (REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(message)


def _host_port(url: str, default_port: int) -> tuple[str, int]:
    netloc = url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    host, _, port = netloc.partition(":")
    return host or "127.0.0.1", int(port or default_port)


def need_postgres() -> str:
    if "postgres" not in _reachable:
        try:
            socket.create_connection(_host_port(POSTGRES_URL, 5432), timeout=3).close()
            _reachable["postgres"] = None
        except OSError as exc:
            _reachable["postgres"] = f"{POSTGRES_URL}: {exc!r}"
    if _reachable["postgres"] is not None:
        _unavailable("PostgreSQL", _reachable["postgres"])
    return POSTGRES_URL


def need_redis() -> str:
    if "redis" not in _reachable:
        try:
            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()
            _reachable["redis"] = None
        except Exception as exc:
            _reachable["redis"] = f"{REDIS_URL}: {exc!r}"
    if _reachable["redis"] is not None:
        _unavailable("Redis", _reachable["redis"])
    return REDIS_URL


def need_pgbouncer() -> str:
    path = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None)
    if path is None:
        _unavailable("PgBouncer", "the pgbouncer binary is not installed (apt-get install pgbouncer)")
    assert path is not None
    return path


def database_url(name: str, base: str = POSTGRES_URL) -> str:
    return base.rsplit("/", 1)[0] + f"/{name}"


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database for one test; dropped afterwards."""
    name = f"gw_test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield name
    finally:
        admin = await asyncpg.connect(POSTGRES_URL)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@asynccontextmanager
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of one's own; every key under it is deleted afterwards."""
    prefix = f"gwtest:{secrets.token_hex(6)}:"
    try:
        yield prefix
    finally:
        client = redis.asyncio.Redis.from_url(REDIS_URL)
        try:
            keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=500)]
            if keys:
                await client.delete(*keys)
        finally:
            await client.aclose()


@contextmanager
def pgbouncer() -> Iterator[str]:
    """A PgBouncer in transaction mode in front of the local PostgreSQL; yields its base URL."""
    binary = need_pgbouncer()
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    host, pg_port = _host_port(POSTGRES_URL, 5432)
    user = POSTGRES_URL.split("://", 1)[1].split("@", 1)[0].split(":", 1)[0]
    (workdir / "users.txt").write_text(f'"{user}" ""\n')
    lines = [
        "[databases]",
        f"* = host={host} port={pg_port}",
        "[pgbouncer]",
        "listen_addr = 127.0.0.1",
        f"listen_port = {port}",
        "auth_type = trust",
        f"auth_file = {workdir / 'users.txt'}",
        "pool_mode = transaction",
        "max_client_conn = 1000",
        "default_pool_size = 10",
        "unix_socket_dir =",
        "ignore_startup_parameters = extra_float_digits",
    ]
    if os.geteuid() == 0:
        lines.append("user = postgres")  # PgBouncer refuses to run as root
    config = workdir / "pgbouncer.ini"
    config.write_text("\n".join(lines) + "\n")
    for path in (workdir, config, workdir / "users.txt"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    log = (workdir / "pgbouncer.log").open("wb")
    process = subprocess.Popen([binary, str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    output = (workdir / "pgbouncer.log").read_text()
                    raise RuntimeError(f"pgbouncer did not start:\n{output}") from None
                time.sleep(0.05)
        yield f"postgresql://{user}@127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)
