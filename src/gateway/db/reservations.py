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
) -> None:
    await tx.execute(
        "INSERT INTO reservations (id, user_id, key_id, amount, instance_id, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        reservation_id,
        user_id,
        key_id,
        amount,
        instance_id,
        now,
    )


async def take(tx: Tx, reservation_id: str) -> int | None:
    """Delete a reservation and return its amount; None if it is already gone (swept)."""
    amount = await tx.fetchval("DELETE FROM reservations WHERE id = $1 RETURNING amount", reservation_id)
    return None if amount is None else int(amount)


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
    return int(
        await tx.fetchval("SELECT COALESCE(SUM(amount), 0) FROM reservations WHERE user_id = $1", user_id)
    )
