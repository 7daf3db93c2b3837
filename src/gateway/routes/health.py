"""Probes for orchestrators and load balancers: `/health/live` (restart the process if it does
not answer) and `/health/ready` (send it traffic only while 200). `/health` (in `public`)
keeps its own payload. Left out of /openapi.json: they are for machines, not API clients."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.routes.responses import ok
from gateway.runtime import Runtime
from gateway.schemas.health import LiveOut, ReadyOut
from gateway.services.operations.draining import Drain
from gateway.services.operations.readiness import Readiness, readiness

router = APIRouter(tags=["health"], include_in_schema=False)


@router.get("/health/live")
async def live() -> Response:
    """The process serves requests: 200 while it does, draining included (killing a process
    that is finishing its streams would cut them)."""
    return ok(LiveOut())


@router.get("/health/ready")
async def ready(request: Request) -> Response:
    runtime: Runtime | None = request.app.state.runtime
    drain: Drain = request.app.state.drain
    if runtime is None:
        found = Readiness("not_ready", missing=["starting"])
    else:
        health = runtime.health()
        found = await readiness(
            db=runtime.db,
            catalog=runtime.catalog,
            redis=health.redis,
            redis_degraded=health.status == "degraded",
            draining=drain.draining,
        )
    answer = ReadyOut(
        status=found.status,
        checks=found.checks,
        missing=found.missing,
        instance_id=runtime.instance_id if runtime else None,
    )
    return ok(answer, status_code=200 if found.ready else 503)
