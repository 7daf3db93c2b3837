"""Admin routes (Bearer ADMIN_API_KEY or an admin user's key). Never show a full key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import Field, model_validator

from gateway.deps import PageAfter, PageLimit, RuntimeDep, current_admin, unix_time
from gateway.responses import credits, ok, page
from gateway.routes.base import Body, Count, CreditsIn, GatewayRoute
from gateway.routes.views import totals_view
from gateway.services.audit import chain as audit
from gateway.services.billing import credits as billing_credits
from gateway.services.billing.money import parse_credits
from gateway.services.limits import overrides
from gateway.services.reports import usage as reports

router = APIRouter(prefix="/admin", route_class=GatewayRoute, tags=["admin"], dependencies=[Depends(current_admin)])


class AddCreditsIn(Body):
    api_key: str | None = Field(default=None, max_length=200)
    user_id: str | None = Field(default=None, max_length=100)
    credits: CreditsIn
    reason: str = Field(min_length=1, max_length=500)
    reference: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_target(self) -> AddCreditsIn:
        if (self.api_key is None) == (self.user_id is None):
            raise ValueError("give exactly one of 'api_key' or 'user_id'")
        return self


@router.post("/add_credits")
async def add_credits(payload: AddCreditsIn, runtime: RuntimeDep) -> Response:
    user_id, balance = await billing_credits.admin_credit(
        runtime.db,
        pepper=runtime.pepper,
        auditor=runtime.auditor,
        user_id=payload.user_id,
        api_key=payload.api_key,
        amount=parse_credits(payload.credits),
        reason=payload.reason,
        reference=payload.reference,
    )
    return ok({"user_id": user_id, "credits": credits(balance.credits), "reserved": credits(balance.reserved)})


@router.get("/balance")
async def balances(
    runtime: RuntimeDep,
    limit: PageLimit = 20,
    after: PageAfter = None,
    user_id: str | None = Query(default=None, max_length=100),
) -> Response:
    found, masks = await reports.balances_page(runtime.db, limit=limit + 1, after=after, user_id=user_id)
    items = [
        {
            "user_id": row.user.id,
            "email": row.user.email,
            "username": row.user.username,
            "status": row.user.status,
            "plan": row.user.plan_id,
            "credits": credits(row.credits),
            "reserved": credits(row.reserved),
            "api_keys": masks.get(row.user.id, []),
        }
        for row in found
    ]
    return page(items, limit=limit)


@router.post("/refresh-models")
async def refresh_models(runtime: RuntimeDep) -> Response:
    catalog = await runtime.catalog.refresh()
    return ok(
        {
            "models": len(catalog.models),
            "unpriced_models": list(catalog.unpriced),
            "fetched_at": catalog.fetched_at,
        }
    )


@router.get("/cache-status")
async def cache_status(runtime: RuntimeDep) -> Response:
    return ok({"catalog": runtime.catalog.status(), "api_keys": {"cached": runtime.auth.cached_keys()}})


class LimitsIn(Body):
    requests_per_minute: Count | None = None
    requests_per_hour: Count | None = None
    requests_per_day: Count | None = None
    tokens_per_minute: Count | None = None
    tokens_per_hour: Count | None = None
    tokens_per_day: Count | None = None


class SetLimitsIn(Body):
    api_key: str | None = Field(default=None, max_length=200)
    user_id: str | None = Field(default=None, max_length=100)
    key_id: str | None = Field(default=None, max_length=100)
    rate_limits: LimitsIn

    @model_validator(mode="after")
    def _one_target(self) -> SetLimitsIn:
        if sum(v is not None for v in (self.api_key, self.user_id, self.key_id)) != 1:
            raise ValueError("give exactly one of 'api_key', 'user_id' or 'key_id'")
        return self


@router.post("/limit")
async def set_limits(payload: SetLimitsIn, runtime: RuntimeDep) -> Response:
    """Override a user's plan limits (or set one key's): the fields sent change, null = no limit."""
    limits = {name: getattr(payload.rate_limits, name) for name in payload.rate_limits.model_fields_set}
    user_id, key_id, now_set = await overrides.set_limits(
        runtime.db, pepper=runtime.pepper, auth=runtime.auth, auditor=runtime.auditor,
        user_id=payload.user_id, api_key=payload.api_key, key_id=payload.key_id, limits=limits,
    )  # fmt: skip
    return ok({"user_id": user_id, "key_id": key_id, "rate_limits": now_set})


@router.get("/monitor")
async def monitor(
    runtime: RuntimeDep,
    since: Annotated[float | None, unix_time("Unix time; default: the last 24 hours")] = None,
) -> Response:
    found = await reports.monitor(runtime.db, since=since)
    return ok({
        "since": found["since"],
        **totals_view(found["totals"]),
        "reserved": credits(found["reserved"]),
        "gateway_processes": found["gateway_processes"],
        "top_users": [{"user_id": name, **totals_view(t)} for name, t in found["top_users"]],
        "top_models": [{"model": name, **totals_view(t)} for name, t in found["top_models"]],
        "outcomes": {name: t.requests for name, t in found["outcomes"]},
        "errors": sum(t.requests for name, t in found["outcomes"] if name != "completed"),
        "catalog": runtime.catalog.status(),
        **runtime.health(),
    })  # fmt: skip


@router.get("/audit/verify")
async def verify_audit(runtime: RuntimeDep, user_id: str | None = Query(default=None, max_length=100)) -> Response:
    checked, broken = await audit.verify(runtime.db, key=runtime.auditor.key, user_id=user_id)
    return ok({
        "valid": broken is None,
        "entries_checked": checked,
        "first_broken_link": None if broken is None else {
            "user_id": broken.user_id, "seq": broken.seq, "entry_id": broken.entry_id, "reason": broken.reason,
        },
    })  # fmt: skip
