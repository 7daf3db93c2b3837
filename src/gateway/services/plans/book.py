"""Plans: the tiers customers buy, cached in every process (they change rarely; a change is
announced so every process reloads), created and edited by admins."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from gateway.db.database import Database, Tx
from gateway.db.plans import plans
from gateway.db.plans.plans import FREE_PLAN, LIMIT_FIELDS, PlanRow
from gateway.errors import AlreadyExists, NotFound
from gateway.services.keys.authenticate import Principal
from gateway.services.plans import periods

PLAN_CACHE_SECONDS = 5.0
# The plan records and constants re-exported: routes read plans through here, never storage.
__all__ = ["FREE_PLAN", "LIMIT_FIELDS", "PLAN_CACHE_SECONDS", "PlanBook", "PlanRow"]


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
        plan = plans_by_id.get(plan_id) or plans_by_id.get(FREE_PLAN)
        if plan is None:
            raise NotFound(f"no plan {plan_id!r}")
        return plan

    async def find(self, plan_id: str) -> PlanRow:
        plan = (await self._current()).get(plan_id)
        if plan is None:
            raise NotFound(f"no plan {plan_id!r}", param="plan_id")
        return plan

    async def of(self, principal: Principal) -> PlanRow:
        """The plan the caller is on now (a paid period that ended is the free plan)."""
        return await self.get(periods.plan_in_force(principal.plan_id, principal.plan_expires_at, now=time.time()))

    async def all(self) -> list[PlanRow]:
        return list((await self._current()).values())

    async def forget_here(self, _: str = "") -> None:
        self._loaded_at = -PLAN_CACHE_SECONDS

    async def forget(self) -> None:
        """Plans changed: reload them here now and, through `on_change`, everywhere."""
        await self.forget_here()
        if self.on_change is not None:
            await self.on_change()

    async def _current(self) -> dict[str, PlanRow]:
        if self._clock() - self._loaded_at >= PLAN_CACHE_SECONDS:
            async with self._db.read() as tx:
                self._plans = {p.id: p for p in await plans.all_plans(tx)}
            self._loaded_at = self._clock()
        return self._plans

    async def create(self, plan_id: str, name: str, fields: dict[str, Any]) -> PlanRow:
        """A new plan from the fields given; the others take their defaults (no limits, every
        model, streaming on, nothing included, the gateway's markup)."""
        limits = {limit: fields.pop(limit, None) for limit in LIMIT_FIELDS}
        plan = PlanRow(
            id=plan_id,
            name=name,
            price_per_month=fields.get("price_per_month", 0),
            stripe_price_id=fields.get("stripe_price_id"),
            included_credits=fields.get("included_credits", 0),
            limits=limits,
            max_tokens_per_request=fields.get("max_tokens_per_request"),
            allowed_models=fields.get("allowed_models", ("*",)),
            max_api_keys=fields.get("max_api_keys"),
            max_concurrent_requests=fields.get("max_concurrent_requests"),
            features=fields.get("features", {"streaming": True}),
            markup=fields.get("markup"),
        )
        async with self._db.transaction() as tx:
            await _check_price_id(tx, plan)
            if not await plans.insert(tx, plan, now=time.time()):
                raise AlreadyExists(f"a plan {plan.id!r} already exists", param="id")
        await self.forget()
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
        await self.forget()
        return updated


async def _check_price_id(tx: Tx, plan: PlanRow) -> None:
    """A Stripe price sells one plan."""
    if plan.stripe_price_id is None:
        return
    owner = await plans.owner_of_price(tx, plan.stripe_price_id)
    if owner is not None and owner != plan.id:
        raise AlreadyExists(f"plan {owner!r} already uses this stripe_price_id", param="stripe_price_id")
