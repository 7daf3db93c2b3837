"""A customer's time on a plan: admins assign plans for whole calendar months; a paid
period that ends falls back to the free plan; each period's included credits are granted
through billing, once, by whichever process gets there first."""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeGuard

from gateway.db.accounts import users
from gateway.db.database import Database, Tx
from gateway.db.plans.plans import FREE_PLAN, PlanRow
from gateway.errors import NotFound
from gateway.services.audit.chain import Auditor
from gateway.services.billing import credits
from gateway.services.billing.money import Nanos
from gateway.services.keys.authenticate import KeyAuthenticator

if TYPE_CHECKING:  # the book asks this module which plan is in force
    from gateway.services.plans.book import PlanBook


def ended(expires_at: float | None, *, now: float) -> TypeGuard[float]:
    """Whether a paid period is over: the user is then on the free plan (until an admin or a
    paid invoice starts another)."""
    return expires_at is not None and expires_at <= now


def plan_in_force(plan_id: str, expires_at: float | None, *, now: float) -> str:
    return FREE_PLAN if ended(expires_at, now=now) else plan_id


def paid_until(expires_at: float | None, *, now: float) -> float | None:
    """When the paid period ends, as customers are shown it: None once it has ended."""
    return None if ended(expires_at, now=now) else expires_at


def add_months(timestamp: float, months: int) -> float:
    start = datetime.fromtimestamp(timestamp, UTC)
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day).timestamp()


async def assign(
    db: Database,
    book: PlanBook,
    *,
    user_id: str,
    plan_id: str,
    months: int,
    auditor: Auditor,
    auth: KeyAuthenticator,
) -> tuple[float, float | None]:
    """Put a user on a plan for `months` (the free plan does not expire); grant the first
    period's included credits. The new limits apply at once. Returns (start, end)."""
    plan = await book.find(plan_id)
    now = time.time()
    expires = None if plan.id == FREE_PLAN else add_months(now, months)
    async with db.transaction() as tx:
        if await users.get(tx, user_id) is None:
            raise NotFound("no such user", param="user_id")
        await users.set_plan(tx, user_id=user_id, plan_id=plan.id, started_at=now, expires_at=expires)
        await auditor.record(
            tx, user_id=user_id, action="plan.assigned", actor="admin",
            details={"plan_id": plan.id, "months": months, "expires_at": expires},
        )  # fmt: skip
    await _grant(db, user_id=user_id, plan=plan, started_at=now, period=0)
    await auth.forget_user(user_id)
    return now, expires


async def _grant(db: Database, *, user_id: str, plan: PlanRow, started_at: float, period: int) -> None:
    await credits.grant_plan_credits(
        db, user_id=user_id, plan_id=plan.id, plan_name=plan.name, amount=Nanos(plan.included_credits),
        started_at=started_at, period=period,
    )  # fmt: skip


async def grant_due_credits(db: Database, book: PlanBook) -> int:
    """Grant every running plan period's included credits not yet granted."""
    now, granted = time.time(), 0
    async with db.read() as tx:
        subscribers = await users.on_paid_plans(tx, now=now)
    for user_id, plan_id, started_at in subscribers:
        plan = await book.get(plan_id)
        period = 0
        while plan.included_credits > 0 and add_months(started_at, period) <= now:
            await _grant(db, user_id=user_id, plan=plan, started_at=started_at, period=period)
            period, granted = period + 1, granted + 1
    return granted


async def period_start(db: Database, user_id: str) -> float:
    """When the user's current plan period began."""
    async with db.read() as tx:
        user = await users.get(tx, user_id)
    if user is None:
        raise NotFound("no such user")
    now, period = time.time(), 0
    started = user.plan_started_at or user.created_at
    if ended(user.plan_expires_at, now=now):
        started = user.plan_expires_at
    while add_months(started, period + 1) <= now:
        period += 1
    return add_months(started, period)


async def start_paid_period(
    tx: Tx, *, user_id: str, plan: PlanRow, start: float, end: float, subscription: str
) -> None:
    """A Stripe subscription paid for [start, end): the user is on `plan` until `end` (then,
    unless the next period is paid, the free plan)."""
    await users.set_plan(
        tx, user_id=user_id, plan_id=plan.id, started_at=start, expires_at=end, subscription=subscription
    )


async def follow_subscription(tx: Tx, *, user_id: str, subscription: str, plan_id: str | None) -> bool:
    """The subscription moved to another plan (or ended: None, the free plan at once) — if it
    is the one that set the user's plan; an admin's assignment, or a newer subscription's,
    stays. True if the plan changed."""
    current = await users.plan_subscription(tx, user_id)
    if current is None or current[1] != subscription or current[0] == (plan_id or FREE_PLAN):
        return False
    if plan_id is None:
        await users.set_plan(tx, user_id=user_id, plan_id=FREE_PLAN, started_at=time.time(), expires_at=None)
    else:
        await users.switch_plan(tx, user_id=user_id, plan_id=plan_id)
    return True
