"""The public plan catalogue, and the admin routes that create, edit and assign plans."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from gateway.deps import RuntimeDep
from gateway.routes.base import GatewayRoute, admin_router
from gateway.routes.openapi import errors
from gateway.routes.responses import ok
from gateway.schemas.common import ListOf
from gateway.schemas.plans import AssignedOut, AssignPlanIn, NewPlanIn, PlanChanges, PlanOut
from gateway.services.plans import periods

public = APIRouter(route_class=GatewayRoute, tags=["plans"], responses=errors())
admin = admin_router()
PlanId = Annotated[str, Path(max_length=64)]


@public.get("/plans", response_model=ListOf[PlanOut])
async def list_plans(runtime: RuntimeDep) -> Response:
    return ok(ListOf[PlanOut](data=[PlanOut.of(p) for p in await runtime.plans.all()]))


@public.get("/plans/{plan_id}", response_model=PlanOut, responses=errors(404))
async def get_plan(plan_id: PlanId, runtime: RuntimeDep) -> Response:
    return ok(PlanOut.of(await runtime.plans.find(plan_id)))


@admin.post("/plans", status_code=201, response_model=PlanOut, responses=errors(409))
async def create_plan(payload: NewPlanIn, runtime: RuntimeDep) -> Response:
    """A plan; fields left out take their defaults (null limits are unlimited)."""
    plan = await runtime.plans.create(payload.id, payload.name, payload.given())
    return ok(PlanOut.of(plan), status_code=201)


@admin.put("/plans/{plan_id}", response_model=PlanOut, responses=errors(404, 409))
async def update_plan(plan_id: PlanId, payload: PlanChanges, runtime: RuntimeDep) -> Response:
    """Only the fields sent change; null makes a limit unlimited."""
    return ok(PlanOut.of(await runtime.plans.update(plan_id, payload.given())))


@admin.post("/assign-plan", response_model=AssignedOut, responses=errors(404))
async def assign_plan(payload: AssignPlanIn, runtime: RuntimeDep) -> Response:
    started, expires = await periods.assign(
        runtime.db, runtime.plans, user_id=payload.user_id, plan_id=payload.plan_id,
        months=payload.duration_months, auditor=runtime.auditor, auth=runtime.auth,
    )  # fmt: skip
    return ok(AssignedOut(user_id=payload.user_id, plan_id=payload.plan_id, started_at=started, expires_at=expires))
