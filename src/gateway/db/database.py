"""The database interface every backend satisfies, and the factory that picks one.

Repositories (the domain packages of `gateway.db`) write their SQL once, with `$1`-style
parameters, against `Tx`; services open short transactions with `Database.transaction()`.
What cannot be written once for both dialects sits behind a protocol with one implementation
per backend (`billing.holds.HoldStore`), or is a fragment the transaction supplies
(`Tx.for_update`): storage modules never branch on the dialect.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

if TYPE_CHECKING:
    from gateway.db.billing.holds import HoldStore

Dialect = Literal["sqlite", "postgres"]
T = TypeVar("T")


class TransientConflict(Exception):
    """The database gave up a transaction that may succeed when run again (a deadlock, a
    serialisation failure). Raised by backends in place of their own error types."""


class ConstraintViolation(Exception):
    """A write broke a named CHECK constraint (and was undone). Raised by backends in place of
    their own error types, so that stores can tell which guard refused."""

    def __init__(self, constraint: str) -> None:
        super().__init__(constraint)
        self.constraint = constraint


async def retrying(operation: Callable[[], Awaitable[T]], *, attempts: int = 6) -> T:
    """Run `operation` (a whole transaction), again after a transient conflict: each attempt
    starts from scratch, since the conflict rolled the previous one back."""
    for attempt in range(attempts - 1):
        try:
            return await operation()
        except TransientConflict:
            await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))  # noqa: S311 - jitter, not a secret
    return await operation()


class Row(Protocol):
    def __getitem__(self, key: str, /) -> Any: ...


class Tx(Protocol):
    """One open transaction (or, from `Database.read()`, a read-only snapshot)."""

    # Row-lock clauses to append to a SELECT: empty where the backend's write transactions
    # already exclude each other (SQLite).
    for_update: str
    for_no_key_update: str

    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement; returns the number of rows it changed."""

    async def fetchrow(self, sql: str, *args: Any) -> Row | None: ...

    async def fetchall(self, sql: str, *args: Any) -> Sequence[Row]: ...

    async def fetchval(self, sql: str, *args: Any) -> Any: ...

    async def lock(self, name: str) -> None:
        """Hold the lock called `name` until the transaction ends: for writers of something
        that may not have a row yet (nothing to lock FOR UPDATE)."""


class Database(Protocol):
    dialect: Dialect

    @property
    def holds(self) -> HoldStore:
        """The writes on every request's path, as this backend does them fastest."""

    def transaction(self) -> AbstractAsyncContextManager[Tx]:
        """A write transaction: committed on normal exit, rolled back on an exception."""

    def read(self) -> AbstractAsyncContextManager[Tx]:
        """Reads that need no write lock."""

    def autocommit(self) -> AbstractAsyncContextManager[Tx]:
        """Each statement its own transaction: for work that is one statement (one round trip
        on PostgreSQL instead of three)."""

    async def migrate(self) -> list[str]:
        """Apply pending migrations (safe when several processes start at once)."""

    async def close(self) -> None: ...


async def open_database(url: str, *, pool_size: int = 10, prepared_statements: bool = False) -> Database:
    if url.startswith("sqlite:///"):
        from gateway.db.backends.sqlite import SqliteDatabase

        return SqliteDatabase.open(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgres://")):
        from gateway.db.backends.postgres import PostgresDatabase

        return await PostgresDatabase.open(url, pool_size=pool_size, prepared_statements=prepared_statements)
    raise ValueError("unsupported DATABASE_URL scheme")


def where(*fixed: str, **filters: tuple[str, Any]) -> tuple[str, list[Any]]:
    """A WHERE clause from literal conditions and `(column-and-operator, value)` pairs whose
    value is not None: `where("a = 1", after=("id >", cursor))` → ("WHERE a = 1 AND id > $1",
    [cursor]). Condition text is always the caller's literal, never input.
    """
    clauses: list[str] = list(fixed)
    args: list[Any] = []
    for test, value in filters.values():
        if value is not None:
            args.append(value)
            clauses.append(f"{test} ${len(args)}")
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", args
