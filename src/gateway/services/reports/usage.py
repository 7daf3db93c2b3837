"""What customers and admins see of usage, limits and balances (reads only)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.db.accounts import users
from gateway.db.accounts.users import UserBalanceRow
from gateway.db.audit import log as audit
from gateway.db.audit.log import AuditRow
from gateway.db.billing.usage import UsageRow
from gateway.db.database import Database
from gateway.db.keys import api_keys
from gateway.db.keys.api_keys import KeyRow
from gateway.db.plans.plans import PlanRow
from gateway.db.reports import usage
from gateway.db.reports.usage import Totals, UsageEntry
from gateway.services.billing import balances, sweeping
from gateway.services.billing.key_budget import KeyBudget
from gateway.services.keys.authenticate import Principal
from gateway.services.limits.rate_limiter import RateLimiter, duration, is_tokens
from gateway.services.plans import periods

DAY = 86_400
# The records a report is made of, re-exported: routes read them through here, never storage.
__all__ = [
    "DAY",
    "KeyRow",
    "KeyUsage",
    "Totals",
    "UsageEntry",
    "audit_page",
    "balances_page",
    "grouped",
    "keys_usage",
    "monitor",
    "plan_usage",
    "totals",
    "usage_export",
    "usage_page",
    "usage_search",
    "windows",
]


async def windows(limiter: RateLimiter, principal: Principal, plan: PlanRow) -> list[dict[str, Any]]:
    """Every limit that applies to this key's requests, with what is used and when it resets."""
    shown = []
    for window, used in await limiter.usage(principal, plan):
        scope = "key" if window.key.startswith("k:") else "user"
        shown.append({
            "scope": scope,
            "dimension": "tokens" if is_tokens(window) else "requests",
            "window_seconds": window.seconds,
            "limit": window.limit,
            "used": used.used,
            "remaining": max(0, window.limit - used.used),
            "reset": duration(used.reset),
            "reset_seconds": round(used.reset, 3),
        })  # fmt: skip
    return shown


async def plan_usage(db: Database, *, principal: Principal, plan: PlanRow) -> dict[str, Any]:
    start = await periods.period_start(db, principal.user_id)
    async with db.read() as tx:
        totals = await usage.totals(tx, user_id=principal.user_id, since=start)
        keys_used = await api_keys.count_live(tx, principal.user_id)
    return {"period_start": start, "totals": totals, "api_keys": {"used": keys_used, "max": plan.max_api_keys}}


async def monitor(db: Database, *, since: float | None) -> dict[str, Any]:
    since = since if since is not None else time.time() - DAY
    async with db.read() as tx:
        totals = await usage.totals(tx, since=since)
        top_users = await usage.grouped(tx, by="user_id", since=since, limit=10)
        top_models = await usage.grouped(tx, by="model", since=since, limit=10)
        outcomes = await usage.grouped(tx, by="outcome", since=since, limit=100)
        held = await balances.total_held(tx)
        live = await sweeping.live_processes(tx, since=time.time() - 60)
    return {
        "since": since,
        "totals": totals,
        "top_users": top_users,
        "top_models": top_models,
        "outcomes": outcomes,
        "reserved": held,
        "gateway_processes": live,
    }


async def usage_page(db: Database, *, user_id: str, limit: int, before: str | None) -> Sequence[UsageRow]:
    async with db.read() as tx:
        return await usage.entries(tx, user_id=user_id, limit=limit, before=before)


async def usage_search(
    db: Database,
    *,
    user_id: str,
    limit: int,
    key_id: str | None = None,
    model: str | None = None,
    since: float | None = None,
    until: float | None = None,
    before: str | None = None,
) -> list[UsageEntry]:
    """A page of the user's records, newest first, created in [since, until); the next page
    is the one `before` the last id."""
    async with db.read() as tx:
        return await usage.search(
            tx, user_id=user_id, limit=limit, key_id=key_id, model=model, since=since, until=until, before=before
        )


async def usage_export(
    db: Database,
    *,
    user_id: str,
    key_id: str | None = None,
    model: str | None = None,
    since: float | None = None,
    until: float | None = None,
    chunk: int = 500,
) -> AsyncIterator[list[UsageEntry]]:
    """Every record `usage_search` would page through, `chunk` at a time. Each chunk is its own
    short read, so a slow reader of a long export holds no transaction (nor SQLite's lock)."""
    before = None
    while True:
        found = await usage_search(
            db, user_id=user_id, limit=chunk, key_id=key_id, model=model, since=since, until=until, before=before
        )
        if found:
            yield found
        if len(found) < chunk:
            return
        before = found[-1].usage.id


async def grouped(db: Database, *, by: str, user_id: str, since: float | None = None) -> list[tuple[str, Totals]]:
    async with db.read() as tx:
        return await usage.grouped(tx, by=by, user_id=user_id, since=since)


async def totals(db: Database, *, user_id: str, since: float) -> Totals:
    async with db.read() as tx:
        return await usage.totals(tx, user_id=user_id, since=since)


async def audit_page(
    db: Database,
    *,
    user_id: str,
    limit: int,
    before: int | None,
    key_id: str | None,
    action: str | None,
    since: float | None,
    until: float | None,
) -> Sequence[AuditRow]:
    async with db.read() as tx:
        return await audit.entries(
            tx, user_id=user_id, limit=limit, before=before, key_id=key_id, action=action, since=since, until=until
        )


async def balances_page(
    db: Database, *, limit: int, after: str | None, user_id: str | None
) -> tuple[Sequence[UserBalanceRow], dict[str, list[str]]]:
    """Customers with their balances and (masked) keys, for admins."""
    async with db.read() as tx:
        found = await users.list_with_balances(tx, limit=limit, after=after, user_id=user_id)
        masks = await api_keys.masks_for_users(tx, [row.user.id for row in found])
    return found, masks


@dataclass(frozen=True, slots=True)
class KeyUsage:
    key: KeyRow
    totals: Totals
    budget: KeyBudget  # what is left of its spend limit and request cap


async def keys_usage(db: Database, *, user_id: str) -> list[KeyUsage]:
    """Each of the user's keys with what it used and what is left of its limits."""
    async with db.read() as tx:
        totals = dict(await usage.grouped(tx, by="key_id", user_id=user_id))
        keys = await api_keys.list_for_user(tx, user_id=user_id, limit=10_000)
    found = []
    for key in keys:
        used = totals.get(key.id, Totals(0, 0, 0, 0))
        budget = KeyBudget(key.policy.spend_limit, used.cost, key.held, key.policy.max_requests, used.requests)
        found.append(KeyUsage(key, used, budget))
    return found
