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
from gateway.db.billing.ledger import Balance, LedgerRow
from gateway.db.database import Database, TransientConflict, Tx, retrying
from gateway.errors import GatewayError, InvalidRequest, NotFound, ReferenceConflict
from gateway.ids import new_id
from gateway.services.accounts.lookup import resolve_user
from gateway.services.audit.chain import Auditor
from gateway.services.billing.money import MAX_NANOS, Nanos, credits_text


async def credit(
    db: Database,
    *,
    user_id: str,
    amount: Nanos,
    kind: str,
    reference: str,
    description: str | None = None,
    first: Callable[[Tx], Awaitable[None]] | None = None,
) -> Balance:
    """Add (or, if negative, take back) credits, once per reference.

    The same reference again answers the original result; used with another user or
    amount it is a conflict. A negative amount may not take spendable credits below zero, nor
    a positive one the balance past MAX_CREDITS. `first` runs in the same transaction before
    the balance is touched, and only if the credit is new (e.g. its audit entry, which locks
    the user's row: the user's row before the balance row, as a plan payment takes them).
    A deadlock, or a reference another transaction used first, runs it all again.
    """

    async def once() -> Balance:
        async with db.transaction() as tx:
            applied = await _add_once(
                tx, user_id=user_id, amount=amount, kind=kind, reference=reference, description=description,
                now=time.time(), first=first,
            )  # fmt: skip
            if applied is None:
                raise await _refusal(tx, user_id, amount)
        if isinstance(applied, Balance):
            return applied
        if applied.user_id != user_id or applied.amount != amount:
            raise ReferenceConflict(
                "this reference was already used with a different user or amount", param="reference"
            )
        return Balance(applied.credits_after, applied.reserved_after)

    return await retrying(once)


async def _add_once(
    tx: Tx,
    *,
    user_id: str,
    amount: int,
    kind: str,
    reference: str,
    description: str | None,
    now: float,
    shortfall: int = 0,
    first: Callable[[Tx], Awaitable[None]] | None = None,
) -> Balance | LedgerRow | None:
    """The steps of every credit: look up the reference, (`first`,) add to the balance, append
    the ledger row. The balance after it; the ledger row of the reference's earlier use
    (nothing changes); or None when the balance refuses it (spendable below zero, or the
    balance past MAX_CREDITS). Raises TransientConflict when another transaction took the
    reference meanwhile: run again, it will see it."""
    earlier = await ledger.by_reference(tx, reference)
    if earlier is not None:
        return earlier
    if first is not None:
        await first(tx)
    after = await ledger.add(tx, user_id=user_id, amount=amount, ceiling=MAX_NANOS)
    if after is None:
        return None
    if not await ledger.append(
        tx, user_id=user_id, kind=kind, amount=amount, reference=reference, after=after, now=now,
        description=description, shortfall=shortfall,
    ):  # fmt: skip
        raise TransientConflict("another transaction used this reference first")
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
    after = await _add_once(
        tx, user_id=user_id, kind="signup", amount=signup_credits, reference=f"signup:{user_id}",
        description="signup credits", now=now,
    )  # fmt: skip
    if not isinstance(after, Balance):  # a new balance at zero refuses only a grant past the most it holds
        raise InvalidRequest("SIGNUP_CREDITS is more than a balance may hold")
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
        first=audited,
    )
    return target, balance


async def grant(
    tx: Tx, *, user_id: str, amount: Nanos, kind: str, reference: str, description: str, now: float
) -> Balance | None:
    """Add credits inside the caller's transaction (a payment's, with its event), once per
    reference: None when the reference was used before (nothing changes)."""
    after = await _add_once(
        tx, user_id=user_id, amount=amount, kind=kind, reference=reference, description=description, now=now
    )
    if isinstance(after, LedgerRow):
        return None
    if after is None:
        raise InvalidRequest(f"a grant of {credits_text(amount)} would take the balance past the most it may hold")
    return after


async def take_back(
    tx: Tx, *, user_id: str, amount: Nanos, kind: str, reference: str, description: str, now: float
) -> tuple[Nanos, Nanos]:
    """Take back up to `amount` spendable credits inside the caller's transaction, once per
    reference: (taken, shortfall). The balance never goes below zero: what it cannot give is
    the shortfall, recorded on the ledger row. (0, 0) when the reference was used before."""
    current = await ledger.balance(tx, user_id, for_update=True)
    if current is None:
        raise NotFound("no such user")
    taken = Nanos(max(0, min(amount, current.credits)))
    shortfall = Nanos(amount - taken)
    after = await _add_once(
        tx, user_id=user_id, amount=-taken, kind=kind, reference=reference, description=description, now=now,
        shortfall=shortfall,
    )  # fmt: skip
    if isinstance(after, LedgerRow):
        return Nanos(0), Nanos(0)
    if after is None:  # cannot happen with the row locked
        raise TransientConflict("the balance changed under a locked take-back")
    return taken, shortfall
