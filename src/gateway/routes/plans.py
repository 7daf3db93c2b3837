"""Public plan catalogue, and the admin routes that create, edit and assign plans."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response
from pydantic import Field

from gateway.deps import RuntimeDep, current_admin
from gateway.errors import InvalidRequest
from gateway.responses import ok
from gateway.routes.base import Body, Count, CreditsIn, GatewayRoute, WholeNumber
from gateway.routes.views import plan_view
from gateway.services.billing.money import parse_credits
from gateway.services.plans import periods

public = APIRouter(route_class=GatewayRoute, tags=["plans"])
admin = APIRouter(prefix="/admin", route_class=GatewayRoute, tags=["admin"], dependencies=[Depends(current_admin)])
PlanId = Annotated[str, Path(max_length=64)]


class PlanChanges(Body):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    price_per_month: CreditsIn | None = None
    stripe_price_id: str | None = Field(default=None, max_length=200)
    included_credits: CreditsIn | None = None
    requests_per_minute: Count | None = None
    requests_per_hour: Count | None = None
    requests_per_day: Count | None = None
    tokens_per_minute: Count | None = None
    tokens_per_hour: Count | None = None
    tokens_per_day: Count | None = None
    max_tokens_per_request: Count | None = None
    allowed_models: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        default=None, max_length=200
    )
    max_api_keys: Count | None = None
    max_concurrent_requests: Count | None = None
    features: dict[str, bool] | None = None
    markup: CreditsIn | None = None

    def given(self) -> dict[str, Any]:
        """The fields sent, as stored (credits in nano-credits); null means unlimited / none."""
        changes: dict[str, Any] = {name: getattr(self, name) for name in self.model_fields_set}
        for money in ("price_per_month", "included_credits"):
            if money in changes:
                value = changes[money] or Decimal(0)
                if value < 0:
                    raise InvalidRequest(f"'{money}' must not be negative", param=money)
                changes[money] = parse_credits(value)
        if "allowed_models" in changes:
            changes["allowed_models"] = tuple(changes["allowed_models"] or ("*",))
        if "features" in changes:
            changes["features"] = dict(changes["features"] or {})
        if changes.get("markup") is not None and changes["markup"] <= 0:
            raise InvalidRequest("'markup' must be greater than 0", param="markup")
        return changes


class NewPlanIn(PlanChanges):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    name: str = Field(min_length=1, max_length=100)  # required here


class AssignPlanIn(Body):
    user_id: str = Field(max_length=100)
    plan_id: str = Field(max_length=64)
    duration_months: Annotated[int, WholeNumber, Field(ge=1, le=120)] = 1


@public.get("/plans")
async def list_plans(runtime: RuntimeDep) -> Response:
    return ok({"object": "list", "data": [plan_view(p) for p in await runtime.plans.all()], "has_more": False})


@public.get("/plans/{plan_id}")
async def get_plan(plan_id: PlanId, runtime: RuntimeDep) -> Response:
    return ok(plan_view(await runtime.plans.find(plan_id)))


@admin.post("/plans", status_code=201)
async def create_plan(payload: NewPlanIn, runtime: RuntimeDep) -> Response:
    given = payload.given()
    given.pop("id", None)
    given.pop("name", None)
    return ok(plan_view(await runtime.plans.create(payload.id, payload.name, given)), status_code=201)


@admin.put("/plans/{plan_id}")
async def update_plan(plan_id: PlanId, payload: PlanChanges, runtime: RuntimeDep) -> Response:
    return ok(plan_view(await runtime.plans.update(plan_id, payload.given())))


@admin.post("/assign-plan")
async def assign_plan(payload: AssignPlanIn, runtime: RuntimeDep) -> Response:
    started, expires = await periods.assign(
        runtime.db, runtime.plans, user_id=payload.user_id, plan_id=payload.plan_id,
        months=payload.duration_months, auditor=runtime.auditor, auth=runtime.auth,
    )  # fmt: skip
    return ok({"user_id": payload.user_id, "plan_id": payload.plan_id, "started_at": started, "expires_at": expires})
