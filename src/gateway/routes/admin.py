"""Admin routes (Bearer ADMIN_API_KEY or an admin user's key). Never show a full key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from fastapi.responses import Response

from gateway.deps import PageAfter, PageLimit, RuntimeDep, unix_time
from gateway.routes.base import admin_router
from gateway.routes.openapi import errors
from gateway.routes.responses import ok
from gateway.schemas.admin import (
    AddCreditsIn,
    AdminMonitorOut,
    AuditVerifiedOut,
    BalanceChangedOut,
    BrokenLinkOut,
    CachedKeys,
    CacheStatusOut,
    CatalogStatusOut,
    CustomerBalanceOut,
    LimitsSetOut,
    ModelTotalsOut,
    RefreshedOut,
    SetLimitsIn,
    UserTotalsOut,
)
from gateway.schemas.common import ListOf, credits, page_of
from gateway.schemas.usage import TotalsOut
from gateway.services.audit import chain as audit
from gateway.services.billing import credits as billing_credits
from gateway.services.limits import overrides
from gateway.services.reports import usage as reports

router = admin_router()


@router.post("/add_credits", response_model=BalanceChangedOut, responses=errors(404, 409))
async def add_credits(payload: AddCreditsIn, runtime: RuntimeDep) -> Response:
    """A top-up or adjustment, applied once per `reference` (reused with other terms: 409)."""
    user_id, balance = await billing_credits.admin_credit(
        runtime.db,
        pepper=runtime.pepper,
        auditor=runtime.auditor,
        user_id=payload.user_id,
        api_key=payload.api_key,
        amount=payload.credits,
        reason=payload.reason,
        reference=payload.reference,
    )
    return ok(BalanceChangedOut(user_id=user_id, credits=credits(balance.credits), reserved=credits(balance.reserved)))


@router.get("/balance", response_model=ListOf[CustomerBalanceOut])
async def balances(
    runtime: RuntimeDep,
    limit: PageLimit = 20,
    after: PageAfter = None,
    user_id: str | None = Query(default=None, max_length=100),
) -> Response:
    found, masks = await reports.balances_page(runtime.db, limit=limit + 1, after=after, user_id=user_id)
    return ok(page_of([CustomerBalanceOut.of(row, masks.get(row.user.id, [])) for row in found], limit=limit))


@router.post("/refresh-models", response_model=RefreshedOut, responses=errors(502, 504))
async def refresh_models(runtime: RuntimeDep) -> Response:
    catalog = await runtime.catalog.refresh()
    return ok(
        RefreshedOut(models=len(catalog.models), unpriced_models=list(catalog.unpriced), fetched_at=catalog.fetched_at)
    )


@router.get("/cache-status", response_model=CacheStatusOut)
async def cache_status(runtime: RuntimeDep) -> Response:
    return ok(CacheStatusOut(
        catalog=CatalogStatusOut(**runtime.catalog.status()), api_keys=CachedKeys(cached=runtime.auth.cached_keys())
    ))  # fmt: skip


@router.post("/limit", response_model=LimitsSetOut, responses=errors(404))
async def set_limits(payload: SetLimitsIn, runtime: RuntimeDep) -> Response:
    """Override a user's plan limits (or set one key's): the fields sent change, null = no limit."""
    limits = {name: getattr(payload.rate_limits, name) for name in payload.rate_limits.model_fields_set}
    user_id, key_id, now_set = await overrides.set_limits(
        runtime.db, pepper=runtime.pepper, auth=runtime.auth, auditor=runtime.auditor,
        user_id=payload.user_id, api_key=payload.api_key, key_id=payload.key_id, limits=limits,
    )  # fmt: skip
    return ok(LimitsSetOut(user_id=user_id, key_id=key_id, rate_limits=now_set))


@router.get("/monitor", response_model=AdminMonitorOut)
async def monitor(
    runtime: RuntimeDep,
    since: Annotated[float | None, unix_time("Unix time; default: the last 24 hours")] = None,
) -> Response:
    found, health = await reports.monitor(runtime.db, since=since), runtime.health()
    return ok(AdminMonitorOut(
        since=found["since"],
        **TotalsOut.values(found["totals"]),
        reserved=credits(found["reserved"]),
        gateway_processes=found["gateway_processes"],
        top_users=[UserTotalsOut(user_id=name, **TotalsOut.values(t)) for name, t in found["top_users"]],
        top_models=[ModelTotalsOut(model=name, **TotalsOut.values(t)) for name, t in found["top_models"]],
        outcomes={name: t.requests for name, t in found["outcomes"]},
        errors=sum(t.requests for name, t in found["outcomes"] if name != "completed"),
        catalog=CatalogStatusOut(**runtime.catalog.status()),
        status=health.status,
        redis=health.redis,
    ))  # fmt: skip


@router.get("/audit/verify", response_model=AuditVerifiedOut)
async def verify_audit(runtime: RuntimeDep, user_id: str | None = Query(default=None, max_length=100)) -> Response:
    """Walks the audit chains (one user's, or all) and reports the first broken link."""
    checked, broken = await audit.verify(runtime.db, key=runtime.auditor.key, user_id=user_id)
    link = None if broken is None else BrokenLinkOut(
        user_id=broken.user_id, seq=broken.seq, entry_id=broken.entry_id, reason=broken.reason
    )  # fmt: skip
    return ok(AuditVerifiedOut(valid=broken is None, entries_checked=checked, first_broken_link=link))
