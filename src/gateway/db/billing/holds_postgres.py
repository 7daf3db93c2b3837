"""The hold store on PostgreSQL: placing, settling and releasing a hold are one statement
each (data-modifying CTEs, committed on their own), so a request costs two round trips and the
customer's balance row is locked only for a statement and its commit.

The guards are the tables' CHECK constraints (credits >= 0; a key's spent + held within its
spend limit, its request count within its cap): a write that would break one aborts the
whole statement. A deadlock or serialisation failure is run again (`retrying`).

Lock order (see `holds`): in each statement the hold row comes first, then the balance row;
the part that updates the key row reads the balance's part, so it cannot run before it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.db.billing import usage
from gateway.db.billing.holds import REFUSED_BY, NewHold, Placed
from gateway.db.billing.ledger import Balance
from gateway.db.billing.usage import UsageRow
from gateway.db.database import ConstraintViolation, Row, retrying

if TYPE_CHECKING:
    from gateway.db.backends.postgres import PostgresDatabase

_KEY_HOLD = """, keyed AS (
    UPDATE api_keys SET held = held + $4::bigint,
        request_count = request_count + CASE WHEN max_requests IS NULL THEN 0 ELSE 1 END
    WHERE id = $3::text AND EXISTS (SELECT 1 FROM held)
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
    WHERE id = $5::text AND EXISTS (SELECT 1 FROM moved)
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
)
SELECT amount FROM moved
"""
_PG = {
    (kind, limited): sql.format(**{name: fragment if limited else ""})
    for kind, sql, name, fragment in (
        ("place", _PLACE, "key_hold", _KEY_HOLD),
        ("settle", _SETTLE, "key_settle", _KEY_SETTLE),
    )
    for limited in (False, True)
}


class PostgresHolds:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def place(self, hold: NewHold) -> Placed:
        args = (hold.id, hold.user_id, hold.key_id, hold.amount, hold.instance_id, hold.created_at, hold.key_limited)

        async def statement() -> int:
            async with self._db.autocommit() as tx:
                return await tx.execute(_PG["place", hold.key_limited], *args)

        try:
            placed = await retrying(statement)
        except ConstraintViolation as refused:
            return REFUSED_BY.get(refused.constraint, Placed.NO_CREDITS)
        return Placed.OK if placed == 1 else Placed.NO_CREDITS  # 0: the user has no balance

    async def settle_in_full(self, *, row: UsageRow, reference: str, key_limited: bool) -> Balance | None:
        args = (row.id, row.user_id, row.cost, reference, row.key_id, row.model, row.created_at,
                row.request_id, row.environment, row.stream, row.outcome, row.prompt_tokens,
                row.completion_tokens, row.usage_source, row.reserved, row.duration_ms)  # fmt: skip

        async def statement() -> Row | None:
            async with self._db.autocommit() as tx:
                return await tx.fetchrow(_PG["settle", key_limited], *args)

        try:
            found = await retrying(statement)
        except ConstraintViolation:
            return None
        return None if found is None else Balance(found["credits"], found["reserved"])

    async def release(self, *, hold_id: str, record: UsageRow | None = None) -> int | None:
        async def transaction() -> int | None:
            # Without a usage row it is one statement: committed on its own, one round trip.
            opened = self._db.autocommit() if record is None else self._db.transaction()
            async with opened as tx:
                found = await tx.fetchrow(_RELEASE, hold_id)
                if record is not None:
                    await usage.insert(tx, record)
            return None if found is None or found["amount"] is None else int(found["amount"])

        return await retrying(transaction)

    async def record(self, row: UsageRow) -> None:
        async def statement() -> None:
            async with self._db.autocommit() as tx:
                await usage.insert(tx, row)

        await retrying(statement)
