"""Gateway processes and their heartbeats: how survivors know whose reservations are orphaned."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.db.database import Tx


@dataclass(frozen=True, slots=True)
class InstanceRow:
    id: str
    started_at: float
    heartbeat_at: float


async def heartbeat(tx: Tx, *, instance_id: str, now: float) -> None:
    await tx.execute(
        "INSERT INTO instances (id, started_at, heartbeat_at) VALUES ($1, $2, $2) "
        "ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
        instance_id,
        now,
    )


async def remove(tx: Tx, instance_id: str) -> None:
    await tx.execute("DELETE FROM instances WHERE id = $1", instance_id)


async def forget_stale(tx: Tx, *, stale_before: float) -> int:
    """Drop dead processes that hold nothing any more."""
    return await tx.execute(
        "DELETE FROM instances WHERE heartbeat_at < $1 AND NOT EXISTS "
        "(SELECT 1 FROM reservations r WHERE r.instance_id = instances.id)",
        stale_before,
    )


async def alive(tx: Tx, *, since: float) -> int:
    return int(await tx.fetchval("SELECT COUNT(*) FROM instances WHERE heartbeat_at > $1", since))


async def listed(tx: Tx) -> list[InstanceRow]:
    """Every process still on record (the live ones, and dead ones not yet swept), newest
    heartbeat first."""
    rows = await tx.fetchall("SELECT id, started_at, heartbeat_at FROM instances ORDER BY heartbeat_at DESC, id")
    return [InstanceRow(r["id"], r["started_at"], r["heartbeat_at"]) for r in rows]
