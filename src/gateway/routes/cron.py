"""GET /internal/cron/<job>: one pass of a periodic job, for Vercel Cron (which sends GET with
`Authorization: Bearer <CRON_SECRET>`). Servers run the same work in background tasks; on
serverless functions nothing runs between requests, so these routes do it. Not in the API docs."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from gateway.deps import RuntimeDep
from gateway.routes.base import GatewayRoute
from gateway.routes.responses import ok
from gateway.schemas.cron import CronRunOut
from gateway.services.operations import cron


def cron_caller(request: Request, runtime: RuntimeDep) -> None:
    secret = runtime.settings.cron_secret
    cron.authorize(secret.get_secret_value() if secret else None, request.headers.get("authorization"))


router = APIRouter(
    prefix="/internal/cron", route_class=GatewayRoute, include_in_schema=False, dependencies=[Depends(cron_caller)]
)


@router.get("/release-holds")
async def release_holds(runtime: RuntimeDep) -> Response:
    done = await cron.release_holds(runtime.db, stale_after=runtime.settings.instance_stale_seconds)
    return ok(CronRunOut(job="release-holds", done=done))


@router.get("/plan-credits")
async def plan_credits(runtime: RuntimeDep) -> Response:
    return ok(CronRunOut(job="plan-credits", done=await cron.grant_plan_credits(runtime.db, runtime.plans)))


@router.get("/auto-topup")
async def auto_topup(runtime: RuntimeDep) -> Response:
    if runtime.payments is None:
        return ok(CronRunOut(job="auto-topup", done={}, skipped="payments are not configured (STRIPE_SECRET_KEY)"))
    return ok(CronRunOut(job="auto-topup", done=await cron.auto_topups(runtime.payments.auto_topups)))


@router.get("/console-sessions")
async def console_sessions(runtime: RuntimeDep) -> Response:
    return ok(CronRunOut(job="console-sessions", done=await cron.console_sessions(runtime.console)))
