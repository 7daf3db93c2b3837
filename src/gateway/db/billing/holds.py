"""Holds: what in-flight requests have set aside, and which gateway process holds it.

A hold moves credits from spendable to `balances.reserved`; on a key with a spend limit or
request cap (`key_limited`) it is also counted on the key's row (`held`, `request_count`).
It ends exactly once: settled (the charge goes to the ledger and `spent`, the rest back to
spendable) or released (all of it back). The writes on every request's path sit behind
`HoldStore`, one implementation per backend (`holds_sqlite`, `holds_postgres`), held to the
same behaviour by the conformance suite.

Lock order, in every implementation: the hold row, then the balance row, then the key row.
Two writers taking the balance and the key in opposite orders deadlock under load.

The table keeps its first name, `reservations`: renaming it would need a migration of every
deployment for a word.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from gateway.db.billing import key_budgets, ledger, usage
from gateway.db.billing.ledger import Balance
from gateway.db.billing.usage import UsageRow
from gateway.db.database import Row, Tx


class Placed(enum.Enum):
    OK = "ok"
    NO_CREDITS = "no_credits"
    KEY_SPEND_LIMIT = "key_spend_limit"
    KEY_REQUEST_CAP = "key_request_cap"


# Which named CHECK constraint refused a hold.
REFUSED_BY = {
    "balances_credits_check": Placed.NO_CREDITS,
    "key_spend_within_limit": Placed.KEY_SPEND_LIMIT,
    "key_request_cap": Placed.KEY_REQUEST_CAP,
}


@dataclass(frozen=True, slots=True)
class NewHold:
    id: str
    user_id: str
    key_id: str | None
    amount: int
    instance_id: str  # the process that holds it (see `billing.sweeping`)
    created_at: float
    key_limited: bool  # also counted on the key's row


class HoldStore(Protocol):
    async def place(self, hold: NewHold) -> Placed:
        """Move `hold.amount` from spendable to held and record who holds it — only if the
        balance (and a limited key's spend limit and request cap) allow it; else nothing."""

    async def settle_in_full(self, *, row: UsageRow, reference: str, key_limited: bool) -> Balance | None:
        """End the hold `row.id`, charge `row.cost`, write its ledger and usage rows — if
        credits and what was held pay it all (and a limited key's spend limit allows it).
        Else None, and nothing written."""

    async def release(self, *, hold_id: str, record: UsageRow | None = None) -> int | None:
        """End a hold without charging: its amount goes back to spendable (and off its key's
        row), with `record` (a failed request's usage row) in the same transaction. What was
        released, or None if the hold was already gone."""

    async def record(self, row: UsageRow) -> None:
        """Write the usage row of a call that held nothing (a test key, a free model)."""


@dataclass(frozen=True, slots=True)
class HoldRow:
    id: str
    user_id: str
    key_id: str | None
    amount: int
    key_held: bool  # whether the key's row counts it too


async def insert(tx: Tx, hold: NewHold) -> None:
    await tx.execute(
        "INSERT INTO reservations (id, user_id, key_id, amount, instance_id, created_at, key_held)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        hold.id,
        hold.user_id,
        hold.key_id,
        hold.amount,
        hold.instance_id,
        hold.created_at,
        hold.key_limited,
    )


async def take(tx: Tx, hold_id: str) -> HoldRow | None:
    """Delete a hold row, returning it; None if it is already gone (a sweeper released it)."""
    row = await tx.fetchrow(
        "DELETE FROM reservations WHERE id = $1 RETURNING id, user_id, key_id, amount, key_held", hold_id
    )
    return None if row is None else _hold(row)


def _hold(row: Row) -> HoldRow:
    return HoldRow(row["id"], row["user_id"], row["key_id"], int(row["amount"]), bool(row["key_held"]))


async def settle_taken(
    tx: Tx, *, taken: HoldRow | None, row: UsageRow, reference: str, key_limited: bool
) -> Balance | None:
    """The steps of a settlement, after its hold row was taken (None: a sweeper released it):
    the hold ends with `row.cost` charged (from it, and from spendable credits if needed), a
    limited key's part moves to spent, the charge goes to the ledger, `row` is recorded.
    None, having written nothing, when credits and the hold cannot pay `row.cost`; a key whose
    spend limit refuses it raises ConstraintViolation."""
    held = taken.amount if taken else 0
    after = await ledger.release(tx, user_id=row.user_id, held=held, charge=row.cost)
    if after is None:
        return None
    if key_limited and row.key_id is not None:
        key_held = held if taken is not None and taken.key_held else 0
        await key_budgets.move_to_spent(tx, key_id=row.key_id, held=key_held, charge=row.cost)
    if row.cost:
        await ledger.append(
            tx, user_id=row.user_id, kind="usage", amount=-row.cost, reference=reference, after=after,
            now=row.created_at, key_id=row.key_id, description=row.model,
        )  # fmt: skip
    await usage.insert(tx, row)
    return after


async def orphans(tx: Tx, *, stale_before: float, limit: int) -> Sequence[HoldRow]:
    """Holds whose process is gone or has not proved it is alive since `stale_before`."""
    rows = await tx.fetchall(
        "SELECT r.id, r.user_id, r.key_id, r.amount, r.key_held FROM reservations r "
        "LEFT JOIN instances i ON i.id = r.instance_id "
        "WHERE i.id IS NULL OR i.heartbeat_at < $1 ORDER BY r.id LIMIT $2",
        stale_before,
        limit,
    )
    return [_hold(r) for r in rows]


async def held_by_instance(tx: Tx, instance_id: str, *, limit: int) -> Sequence[HoldRow]:
    """Holds a process still has; at the end of its shutdown, none of its calls runs any more."""
    rows = await tx.fetchall(
        "SELECT id, user_id, key_id, amount, key_held FROM reservations WHERE instance_id = $1 ORDER BY id LIMIT $2",
        instance_id,
        limit,
    )
    return [_hold(r) for r in rows]


async def held_by_user(tx: Tx, user_id: str) -> int:
    return int(await tx.fetchval("SELECT COALESCE(SUM(amount), 0) FROM reservations WHERE user_id = $1", user_id))


async def in_flight(tx: Tx) -> tuple[int, int]:
    """How many holds there are and what they add up to, every process and customer together."""
    row = await tx.fetchrow("SELECT COUNT(*) AS n, COALESCE(SUM(amount), 0) AS total FROM reservations")
    return (0, 0) if row is None else (int(row["n"]), int(row["total"]))
