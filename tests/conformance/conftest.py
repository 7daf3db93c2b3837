"""Backends the conformance suite runs against. Every test here runs once per combination:

- `sqlite`: SQLite + in-process caches and events (the embedded default);
- `postgres`: PostgreSQL (direct) + Redis;
- `pgbouncer`: PostgreSQL through PgBouncer in transaction mode + Redis.

Each test gets its own database (or SQLite file) and Redis key prefix, removed afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gateway.db.database import Database, open_database
from tests.services import database_url, fresh_database, need_postgres, need_redis, pgbouncer, redis_prefix
from tests.support import Gateway, make_settings, running_gateway

BACKENDS = ["sqlite", "postgres", "pgbouncer"]
SHARED_BACKENDS = ["postgres", "pgbouncer"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every backend; tests marked `shared` (about what processes share) only the shared ones."""
    if "backend" in metafunc.fixturenames:
        shared = metafunc.definition.get_closest_marker("shared") is not None
        metafunc.parametrize("backend", SHARED_BACKENDS if shared else BACKENDS, indirect=True)


@dataclass(frozen=True)
class Backend:
    name: str
    database_url: str
    redis_url: str | None
    redis_prefix: str

    @property
    def shared(self) -> bool:
        """Whether several gateways share state (events, catalog) through Redis."""
        return self.redis_url is not None

    def settings(self) -> dict[str, Any]:
        values: dict[str, Any] = {"database_url": self.database_url, "redis_prefix": self.redis_prefix}
        if self.redis_url:
            values["redis_url"] = self.redis_url
        return values


@pytest.fixture(scope="session")
def pgbouncer_url() -> Iterator[str]:
    need_postgres()
    with pgbouncer() as url:
        yield url


@pytest.fixture
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        yield Backend("sqlite", f"sqlite:///{tmp_path}/conformance.db", None, "gw:")
        return
    base = need_postgres()
    redis_url = need_redis()
    if request.param == "pgbouncer":
        base = request.getfixturevalue("pgbouncer_url") + "/x"
    async with fresh_database() as name, redis_prefix() as prefix:
        yield Backend(request.param, database_url(name, base), redis_url, prefix)


@pytest.fixture
async def db(backend: Backend) -> AsyncIterator[Database]:
    database = await open_database(backend.database_url)
    await database.migrate()
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def gateways(backend: Backend, tmp_path: Path) -> Callable[..., AbstractAsyncContextManager[Gateway]]:
    """Gateway apps on this backend; two of them stand for two gateway processes."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Gateway]:
        async with running_gateway(make_settings(tmp_path, **{**backend.settings(), **overrides})) as gateway:
            yield gateway

    return start
