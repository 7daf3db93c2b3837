"""Crash recovery: every process proves it is alive; the holds of processes that stopped
proving it are released by whichever process sweeps first (a hold is released by whoever
deletes its row, so sweepers may run at once)."""

from __future__ import annotations

import time

from gateway.db.billing import holds, instances
from gateway.db.billing.instances import InstanceRow
from gateway.db.database import Database, Tx


async def heartbeat(db: Database, *, instance_id: str) -> None:
    async with db.transaction() as tx:
        await instances.heartbeat(tx, instance_id=instance_id, now=time.time())


async def release_orphans(db: Database, *, stale_after: float, batch: int = 200) -> int:
    """Give back what dead processes held. Safe when several processes sweep at once: a
    hold is released by whoever deletes its row."""
    stale_before = time.time() - stale_after
    released = 0
    while True:
        async with db.read() as tx:
            found = await holds.orphans(tx, stale_before=stale_before, limit=batch)
        for orphan in found:
            if await db.holds.release(hold_id=orphan.id) is not None:
                released += 1
        if len(found) < batch:
            break
    async with db.transaction() as tx:
        await instances.forget_stale(tx, stale_before=stale_before)
    return released


async def release_own(db: Database, *, instance_id: str, batch: int = 200) -> int:
    """At the end of a shutdown, once none of this process's calls runs any more: give back
    any hold one of them could not end (its write was cut), rather than leave it for a sweep."""
    released = 0
    while True:
        async with db.read() as tx:
            found = await holds.held_by_instance(tx, instance_id, limit=batch)
        for hold in found:
            if await db.holds.release(hold_id=hold.id) is not None:
                released += 1
        if len(found) < batch:
            return released


async def live_processes(tx: Tx, *, since: float) -> int:
    """Gateway processes that proved they are alive since `since`."""
    return await instances.alive(tx, since=since)


async def processes(db: Database) -> list[InstanceRow]:
    """The processes on record with their heartbeats (for operators)."""
    async with db.read() as tx:
        return await instances.listed(tx)


async def leave(db: Database, *, instance_id: str) -> None:
    async with db.transaction() as tx:
        await instances.remove(tx, instance_id)
