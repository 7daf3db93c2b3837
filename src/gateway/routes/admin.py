"""Admin routes (Bearer ADMIN_API_KEY or an admin user's key). Never show a full key."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import Field, model_validator

from gateway.deps import PageAfter, PageLimit, RuntimeDep, current_admin
from gateway.errors import InvalidRequest
from gateway.responses import credits, ok, page
from gateway.routes.base import Body, CreditsIn, GatewayRoute
from gateway.services import admin
from gateway.services.money import parse_credits

router = APIRouter(
    prefix="/admin", route_class=GatewayRoute, tags=["admin"], dependencies=[Depends(current_admin)]
)


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
    amount = parse_credits(payload.credits)
    if amount == 0:
        raise InvalidRequest("'credits' must not be zero", param="credits")
    user_id, balance = await admin.add_credits(
        runtime.db,
        pepper=runtime.pepper,
        user_id=payload.user_id,
        api_key=payload.api_key,
        amount=amount,
        reason=payload.reason,
        reference=payload.reference,
    )
    return ok(
        {"user_id": user_id, "credits": credits(balance.credits), "reserved": credits(balance.reserved)}
    )


@router.get("/balance")
async def balances(
    runtime: RuntimeDep,
    limit: PageLimit = 20,
    after: PageAfter = None,
    user_id: str | None = Query(default=None, max_length=100),
) -> Response:
    found, masks = await admin.list_balances(runtime.db, limit=limit + 1, after=after, user_id=user_id)
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
