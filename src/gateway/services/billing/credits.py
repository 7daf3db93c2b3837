"""Credits in and out that are not usage: a new account's balance and signup credits,
admins' top-ups and adjustments, plan grants.

Each is applied once per reference: the same reference again answers the original result,
and a reference reused with another user or amount is a conflict.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from gateway.bounds import MAX_CREDITS
from gateway.db.billing import ledger
from gateway.db.billing.ledger import Balance
from gateway.db.database import Database, TransientConflict, Tx
from gateway.errors import GatewayError, InvalidRequest, NotFound, ReferenceConflict
from gateway.ids import new_id
from gateway.services.accounts.lookup import resolve_user
from gateway.services.audit.chain import Auditor
from gateway.services.billing.money import MAX_NANOS, Nanos, credits_text


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


async def open_account(tx: Tx, *, user_id: str, signup_credits: Nanos, now: float) -> Balance:
    """A new user's balance, with the signup credits (if any) through the ledger, inside the
    transaction that creates the user."""
    await ledger.open_balance(tx, user_id)
    if signup_credits <= 0:
        return Balance(0, 0)
    after = await ledger.add(tx, user_id=user_id, amount=signup_credits, ceiling=MAX_NANOS)
    if after is None:
        raise InvalidRequest("SIGNUP_CREDITS is more than a balance may hold")
    await ledger.append(
        tx, user_id=user_id, kind="signup", amount=signup_credits,
        reference=f"signup:{user_id}", after=after, now=now, description="signup credits",
    )  # fmt: skip
    return after


async def grant_plan_credits(
    db: Database, *, user_id: str, plan_id: str, plan_name: str, amount: Nanos, started_at: float, period: int
) -> None:
    """A plan period's included credits, once (idempotent by the period's reference)."""
    if amount <= 0:
        return
    await credit(
        db,
        user_id=user_id,
        amount=amount,
        kind="plan_credits",
        reference=f"plan:{user_id}:{plan_id}:{int(started_at)}:{period}",
        description=f"{plan_name} included credits, period {period + 1}",
    )


async def admin_credit(
    db: Database,
    *,
    pepper: bytes,
    auditor: Auditor,
    user_id: str | None,
    api_key: str | None,
    amount: Nanos,
    reason: str,
    reference: str | None,
) -> tuple[str, Balance]:
    """An admin's top-up (positive) or adjustment (negative) of the user named by id or full
    key, once per `reference`, audited in the same transaction."""
    if amount == 0:
        raise InvalidRequest("'credits' must not be zero", param="credits")
    target = await resolve_user(db, pepper=pepper, user_id=user_id, api_key=api_key)
    full_reference = f"admin:{reference}" if reference else f"admin:{new_id('ref')}"

    async def audited(tx: Tx) -> None:
        details = {"credits": credits_text(amount), "reason": reason, "reference": full_reference}
        await auditor.record(tx, user_id=target, action="credits.changed", actor="admin", details=details)

    balance = await credit(
        db,
        user_id=target,
        amount=amount,
        kind="topup" if amount > 0 else "adjustment",
        reference=full_reference,
        description=reason,
        on_applied=audited,
    )
    return target, balance


async def grant(
    tx: Tx, *, user_id: str, amount: Nanos, kind: str, reference: str, description: str, now: float
) -> Balance | None:
    """Add credits inside the caller's transaction (a payment's, with its event), once per
    reference: None when the reference was used before (nothing changes)."""
    if await ledger.by_reference(tx, reference) is not None:
        return None
    after = await ledger.add(tx, user_id=user_id, amount=amount, ceiling=MAX_NANOS)
    if after is None:
        raise InvalidRequest(f"a grant of {credits_text(amount)} would take the balance past the most it may hold")
    if not await ledger.append(
        tx, user_id=user_id, kind=kind, amount=amount, reference=reference, after=after, now=now,
        description=description,
    ):  # fmt: skip
        raise TransientConflict("another transaction used this reference first")  # run again: it will see it
    return after


async def take_back(
    tx: Tx, *, user_id: str, amount: Nanos, kind: str, reference: str, description: str, now: float
) -> tuple[Nanos, Nanos] | None:
    """Take back up to `amount` spendable credits inside the caller's transaction, once per
    reference: (taken, shortfall). The balance never goes below zero: what it cannot give is
    the shortfall, recorded on the ledger row. None when the reference was used before."""
    if await ledger.by_reference(tx, reference) is not None:
        return None
    current = await ledger.balance(tx, user_id, for_update=True)
    if current is None:
        raise NotFound("no such user")
    taken = Nanos(max(0, min(amount, current.credits)))
    after = await ledger.add(tx, user_id=user_id, amount=-taken, ceiling=MAX_NANOS)
    if after is None:  # cannot happen with the row locked
        raise TransientConflict("the balance changed under a locked take-back")
    shortfall = Nanos(amount - taken)
    if not await ledger.append(
        tx, user_id=user_id, kind=kind, amount=-taken, reference=reference, after=after, now=now,
        description=description, shortfall=shortfall,
    ):  # fmt: skip
        raise TransientConflict("another transaction used this reference first")
    return taken, shortfall
