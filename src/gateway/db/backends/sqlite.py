"""SQLite backend: one connection, WAL, statements run directly on the event loop.

Why on the loop: each statement here takes microseconds, while a thread hop per statement
(aiosqlite) costs more than the SQL itself and halved throughput in the benchmark. The
embedded default is one gateway process; SQLite serialises writers anyway.

Durability: WAL with synchronous=NORMAL survives a crash of the process (the case the money
rules are about); a power cut may roll back the last commits, whole transactions at a time.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from gateway.db.backends.group_commit import GroupCommit
from gateway.db.billing.holds_sqlite import SqliteHolds
from gateway.db.database import ConstraintViolation, Dialect
from gateway.db.migrations import migrations_for

_PARAM = re.compile(r"\$(\d+)")
T = TypeVar("T")


def _to_sqlite(sql: str, cache: dict[str, str] = {}) -> str:  # noqa: B006 - a deliberate memo
    converted = cache.get(sql)
    if converted is None:
        converted = cache[sql] = _PARAM.sub(r"?\1", sql)
    return converted


_CHECK_FAILED = "CHECK constraint failed: "


class SqliteTx:
    """Statements on the one connection. Write transactions exclude each other (BEGIN
    IMMEDIATE), so no row lock is needed; a broken CHECK surfaces as `ConstraintViolation`."""

    for_update = ""
    for_no_key_update = ""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def _run(self, sql: str, args: tuple[Any, ...]) -> sqlite3.Cursor:
        try:
            return self._conn.execute(_to_sqlite(sql), args)
        except sqlite3.IntegrityError as exc:
            message = str(exc)
            if message.startswith(_CHECK_FAILED):
                raise ConstraintViolation(message.removeprefix(_CHECK_FAILED)) from exc
            raise

    async def execute(self, sql: str, *args: Any) -> int:
        return self._run(sql, args).rowcount

    async def fetchrow(self, sql: str, *args: Any) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._run(sql, args).fetchone()
        return row

    async def fetchall(self, sql: str, *args: Any) -> Sequence[sqlite3.Row]:
        return self._run(sql, args).fetchall()

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = self._run(sql, args).fetchone()
        return None if row is None else row[0]

    async def lock(self, name: str) -> None:
        """Nothing to do: write transactions already exclude each other."""


class SqliteDatabase:
    dialect: Dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._tx = SqliteTx(conn)
        # Transactions never await anything but their own statements, so this lock is
        # uncontended; it guards against a future service awaiting inside a transaction.
        self._lock = asyncio.Lock()
        self._group = GroupCommit(conn, self._tx, self._lock)
        self._holds = SqliteHolds(self)

    @property
    def holds(self) -> SqliteHolds:
        return self._holds

    async def grouped(self, work: Callable[[SqliteTx], Coroutine[Any, Any, T]]) -> T:
        """Run `work` (statements only, no other waits) in a transaction shared with the
        other grouped work of this moment; returns once that transaction is committed."""
        result: T = await self._group.submit(work)
        return result

    @classmethod
    def open(cls, path: str) -> SqliteDatabase:
        if path not in ("", ":memory:"):
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=5000")
        return cls(conn)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteTx]:
        async with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._tx
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def autocommit(self) -> AbstractAsyncContextManager[SqliteTx]:
        return self.transaction()  # a transaction costs SQLite next to nothing

    @asynccontextmanager
    async def read(self) -> AsyncIterator[SqliteTx]:
        async with self._lock:
            yield self._tx

    async def migrate(self) -> list[str]:
        conn = self._conn
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
        )
        applied = []
        async with self._lock:
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for migration in migrations_for("sqlite"):
                if migration.version in done:
                    continue
                # executescript commits first, so the whole migration runs as one script
                # that opens and commits its own transaction.
                record = (
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES "
                    f"({migration.version}, '{migration.name}', {time.time()});"
                )
                try:
                    conn.executescript(f"BEGIN IMMEDIATE;\n{migration.sql}\n{record}\nCOMMIT;")
                except sqlite3.Error:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                applied.append(f"{migration.version:04d}_{migration.name}")
        return applied

    async def close(self) -> None:
        self._conn.close()
