"""The money owner: reserving before a request, settling after it, crediting, and releasing
what dead processes held. Each operation is one short transaction whose guards are part of
its UPDATEs, so no interleaving of requests or processes can overdraw a balance.

Invariant: Σ ledger amounts of a user = credits + reserved. A hold moves credits to
reserved (no ledger row); settlement ends the hold and writes the charge to the ledger.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from gateway.db import holds, instances, ledger, reservations, usage
from gateway.db.database import Database, Tx
from gateway.db.ledger import Balance
from gateway.db.usage import UsageRow
from gateway.errors import (
    GatewayError,
    InsufficientCredits,
    InternalError,
    InvalidRequest,
    NotFound,
    ReferenceConflict,
)
from gateway.services.ids import new_id
from gateway.services.money import ZERO, Nanos, credits_text


@dataclass(frozen=True, slots=True)
class Hold:
    id: str
    user_id: str
    key_id: str | None
    amount: Nanos


@dataclass(frozen=True, slots=True)
class Settlement:
    charged: Nanos
    written_off: Nanos
    balance: Balance


class _ReferenceRace(Exception):
    """Another transaction used the same reference first; retry to answer as it did."""


async def reserve(
    db: Database,
    *,
    user_id: str,
    key_id: str | None,
    instance_id: str,
    amount: Nanos | Callable[[Nanos], Nanos],
) -> Hold:
    """Hold `amount` (or what `amount(available)` decides, from the current balance).

    Raises InsufficientCredits when the balance cannot pay it; a computed amount of 0 means
    not even a minimal answer is affordable.
    """
    hold_id = new_id("res")
    wanted = Nanos(0)
    # A computed amount is retried if another request spent between the read and the hold.
    for _ in range(3 if callable(amount) else 1):
        if callable(amount):
            async with db.autocommit() as tx:
                balance = await ledger.balance(tx, user_id)
            wanted = amount(Nanos(balance.credits if balance else 0))
        else:
            wanted = amount
        if wanted <= 0:
            break
        placed = await holds.place(
            db,
            reservation_id=hold_id,
            user_id=user_id,
            key_id=key_id,
            amount=wanted,
            instance_id=instance_id,
            now=time.time(),
        )
        if placed:
            return Hold(hold_id, user_id, key_id, wanted)
    if wanted <= 0:
        raise InsufficientCredits("insufficient credits: the balance cannot pay for even a minimal answer")
    raise InsufficientCredits(
        f"insufficient credits: this request can cost up to {credits_text(wanted)} credits"
    )


async def settle(db: Database, *, hold: Hold, cost: Nanos, record: UsageRow) -> Settlement:
    """Charge `cost` for a finished request, release the rest of its hold, record its usage.

    Should the cost exceed what credits and the hold can pay (it never should), the balance
    pays what it can and the remainder is recorded on the usage row as written off.
    """
    row = replace(record, id=hold.id, user_id=hold.user_id, key_id=hold.key_id, cost=cost, written_off=0)
    after = await holds.settle_in_full(db, row=row, reference=f"usage:{hold.id}")
    if after is not None:
        return Settlement(cost, ZERO, after)
    return await _settle_with_write_off(db, hold=hold, row=row)


async def _settle_with_write_off(db: Database, *, hold: Hold, row: UsageRow) -> Settlement:
    async with db.transaction() as tx:
        # None: a sweeper released this hold (we looked dead); charge from credits instead.
        held = await reservations.take(tx, hold.id) or 0
        current = await ledger.balance(tx, hold.user_id, for_update=True)
        if current is None:
            raise NotFound("no such user")
        charged = Nanos(min(row.cost, held + current.credits))
        after = await ledger.release(tx, user_id=hold.user_id, held=held, charge=charged)
        if after is None:  # cannot happen with the row locked; refuse rather than guess
            raise InternalError("the balance changed under a locked settlement")
        if charged:
            await ledger.append(
                tx,
                user_id=hold.user_id,
                kind="usage",
                amount=-charged,
                reference=f"usage:{hold.id}",
                after=after,
                now=row.created_at,
                key_id=hold.key_id,
                description=row.model,
            )
        written_off = Nanos(row.cost - charged)
        await usage.insert(tx, replace(row, cost=charged, written_off=written_off))
    return Settlement(charged, written_off, after)


async def cancel(db: Database, *, hold: Hold, record: UsageRow) -> None:
    """The request failed before anything was delivered: release it all, charge nothing."""
    async with db.transaction() as tx:
        held = await reservations.take(tx, hold.id)
        if held is not None:
            await ledger.release(tx, user_id=hold.user_id, held=held, charge=0)
        await usage.insert(tx, replace(record, id=hold.id, cost=0, written_off=0))


async def record_free(db: Database, *, record: UsageRow) -> None:
    """Usage that costs nothing and held nothing (test keys)."""
    async with db.transaction() as tx:
        await usage.insert(tx, record)


async def credit(
    db: Database,
    *,
    user_id: str,
    amount: Nanos,
    kind: str,
    reference: str,
    description: str | None = None,
) -> Balance:
    """Add (or, if negative, take back) credits, once per reference.

    The same reference again answers the original result; used with another user or
    amount it is a conflict. A negative amount may not take spendable credits below zero.
    """
    for _ in range(2):
        try:
            return await _credit_once(
                db, user_id=user_id, amount=amount, kind=kind, reference=reference, description=description
            )
        except _ReferenceRace:
            continue
    raise ReferenceConflict()


async def _credit_once(
    db: Database, *, user_id: str, amount: Nanos, kind: str, reference: str, description: str | None
) -> Balance:
    async with db.transaction() as tx:
        existing = await ledger.by_reference(tx, reference)
        if existing is not None:
            if existing.user_id != user_id or existing.amount != amount:
                raise ReferenceConflict(
                    "this reference was already used with a different user or amount", param="reference"
                )
            return Balance(existing.credits_after, existing.reserved_after)
        after = await ledger.add(tx, user_id=user_id, amount=amount)
        if after is None:
            raise await _refusal(tx, user_id, amount)
        appended = await ledger.append(
            tx,
            user_id=user_id,
            kind=kind,
            amount=amount,
            reference=reference,
            after=after,
            now=time.time(),
            description=description,
        )
        if not appended:
            raise _ReferenceRace()
    return after


async def _refusal(tx: Tx, user_id: str, amount: int) -> GatewayError:
    current = await ledger.balance(tx, user_id)
    if current is None:
        return NotFound("no such user", param="user_id")
    return InvalidRequest(
        f"an adjustment of {credits_text(amount)} would take the balance below zero "
        f"(spendable: {credits_text(current.credits)})",
        param="credits",
    )


async def heartbeat(db: Database, *, instance_id: str) -> None:
    async with db.transaction() as tx:
        await instances.heartbeat(tx, instance_id=instance_id, now=time.time())


async def release_orphans(db: Database, *, stale_after: float, batch: int = 200) -> int:
    """Give back what dead processes held. Safe when several processes sweep at once: a
    reservation is released by whoever deletes its row."""
    stale_before = time.time() - stale_after
    released = 0
    while True:
        async with db.read() as tx:
            found = await reservations.orphans(tx, stale_before=stale_before, limit=batch)
        for orphan in found:
            async with db.transaction() as tx:
                held = await reservations.take(tx, orphan.id)
                if held is not None:
                    await ledger.release(tx, user_id=orphan.user_id, held=held, charge=0)
                    released += 1
        if len(found) < batch:
            break
    async with db.transaction() as tx:
        await instances.forget_stale(tx, stale_before=stale_before)
    return released


async def leave(db: Database, *, instance_id: str) -> None:
    async with db.transaction() as tx:
        await instances.remove(tx, instance_id)
