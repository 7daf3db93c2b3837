"""Plans: the tiers customers buy. Cached in every process (they change rarely; a change is
announced so every process reloads), assigned by admins for whole months."""

from __future__ import annotations

import calendar
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any

from gateway.db import plans, users
from gateway.db.database import Database
from gateway.db.plans import LIMIT_FIELDS, PlanRow
from gateway.errors import AlreadyExists, Forbidden, InvalidRequest, NotFound
from gateway.services import credits
from gateway.services.audit import Auditor
from gateway.services.money import Nanos

PLAN_CACHE_SECONDS = 5.0
FREE = "free"


class ModelNotAllowed(Forbidden):
    code = "model_not_allowed"
    default_message = "this model is not allowed"


class FeatureNotInPlan(Forbidden):
    code = "feature_not_in_plan"
    default_message = "this feature is not part of your plan"


def model_allowed(model: str, patterns: tuple[str, ...]) -> bool:
    """Globs such as `openai/*`; no patterns means every model."""
    return not patterns or any(fnmatchcase(model, pattern) for pattern in patterns)


def effective_limits(plan: PlanRow, overrides: dict[str, int | None]) -> dict[str, int | None]:
    """The plan's limits with an admin's per-user overrides (a None override = unlimited)."""
    return {name: overrides[name] if name in overrides else plan.limits.get(name) for name in LIMIT_FIELDS}


def add_months(timestamp: float, months: int) -> float:
    start = datetime.fromtimestamp(timestamp, UTC)
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day).timestamp()


class PlanBook:
    """Every plan, cached for PLAN_CACHE_SECONDS and reloaded at once when told."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._clock = clock
        self._plans: dict[str, PlanRow] = {}
        self._loaded_at = -PLAN_CACHE_SECONDS
        self.on_change: Callable[[], Awaitable[None]] | None = None

    async def get(self, plan_id: str) -> PlanRow:
        plans_by_id = await self._current()
        plan = plans_by_id.get(plan_id) or plans_by_id.get(FREE)
        if plan is None:
            raise NotFound(f"no plan {plan_id!r}")
        return plan

    async def find(self, plan_id: str) -> PlanRow:
        plan = (await self._current()).get(plan_id)
        if plan is None:
            raise NotFound(f"no plan {plan_id!r}", param="plan_id")
        return plan

    async def all(self) -> list[PlanRow]:
        return list((await self._current()).values())

    async def forget(self, _: str = "") -> None:
        self._loaded_at = -PLAN_CACHE_SECONDS

    async def _current(self) -> dict[str, PlanRow]:
        if self._clock() - self._loaded_at >= PLAN_CACHE_SECONDS:
            async with self._db.read() as tx:
                self._plans = {p.id: p for p in await plans.all_plans(tx)}
            self._loaded_at = self._clock()
        return self._plans

    async def changed(self) -> None:
        await self.forget()
        if self.on_change is not None:
            await self.on_change()

    async def create(self, plan: PlanRow) -> PlanRow:
        async with self._db.transaction() as tx:
            await _check_price_id(tx, plan)
            if not await plans.insert(tx, plan, now=time.time()):
                raise AlreadyExists(f"a plan {plan.id!r} already exists", param="id")
        await self.changed()
        return plan

    async def update(self, plan_id: str, changes: dict[str, Any]) -> PlanRow:
        async with self._db.transaction() as tx:
            current = await plans.get(tx, plan_id)
            if current is None:
                raise NotFound(f"no plan {plan_id!r}", param="plan_id")
            limits = {**current.limits, **{k: v for k, v in changes.items() if k in LIMIT_FIELDS}}
            fields = {k: v for k, v in changes.items() if k not in LIMIT_FIELDS}
            updated = replace(current, limits=limits, **fields)
            await _check_price_id(tx, updated)
            await plans.update(tx, updated)
        await self.changed()
        return updated


async def _check_price_id(tx: Any, plan: PlanRow) -> None:
    if plan.stripe_price_id is None:
        return
    owner = await tx.fetchval("SELECT id FROM plans WHERE stripe_price_id = $1", plan.stripe_price_id)
    if owner is not None and owner != plan.id:
        raise AlreadyExists(f"plan {owner!r} already uses this stripe_price_id", param="stripe_price_id")


async def assign(
    db: Database, book: PlanBook, *, user_id: str, plan_id: str, months: int, auditor: Auditor
) -> tuple[float, float | None]:
    """Put a user on a plan for `months` (the free plan does not expire); grant the first
    period's included credits. Returns (start, end)."""
    plan = await book.find(plan_id)
    now = time.time()
    expires = None if plan.id == FREE else add_months(now, months)
    async with db.transaction() as tx:
        if await users.get(tx, user_id) is None:
            raise NotFound("no such user", param="user_id")
        await users.set_plan(tx, user_id=user_id, plan_id=plan.id, started_at=now, expires_at=expires)
        await auditor.record(
            tx, user_id=user_id, action="plan.assigned", actor="admin",
            details={"plan_id": plan.id, "months": months, "expires_at": expires},
        )  # fmt: skip
    await grant_included_credits(db, user_id=user_id, plan=plan, started_at=now, period=0)
    return now, expires


async def grant_included_credits(db: Database, *, user_id: str, plan: PlanRow, started_at: float, period: int) -> None:
    """A period's included credits, through the ledger, once (idempotent by reference)."""
    if plan.included_credits <= 0:
        return
    await credits.credit(
        db,
        user_id=user_id,
        amount=Nanos(plan.included_credits),
        kind="plan_credits",
        reference=f"plan:{user_id}:{plan.id}:{int(started_at)}:{period}",
        description=f"{plan.name} included credits, period {period + 1}",
    )


async def grant_due_credits(db: Database, book: PlanBook) -> int:
    """Grant every running plan period's included credits not yet granted."""
    now, granted = time.time(), 0
    async with db.read() as tx:
        subscribers = await users.on_paid_plans(tx, now=now)
    for user_id, plan_id, started_at in subscribers:
        plan = await book.get(plan_id)
        period = 0
        while plan.included_credits > 0 and add_months(started_at, period) <= now:
            await grant_included_credits(db, user_id=user_id, plan=plan, started_at=started_at, period=period)
            period, granted = period + 1, granted + 1
    return granted


def check_request(plan: PlanRow, *, model: str, key_models: tuple[str, ...], stream: bool,
                  max_output: int | None) -> None:  # fmt: skip
    """The plan's (and the key's) entitlements for one chat request."""
    if not model_allowed(model, plan.allowed_models) or not model_allowed(model, key_models):
        raise ModelNotAllowed(f"the model {model!r} is not allowed for this key or plan", param="model")
    if stream and not plan.features.get("streaming", False):
        raise FeatureNotInPlan("streaming is not part of your plan", param="stream")
    limit = plan.max_tokens_per_request
    if limit is not None and max_output is not None and max_output > limit:
        raise InvalidRequest(f"max_tokens may be at most {limit} on your plan", param="max_tokens")


async def period_start(db: Database, user_id: str) -> float:
    async with db.read() as tx:
        user = await users.get(tx, user_id)
    if user is None:
        raise NotFound("no such user")
    started = user.plan_started_at or user.created_at
    if user.plan_expires_at is not None and user.plan_expires_at <= time.time():
        started = user.plan_expires_at
    now, period = time.time(), 0
    while add_months(started, period + 1) <= now:
        period += 1
    return add_months(started, period)
