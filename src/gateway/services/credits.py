"""Credits in and out that are not usage: top-ups, adjustments, signup and plan grants.

Each is applied once per reference: the same reference again answers the original result,
and a reference reused with another user or amount is a conflict.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from gateway.db import ledger
from gateway.db.database import Database, Tx
from gateway.db.ledger import Balance
from gateway.errors import GatewayError, InvalidRequest, NotFound, ReferenceConflict
from gateway.services.bounds import MAX_CREDITS
from gateway.services.money import MAX_NANOS, Nanos, credits_text


class _ReferenceRace(Exception):
    """Another transaction used the same reference first; retry to answer as it did."""


async def credit(
    db: Database,
    *,
    user_id: str,
    amount: Nanos,
    kind: str,
    reference: str,
    description: str | None = None,
    on_applied: Callable[[Tx], Awaitable[None]] | None = None,
) -> Balance:
    """Add (or, if negative, take back) credits, once per reference.

    The same reference again answers the original result; used with another user or
    amount it is a conflict. A negative amount may not take spendable credits below zero, nor
    a positive one the balance past MAX_CREDITS.
    """
    for _ in range(2):
        try:
            return await _credit_once(
                db, user_id=user_id, amount=amount, kind=kind, reference=reference, description=description,
                on_applied=on_applied,
            )  # fmt: skip
        except _ReferenceRace:
            continue
    raise ReferenceConflict()


async def _credit_once(
    db: Database,
    *,
    user_id: str,
    amount: Nanos,
    kind: str,
    reference: str,
    description: str | None,
    on_applied: Callable[[Tx], Awaitable[None]] | None,
) -> Balance:
    async with db.transaction() as tx:
        existing = await ledger.by_reference(tx, reference)
        if existing is not None:
            if existing.user_id != user_id or existing.amount != amount:
                raise ReferenceConflict(
                    "this reference was already used with a different user or amount", param="reference"
                )
            return Balance(existing.credits_after, existing.reserved_after)
        after = await ledger.add(tx, user_id=user_id, amount=amount, ceiling=MAX_NANOS)
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
        if on_applied is not None:
            await on_applied(tx)  # e.g. the audit entry, committed with the credit itself
    return after


async def _refusal(tx: Tx, user_id: str, amount: int) -> GatewayError:
    current = await ledger.balance(tx, user_id)
    if current is None:
        return NotFound("no such user", param="user_id")
    if amount > 0:
        return InvalidRequest(
            f"a top-up of {credits_text(amount)} would take the balance past the most it may hold "
            f"({MAX_CREDITS} credits, reserved included)",
            param="credits",
        )
    return InvalidRequest(
        f"an adjustment of {credits_text(amount)} would take the balance below zero "
        f"(spendable: {credits_text(current.credits)})",
        param="credits",
    )
