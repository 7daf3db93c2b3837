"""Reservations: what in-flight requests hold, and which gateway process holds it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.db.database import Tx


@dataclass(frozen=True, slots=True)
class Orphan:
    id: str
    user_id: str
    amount: int


async def insert(
    tx: Tx,
    *,
    reservation_id: str,
    user_id: str,
    key_id: str | None,
    amount: int,
    instance_id: str,
    now: float,
    key_held: bool = False,
) -> None:
    await tx.execute(
        "INSERT INTO reservations (id, user_id, key_id, amount, instance_id, created_at, key_held)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        reservation_id,
        user_id,
        key_id,
        amount,
        instance_id,
        now,
        key_held,
    )


async def take(tx: Tx, reservation_id: str) -> tuple[int, bool] | None:
    """Delete a reservation: (amount, whether its key's row holds it too); None if it is
    already gone (a sweeper released it)."""
    row = await tx.fetchrow("DELETE FROM reservations WHERE id = $1 RETURNING amount, key_held", reservation_id)
    return None if row is None else (int(row["amount"]), bool(row["key_held"]))


@dataclass(frozen=True, slots=True)
class Taken:
    user_id: str
    key_id: str | None
    amount: int
    key_held: bool


async def take_with_owner(tx: Tx, reservation_id: str) -> Taken | None:
    """Delete a reservation, returning whose it was; None if it is already gone."""
    row = await tx.fetchrow(
        "DELETE FROM reservations WHERE id = $1 RETURNING user_id, key_id, amount, key_held", reservation_id
    )
    if row is None:
        return None
    return Taken(row["user_id"], row["key_id"], int(row["amount"]), bool(row["key_held"]))


async def orphans(tx: Tx, *, stale_before: float, limit: int) -> Sequence[Orphan]:
    """Reservations whose process is gone or has not proved it is alive since `stale_before`."""
    rows = await tx.fetchall(
        "SELECT r.id, r.user_id, r.amount FROM reservations r "
        "LEFT JOIN instances i ON i.id = r.instance_id "
        "WHERE i.id IS NULL OR i.heartbeat_at < $1 ORDER BY r.id LIMIT $2",
        stale_before,
        limit,
    )
    return [Orphan(r["id"], r["user_id"], r["amount"]) for r in rows]


async def held_by_user(tx: Tx, user_id: str) -> int:
    return int(await tx.fetchval("SELECT COALESCE(SUM(amount), 0) FROM reservations WHERE user_id = $1", user_id))
