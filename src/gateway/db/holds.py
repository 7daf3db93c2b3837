"""The writes on every request's path: placing a hold, settling it in full, releasing it.

On PostgreSQL each is one statement (data-modifying CTEs, committed on its own): a request
costs two round trips to the database, and the customer's balance row is locked only for a
statement and its commit. Their guards are the tables' CHECK constraints (credits >= 0, a
key's spent + held within its spend limit, its request count within its cap): a write that
would break one aborts the whole statement. SQLite runs the same steps as separate guarded
statements, group-committed with the other requests of the moment (see `group_commit`).
The conformance suite holds both to the same behaviour.

A hold on a key with a spend limit or request cap (`key_limited`) is also counted on the
key's row (`held`, `request_count`); its settlement moves the charge to the key's `spent`.

Lock order, everywhere: the reservation, then the balance row, then the key row. Two
writers taking the balance and the key in opposite orders deadlock under load; PostgreSQL
then aborts one of them, which `retrying` runs again.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import asyncpg

from gateway.db import ledger, reservations, usage
from gateway.db.database import Database, Row, Tx, retrying
from gateway.db.ledger import Balance
from gateway.db.sqlite import SqliteDatabase
from gateway.db.usage import UsageRow

T = TypeVar("T")


class Placed(enum.Enum):
    OK = "ok"
    NO_CREDITS = "no_credits"
    KEY_SPEND_LIMIT = "key_spend_limit"
    KEY_REQUEST_CAP = "key_request_cap"


_CONSTRAINTS = {
    "balances_credits_check": Placed.NO_CREDITS,
    "key_spend_within_limit": Placed.KEY_SPEND_LIMIT,
    "key_request_cap": Placed.KEY_REQUEST_CAP,
}

_KEY_HOLD = """, keyed AS (
    UPDATE api_keys SET held = held + $4::bigint,
        request_count = request_count + CASE WHEN max_requests IS NULL THEN 0 ELSE 1 END
    WHERE id = $3::text
)"""
_PLACE = """
WITH held AS (
    UPDATE balances SET credits = credits - $4::bigint, reserved = reserved + $4::bigint
    WHERE user_id = $2::text RETURNING user_id
){key_hold}
INSERT INTO reservations (id, user_id, key_id, amount, instance_id, created_at, key_held)
SELECT $1::text, user_id, $3::text, $4::bigint, $5::text, $6::float8, $7::boolean FROM held
"""

_KEY_SETTLE = """, keyed AS (
    UPDATE api_keys SET held = held - COALESCE((SELECT amount FROM taken WHERE key_held), 0),
        spent = spent + $3::bigint
    WHERE id = $5::text
)"""
_SETTLE = """
WITH taken AS (
    DELETE FROM reservations WHERE id = $1::text RETURNING amount, key_held
), held AS (
    SELECT COALESCE((SELECT amount FROM taken), 0)::bigint AS amount
), moved AS (
    UPDATE balances b
    SET reserved = b.reserved - held.amount, credits = b.credits + held.amount - $3::bigint
    FROM held WHERE b.user_id = $2::text
    RETURNING b.credits, b.reserved
){key_settle}, entry AS (
    INSERT INTO ledger (user_id, kind, amount, reference, credits_after, reserved_after, key_id,
                        description, created_at)
    SELECT $2::text, 'usage', -$3::bigint, $4::text, credits, reserved, $5::text, $6::text, $7::float8
    FROM moved WHERE $3::bigint > 0
), used AS (
    INSERT INTO usage_records (id, request_id, user_id, key_id, environment, model, stream, outcome,
                               prompt_tokens, completion_tokens, usage_source, reserved, cost,
                               written_off, duration_ms, created_at)
    SELECT $1::text, $8::text, $2::text, $5::text, $9::text, $6::text, $10::boolean, $11::text,
           $12::bigint, $13::bigint, $14::text, $15::bigint, $3::bigint, 0, $16::bigint, $7::float8
    FROM moved
)
SELECT credits, reserved FROM moved
"""
# The chain of CTEs fixes the lock order: `keyed` reads `moved`, so the balance row is
# locked before the key row, as in placing and settling.
_RELEASE = """
WITH taken AS (
    DELETE FROM reservations WHERE id = $1::text RETURNING user_id, key_id, amount, key_held
), moved AS (
    UPDATE balances b SET reserved = b.reserved - t.amount, credits = b.credits + t.amount
    FROM taken t WHERE b.user_id = t.user_id
    RETURNING t.key_id, t.amount, t.key_held
), keyed AS (
    UPDATE api_keys k SET held = k.held - m.amount FROM moved m WHERE m.key_held AND k.id = m.key_id
    RETURNING k.id
)
SELECT (SELECT amount FROM moved) AS amount, (SELECT COUNT(*) FROM keyed) AS keys
"""
_PG = {
    (kind, limited): sql.format(**{name: fragment if limited else ""})
    for kind, sql, name, fragment in (
        ("place", _PLACE, "key_hold", _KEY_HOLD),
        ("settle", _SETTLE, "key_settle", _KEY_SETTLE),
    )
    for limited in (False, True)
}


async def place(
    db: Database,
    *,
    reservation_id: str,
    user_id: str,
    key_id: str | None,
    key_limited: bool,
    amount: int,
    instance_id: str,
    now: float,
) -> Placed:
    """Move `amount` from spendable to reserved and record who holds it — only if the
    balance (and a limited key's spend limit and request cap) allow it; else nothing."""
    if db.dialect == "postgres":

        async def statement() -> None:
            async with db.autocommit() as tx:
                await tx.execute(
                    _PG["place", key_limited], reservation_id, user_id, key_id, amount, instance_id, now, key_limited
                )

        try:
            await retrying(statement)
        except asyncpg.CheckViolationError as refused:
            return _CONSTRAINTS.get(refused.constraint_name or "", Placed.NO_CREDITS)
        return Placed.OK

    async def work(tx: Tx) -> Placed:
        if not await ledger.hold(tx, user_id=user_id, amount=amount):
            raise _Refused(Placed.NO_CREDITS)
        if key_limited and key_id is not None:
            await _hold_on_key(tx, key_id=key_id, amount=amount)
        await reservations.insert(
            tx, reservation_id=reservation_id, user_id=user_id, key_id=key_id, amount=amount,
            instance_id=instance_id, now=now, key_held=key_limited,
        )  # fmt: skip
        return Placed.OK

    try:
        return await _grouped(db, work)
    except _Refused as refused:
        return refused.reason


async def _hold_on_key(tx: Tx, *, key_id: str, amount: int) -> None:
    row = await tx.fetchrow(
        "SELECT spend_limit, spent, held, max_requests, request_count FROM api_keys WHERE id = $1", key_id
    )
    if row is None:
        return
    if row["spend_limit"] is not None and row["spent"] + row["held"] + amount > row["spend_limit"]:
        raise _Refused(Placed.KEY_SPEND_LIMIT)
    if row["max_requests"] is not None and row["request_count"] >= row["max_requests"]:
        raise _Refused(Placed.KEY_REQUEST_CAP)
    await tx.execute(
        "UPDATE api_keys SET held = held + $2, request_count = request_count + $3 WHERE id = $1",
        key_id,
        amount,
        0 if row["max_requests"] is None else 1,
    )


async def settle_in_full(db: Database, *, row: UsageRow, reference: str, key_limited: bool) -> Balance | None:
    """End the hold `row.id`, charge `row.cost`, write its ledger and usage rows — if credits
    and what was held pay it all (and a limited key's spend limit allows it). Else None,
    and nothing written."""
    if db.dialect == "postgres":
        args = (row.id, row.user_id, row.cost, reference, row.key_id, row.model, row.created_at,
                row.request_id, row.environment, row.stream, row.outcome, row.prompt_tokens,
                row.completion_tokens, row.usage_source, row.reserved, row.duration_ms)  # fmt: skip

        async def statement() -> Row | None:
            async with db.autocommit() as tx:
                return await tx.fetchrow(_PG["settle", key_limited], *args)

        try:
            found = await retrying(statement)
        except asyncpg.CheckViolationError:
            return None
        return None if found is None else Balance(found["credits"], found["reserved"])

    async def work(tx: Tx) -> Balance:
        held, key_held = await reservations.take(tx, row.id) or (0, False)
        after = await ledger.release(tx, user_id=row.user_id, held=held, charge=row.cost)
        if after is None:
            raise _Refused(Placed.NO_CREDITS)
        if key_limited and row.key_id is not None:
            await _settle_on_key(tx, key_id=row.key_id, held=held if key_held else 0, charge=row.cost)
        if row.cost:
            await ledger.append(
                tx, user_id=row.user_id, kind="usage", amount=-row.cost, reference=reference,
                after=after, now=row.created_at, key_id=row.key_id, description=row.model,
            )  # fmt: skip
        await usage.insert(tx, row)
        return after

    try:
        return await _grouped(db, work)
    except _Refused:
        return None  # rolled back: the hold is still there


async def release(db: Database, *, reservation_id: str, record: UsageRow | None = None) -> int | None:
    """End a hold without charging anything: its amount goes back to spendable credits (and
    off its key's row). Writes `record` (the failed request's usage row) in the same
    transaction. Returns what was released, or None if the hold was already gone."""
    if db.dialect == "postgres":

        async def transaction() -> int | None:
            async with db.transaction() as tx:
                found = await tx.fetchrow(_RELEASE, reservation_id)
                if record is not None:
                    await usage.insert(tx, record)
            return None if found is None or found["amount"] is None else int(found["amount"])

        return await retrying(transaction)

    async def work(tx: Tx) -> int | None:
        taken = await reservations.take_with_owner(tx, reservation_id)
        if taken is not None:
            await ledger.release(tx, user_id=taken.user_id, held=taken.amount, charge=0)
            if taken.key_held and taken.key_id is not None:
                await tx.execute("UPDATE api_keys SET held = held - $2 WHERE id = $1", taken.key_id, taken.amount)
        if record is not None:
            await usage.insert(tx, record)
        return None if taken is None else taken.amount

    return await _grouped(db, work)


async def _grouped(db: Database, work: Callable[[Tx], Coroutine[Any, Any, T]]) -> T:
    """SQLite commits the hot path in groups (see `group_commit`); elsewhere, one transaction."""
    if isinstance(db, SqliteDatabase):
        return await db.grouped(work)
    async with db.transaction() as tx:
        return await work(tx)


async def _settle_on_key(tx: Tx, *, key_id: str, held: int, charge: int) -> None:
    changed = await tx.execute(
        "UPDATE api_keys SET held = held - $2, spent = spent + $3 WHERE id = $1 "
        "AND (spend_limit IS NULL OR spent + $3 + held - $2 <= spend_limit)",
        key_id,
        held,
        charge,
    )
    if changed == 0:
        raise _Refused(Placed.KEY_SPEND_LIMIT)


class _Refused(Exception):
    def __init__(self, reason: Placed) -> None:
        self.reason = reason


async def key_headroom(tx: Tx, *, key_id: str, held: int) -> int:
    """What a limited key may still be charged for one request holding `held` on it: its
    limit minus what it spent and what its other requests hold (the row stays locked)."""
    lock = " FOR UPDATE" if tx.dialect == "postgres" else ""
    row = await tx.fetchrow(f"SELECT spend_limit, spent, held FROM api_keys WHERE id = $1{lock}", key_id)
    if row is None or row["spend_limit"] is None:
        return 2**62
    return int(row["spend_limit"] - row["spent"] - (row["held"] - held))


async def move_to_spent(tx: Tx, *, key_id: str, held: int, charge: int) -> None:
    await tx.execute("UPDATE api_keys SET held = held - $2, spent = spent + $3 WHERE id = $1", key_id, held, charge)
