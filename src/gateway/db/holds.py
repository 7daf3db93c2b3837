"""The two writes on every request's path: placing a hold, and settling it in full.

On PostgreSQL each is one statement (data-modifying CTEs, committed on its own): a request
costs two round trips to the database, and the customer's balance row is locked only for a
statement and its commit. SQLite runs the same steps as separate statements in one
transaction. The semantics are identical and covered by the conformance suite.
"""

from __future__ import annotations

import asyncpg

from gateway.db import ledger, reservations, usage
from gateway.db.database import Database
from gateway.db.ledger import Balance
from gateway.db.usage import UsageRow

_PLACE = """
WITH held AS (
    UPDATE balances SET credits = credits - $4::bigint, reserved = reserved + $4::bigint
    WHERE user_id = $2::text AND credits >= $4::bigint
    RETURNING user_id
)
INSERT INTO reservations (id, user_id, key_id, amount, instance_id, created_at)
SELECT $1::text, user_id, $3::text, $4::bigint, $5::text, $6::float8 FROM held
RETURNING id
"""

# No guard in `moved`: if credits + held cannot pay the cost, the CHECK (credits >= 0)
# aborts the whole statement — reservation, balance, ledger and usage alike.
_SETTLE = """
WITH taken AS (
    DELETE FROM reservations WHERE id = $1::text RETURNING amount
), held AS (
    SELECT COALESCE((SELECT amount FROM taken), 0)::bigint AS amount
), moved AS (
    UPDATE balances b
    SET reserved = b.reserved - held.amount, credits = b.credits + held.amount - $3::bigint
    FROM held WHERE b.user_id = $2::text
    RETURNING b.credits, b.reserved
), entry AS (
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


async def place(
    db: Database,
    *,
    reservation_id: str,
    user_id: str,
    key_id: str | None,
    amount: int,
    instance_id: str,
    now: float,
) -> bool:
    """Move `amount` from spendable to reserved and record who holds it — only if it is all
    there. False (and nothing written) otherwise."""
    if db.dialect == "postgres":
        async with db.autocommit() as tx:
            placed = await tx.fetchval(_PLACE, reservation_id, user_id, key_id, amount, instance_id, now)
        return placed is not None
    async with db.transaction() as tx:
        if not await ledger.hold(tx, user_id=user_id, amount=amount):
            return False
        await reservations.insert(
            tx,
            reservation_id=reservation_id,
            user_id=user_id,
            key_id=key_id,
            amount=amount,
            instance_id=instance_id,
            now=now,
        )
    return True


async def settle_in_full(db: Database, *, row: UsageRow, reference: str) -> Balance | None:
    """End the hold `row.id`, charge `row.cost` and write its ledger and usage rows, if
    credits + what was held pay it all. None (and nothing written) otherwise."""
    if db.dialect == "postgres":
        args = (row.id, row.user_id, row.cost, reference, row.key_id, row.model, row.created_at,
                row.request_id, row.environment, row.stream, row.outcome, row.prompt_tokens,
                row.completion_tokens, row.usage_source, row.reserved, row.duration_ms)  # fmt: skip
        try:
            async with db.autocommit() as tx:
                found = await tx.fetchrow(_SETTLE, *args)
        except asyncpg.CheckViolationError:
            return None
        return None if found is None else Balance(found["credits"], found["reserved"])
    try:
        async with db.transaction() as tx:
            held = await reservations.take(tx, row.id) or 0
            after = await ledger.release(tx, user_id=row.user_id, held=held, charge=row.cost)
            if after is None:
                raise _CannotPay
            if row.cost:
                await ledger.append(
                    tx, user_id=row.user_id, kind="usage", amount=-row.cost, reference=reference,
                    after=after, now=row.created_at, key_id=row.key_id, description=row.model,
                )  # fmt: skip
            await usage.insert(tx, row)
    except _CannotPay:
        return None  # rolled back: the hold is still there
    return after


class _CannotPay(Exception):
    pass
