"""PostgreSQL backend (asyncpg), for several gateway processes sharing one database.

Works through a transaction-mode pooler (Supabase's port 6543, PgBouncer) as well as a
direct connection: no prepared statements kept across transactions unless
DATABASE_PREPARED_STATEMENTS says the connection allows them, no session state, and
migrations serialised with a transaction-scoped advisory lock rather than a session one.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import asyncpg

from gateway.db.billing.holds_postgres import PostgresHolds
from gateway.db.database import ConstraintViolation, Dialect, TransientConflict
from gateway.db.migrations import migrations_for

# An arbitrary constant: the advisory lock every gateway process takes to migrate.
_MIGRATION_LOCK = 7_320_411_265


def _rows_changed(status: str) -> int:
    """`UPDATE 3`, `INSERT 0 1`, `DELETE 0` → the count at the end."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


_TRANSIENT = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)


@contextmanager
def _neutral_errors() -> Iterator[None]:
    """asyncpg's errors as the backend-neutral ones stores know: a deadlock or serialisation
    failure (`database.retrying` runs it again) and a broken CHECK constraint."""
    try:
        yield
    except _TRANSIENT as exc:
        raise TransientConflict(str(exc)) from exc
    except asyncpg.CheckViolationError as exc:
        raise ConstraintViolation(exc.constraint_name or "") from exc


class PostgresTx:
    for_update = " FOR UPDATE"
    # Rows that reference the locked one (FOR KEY SHARE, taken by foreign keys) never wait.
    for_no_key_update = " FOR NO KEY UPDATE"

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> int:
        with _neutral_errors():
            return _rows_changed(await self._conn.execute(sql, *args))

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        with _neutral_errors():
            row: asyncpg.Record | None = await self._conn.fetchrow(sql, *args)
        return row

    async def fetchall(self, sql: str, *args: Any) -> Sequence[asyncpg.Record]:
        with _neutral_errors():
            rows: list[asyncpg.Record] = await self._conn.fetch(sql, *args)
        return rows

    async def fetchval(self, sql: str, *args: Any) -> Any:
        with _neutral_errors():
            return await self._conn.fetchval(sql, *args)

    async def lock(self, name: str) -> None:
        # Transaction-scoped, so it is safe behind PgBouncer in transaction mode.
        await self.execute("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))", name)


async def _keep_as_is(_: asyncpg.Connection) -> None:
    """What a pooled connection needs between uses: nothing. The gateway never leaves session
    state behind (no SET, LISTEN, cursors or session locks), and asyncpg's default reset
    costs a round trip every time a connection goes back to the pool."""


class PostgresDatabase:
    dialect: Dialect = "postgres"

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._holds = PostgresHolds(self)

    @property
    def holds(self) -> PostgresHolds:
        return self._holds

    @classmethod
    async def open(cls, url: str, *, pool_size: int = 10, prepared_statements: bool = False) -> PostgresDatabase:
        pool = await asyncpg.create_pool(
            url,
            min_size=1,
            max_size=pool_size,
            # Named prepared statements save a round trip per query, but a transaction-mode
            # pooler (Supabase's 6543, PgBouncer < 1.21) cannot keep them: off unless asked.
            statement_cache_size=100 if prepared_statements else 0,
            command_timeout=30,
            server_settings={"application_name": "gateway"},
            reset=_keep_as_is,
        )
        return cls(pool)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresTx]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield PostgresTx(conn)

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[PostgresTx]:
        async with self._pool.acquire() as conn:
            yield PostgresTx(conn)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[PostgresTx]:
        async with self._pool.acquire() as conn, conn.transaction(readonly=True):
            yield PostgresTx(conn)

    async def migrate(self) -> list[str]:
        applied = []
        async with self._pool.acquire() as conn, conn.transaction():
            # Several processes may start together: one migrates, the others wait, then
            # find nothing left to do. Transaction-scoped, so it works through a pooler.
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
            )
            done = {row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")}
            for migration in migrations_for("postgres"):
                if migration.version in done:
                    continue
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    time.time(),
                )
                applied.append(f"{migration.version:04d}_{migration.name}")
        return applied

    async def close(self) -> None:
        await self._pool.close()
