"""Public routes: health, and the model catalog with the gateway's own prices."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from gateway.deps import RuntimeDep
from gateway.errors import NotFound
from gateway.routes.base import GatewayRoute
from gateway.routes.openapi import errors
from gateway.routes.responses import ok
from gateway.schemas.catalog import HealthOut, ModelOut, OpenAIModel, OpenAIModelList, ProviderOut
from gateway.schemas.common import ListOf

router = APIRouter(route_class=GatewayRoute, tags=["public"], responses=errors())


@router.get("/health", response_model=HealthOut)
async def health(runtime: RuntimeDep) -> Response:
    catalog, health = runtime.catalog.status(), runtime.health()
    return ok(
        HealthOut(
            status=health.status,
            redis=health.redis,
            database=runtime.db.dialect,
            upstream="simulator" if runtime.settings.uses_simulator else "http",
            catalog_models=catalog["models"],
            catalog_stale=catalog["stale"],
        )
    )


@router.get(
    "/models", response_model=ListOf[ModelOut], summary="Models with the gateway's prices (credits per 1M tokens)"
)
async def models(runtime: RuntimeDep) -> Response:
    catalog = await runtime.catalog.current()
    return ok(ListOf[ModelOut](data=[ModelOut.of(m) for m in sorted(catalog.models.values(), key=lambda m: m.id)]))


@router.get("/models/providers", response_model=ListOf[ProviderOut])
async def providers(runtime: RuntimeDep) -> Response:
    catalog = await runtime.catalog.current()
    counts = Counter(m.provider for m in catalog.models.values())
    return ok(ListOf[ProviderOut](data=[ProviderOut(provider=n, models=c) for n, c in sorted(counts.items())]))


@router.get("/v1/models", response_model=OpenAIModelList, summary="Models in the OpenAI list format")
async def openai_models(runtime: RuntimeDep) -> Response:
    catalog = await runtime.catalog.current()
    return ok(OpenAIModelList(data=[OpenAIModel.of(m) for m in sorted(catalog.models.values(), key=lambda m: m.id)]))


# `:path`, because model ids carry a slash (`openai/gpt-4o`; the SDKs send it as %2F).
@router.get(
    "/v1/models/{model_id:path}",
    response_model=OpenAIModel,
    responses=errors(404),
    summary="One model in the OpenAI format (the SDKs' models.retrieve)",
)
async def openai_model(model_id: Annotated[str, Path(max_length=200)], runtime: RuntimeDep) -> Response:
    model = (await runtime.catalog.current()).models.get(model_id)
    if model is None:
        raise NotFound(f"the model {model_id!r} does not exist", param="model")
    return ok(OpenAIModel.of(model))
