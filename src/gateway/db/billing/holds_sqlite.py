"""The hold store on SQLite: each write is a few guarded statements, group-committed with
the other requests of the moment (see `backends.group_commit`): one commit for many requests.

The guards are the same as PostgreSQL's: the UPDATE's own condition for the balance, the
named CHECK constraints of `api_keys` for a key's spend limit and request cap (a statement
that breaks one is undone, and the group commit rolls back just this request's savepoint).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.db.billing import holds, key_budgets, ledger, usage
from gateway.db.billing.holds import REFUSED_BY, NewHold, Placed
from gateway.db.billing.ledger import Balance
from gateway.db.billing.usage import UsageRow
from gateway.db.database import ConstraintViolation, Tx

if TYPE_CHECKING:
    from gateway.db.backends.sqlite import SqliteDatabase


class _Refused(Exception):
    def __init__(self, reason: Placed) -> None:
        self.reason = reason


class SqliteHolds:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def place(self, hold: NewHold) -> Placed:
        async def work(tx: Tx) -> Placed:
            if not await ledger.hold(tx, user_id=hold.user_id, amount=hold.amount):
                raise _Refused(Placed.NO_CREDITS)
            if hold.key_limited and hold.key_id is not None:
                await _count_on_key(tx, key_id=hold.key_id, amount=hold.amount)
            await holds.insert(tx, hold)
            return Placed.OK

        try:
            return await self._db.grouped(work)
        except _Refused as refused:
            return refused.reason

    async def settle_in_full(self, *, row: UsageRow, reference: str, key_limited: bool) -> Balance | None:
        async def work(tx: Tx) -> Balance:
            taken = await holds.take(tx, row.id)
            try:
                after = await holds.settle_taken(tx, taken=taken, row=row, reference=reference, key_limited=key_limited)
            except ConstraintViolation as refused:  # the key's spend limit
                raise _Refused(REFUSED_BY.get(refused.constraint, Placed.NO_CREDITS)) from None
            if after is None:
                raise _Refused(Placed.NO_CREDITS)
            return after

        try:
            return await self._db.grouped(work)
        except _Refused:
            return None  # rolled back: the hold is still there

    async def release(self, *, hold_id: str, record: UsageRow | None = None) -> int | None:
        async def work(tx: Tx) -> int | None:
            taken = await holds.take(tx, hold_id)
            if taken is not None:
                await ledger.release(tx, user_id=taken.user_id, held=taken.amount, charge=0)
                if taken.key_held and taken.key_id is not None:
                    await key_budgets.move_to_spent(tx, key_id=taken.key_id, held=taken.amount, charge=0)
            if record is not None:
                await usage.insert(tx, record)
            return None if taken is None else taken.amount

        return await self._db.grouped(work)

    async def record(self, row: UsageRow) -> None:
        async def work(tx: Tx) -> None:
            await usage.insert(tx, row)

        await self._db.grouped(work)


async def _count_on_key(tx: Tx, *, key_id: str, amount: int) -> None:
    try:
        await tx.execute(
            "UPDATE api_keys SET held = held + $2, "
            "request_count = request_count + CASE WHEN max_requests IS NULL THEN 0 ELSE 1 END WHERE id = $1",
            key_id,
            amount,
        )
    except ConstraintViolation as refused:
        raise _Refused(REFUSED_BY.get(refused.constraint, Placed.NO_CREDITS)) from None
