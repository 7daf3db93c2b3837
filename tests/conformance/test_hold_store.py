"""The hold store's writes, as each backend does them fastest (group commit on SQLite, one
statement committed on its own on PostgreSQL), behave the same everywhere."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from gateway.db.database import Database
from gateway.services.billing import holds as billing
from gateway.services.billing.money import Nanos
from tests.conformance.helpers import assert_books_balance
from tests.conformance.test_reservations import funded_user, hold, record


async def test_usage_of_calls_that_held_nothing_is_recorded(db: Database) -> None:
    user = await funded_user(db, 1_000)
    rows = [replace(record(user), id=f"call_{n}", request_id=f"req_{n}") for n in range(20)]
    await asyncio.gather(*(billing.record_free(db, record=row) for row in rows))
    async with db.read() as tx:
        found = await tx.fetchall("SELECT id, cost FROM usage_records WHERE user_id = $1 ORDER BY id", user)
    assert sorted(r["id"] for r in found) == sorted(r.id for r in rows)
    assert all(r["cost"] == 0 for r in found)
    assert await assert_books_balance(db, user) == (1_000, 0)


async def test_a_release_without_a_usage_row_releases_once(db: Database) -> None:
    user = await funded_user(db, 1_000)
    held = await hold(db, user, 300)
    released = await asyncio.gather(*(db.holds.release(hold_id=held.id) for _ in range(5)))
    assert sorted(released, key=lambda amount: amount or 0) == [None, None, None, None, 300]
    assert await assert_books_balance(db, user) == (1_000, 0)
    async with db.read() as tx:
        assert await tx.fetchval("SELECT COUNT(*) FROM usage_records WHERE user_id = $1", user) == 0
    assert await db.holds.release(hold_id=held.id) is None
    await billing.release(db, hold=await hold(db, user, Nanos(100)), record=record(user))
    assert await assert_books_balance(db, user) == (1_000, 0)
