"""What customers and admins see of their usage and limits (reads only)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from gateway.db import api_keys, audit, instances, ledger, usage
from gateway.db.audit import AuditRow
from gateway.db.database import Database
from gateway.db.ledger import LedgerRow
from gateway.db.plans import PlanRow
from gateway.db.usage import Totals, UsageRow
from gateway.services import plans
from gateway.services.auth import Principal
from gateway.services.ratelimit import RateLimiter, duration, is_tokens

DAY = 86_400


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
    start = await plans.period_start(db, principal.user_id)
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
        held = await ledger.total_reserved(tx)
        live = await instances.alive(tx, since=time.time() - 60)
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


async def ledger_page(db: Database, *, user_id: str, limit: int, before: int | None) -> Sequence[LedgerRow]:
    async with db.read() as tx:
        return await ledger.entries(tx, user_id=user_id, limit=limit, after=before)


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
