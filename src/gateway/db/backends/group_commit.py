"""Group commit for SQLite: the writes queued during one turn of the event loop share one
transaction (one commit), each inside its own savepoint so that one refusal rolls back
only its own statements.

Why: a commit writes every page the transaction touched to the WAL. The requests of one
busy moment touch the same pages (a customer's balance, the tails of the ledger and usage
tables), so committing them together writes each page once instead of once per request.
Each caller still waits for the commit that contains its work: nothing is acknowledged
before it is durable in the WAL.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
Work = Callable[[Any], Coroutine[Any, Any, Any]]


def run_now(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never waits on anything (SQLite statements) to its end, here."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    coroutine.close()
    raise RuntimeError("work in a group commit must not wait on anything but its statements")


class GroupCommit:
    def __init__(self, conn: sqlite3.Connection, tx: Any, lock: asyncio.Lock) -> None:
        self._conn = conn
        self._tx = tx
        self._lock = lock  # held by ordinary transactions; the flush waits for them
        self._queue: list[tuple[Work, asyncio.Future[Any]]] = []
        self._scheduled = False

    def submit(self, work: Work) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((work, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        if self._lock.locked():  # an ordinary transaction is between statements: after it
            asyncio.get_running_loop().call_soon(self._flush)
            return
        self._scheduled = False
        queue, self._queue = self._queue, []
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            for work, future in queue:
                conn.execute("SAVEPOINT grouped")
                try:
                    value = run_now(work(self._tx))
                except Exception as refused:
                    conn.execute("ROLLBACK TO grouped")
                    conn.execute("RELEASE grouped")
                    outcomes.append((future, None, refused))
                else:
                    conn.execute("RELEASE grouped")
                    outcomes.append((future, value, None))
            conn.execute("COMMIT")
        except Exception as failed:  # the commit itself failed: nothing in it happened
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            outcomes = [(future, None, failed) for _, future in queue]
        for future, value, error in outcomes:
            if future.cancelled():
                continue
            if error is None:
                future.set_result(value)
            else:
                future.set_exception(error)
