"""`GET /metrics`: Prometheus' text format, for METRICS_TOKEN or an admin key (Bearer).

Not in `/openapi.json`: a scraper's route, answering text, not one of the API's JSON answers.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4

from gateway.deps import RuntimeDep, current_admin
from gateway.routes.base import GatewayRoute
from gateway.services.operations import scrape

router = APIRouter(route_class=GatewayRoute, include_in_schema=False)


@router.get("/metrics")
async def metrics(request: Request, runtime: RuntimeDep) -> Response:
    token = runtime.settings.metrics_token
    if not scrape.is_metrics_token(request.headers.get("authorization"), token.get_secret_value() if token else None):
        await current_admin(request, runtime)  # 401 without a usable key, 403 for a customer's
    status = runtime.catalog.status()
    state = await scrape.read_state(
        runtime.db,
        redis_up=runtime.redis.healthy if runtime.redis is not None else None,
        catalog_models=status["models"],
        catalog_age=status["age_seconds"],
    )
    return Response(scrape.exposition(state), media_type=CONTENT_TYPE_PLAIN_0_0_4)
