"""Public routes: health and the model catalog with the gateway's own prices."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response

from gateway.deps import RuntimeDep
from gateway.errors import NotFound
from gateway.responses import ok
from gateway.routes.base import GatewayRoute
from gateway.services.billing.pricing import Price
from gateway.services.catalog.entries import CatalogModel

router = APIRouter(route_class=GatewayRoute, tags=["public"])
_PER_MILLION = Decimal(1_000_000)
_NINE_DECIMALS = Decimal("1e-9")


def _per_million(price: Decimal) -> Decimal:
    # Display only: charges use the exact per-token price.
    return (price * _PER_MILLION).quantize(_NINE_DECIMALS).normalize()


def _pricing(price: Price) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "prompt_per_1m": _per_million(price.prompt),
        "completion_per_1m": _per_million(price.completion),
        "request": price.request.quantize(_NINE_DECIMALS).normalize(),
    }
    if price.cache_read is not None:
        shown["cache_read_per_1m"] = _per_million(price.cache_read)
    return shown


def _model(model: CatalogModel) -> dict[str, Any]:
    return {
        "id": model.id,
        "name": model.name,
        "provider": model.provider,
        "context_length": model.context_length,
        "max_output_tokens": model.max_output,
        "pricing": _pricing(model.price),
    }


@router.get("/health")
async def health(runtime: RuntimeDep) -> Response:
    catalog = runtime.catalog.status()
    return ok(
        {
            **runtime.health(),
            "database": runtime.db.dialect,
            "upstream": "simulator" if runtime.settings.uses_simulator else "http",
            "catalog_models": catalog["models"],
            "catalog_stale": catalog["stale"],
        }
    )


@router.get("/models", summary="Models with the gateway's prices (credits per 1M tokens)")
async def models(runtime: RuntimeDep) -> Response:
    catalog = await runtime.catalog.current()
    data = [_model(m) for m in sorted(catalog.models.values(), key=lambda m: m.id)]
    return ok({"object": "list", "data": data, "has_more": False})


@router.get("/models/providers")
async def providers(runtime: RuntimeDep) -> Response:
    catalog = await runtime.catalog.current()
    counts = Counter(m.provider for m in catalog.models.values())
    data = [{"provider": name, "models": count} for name, count in sorted(counts.items())]
    return ok({"object": "list", "data": data, "has_more": False})


def _openai_model(model: CatalogModel) -> dict[str, Any]:
    return {"id": model.id, "object": "model", "created": model.created, "owned_by": model.provider}


@router.get("/v1/models", summary="Models in the OpenAI list format")
async def openai_models(runtime: RuntimeDep) -> Response:
    catalog = await runtime.catalog.current()
    return ok(
        {"object": "list", "data": [_openai_model(m) for m in sorted(catalog.models.values(), key=lambda m: m.id)]}
    )


# `:path`, because model ids carry a slash (`openai/gpt-4o`; the SDKs send it as %2F).
@router.get("/v1/models/{model_id:path}", summary="One model in the OpenAI format (the SDKs' models.retrieve)")
async def openai_model(model_id: Annotated[str, Path(max_length=200)], runtime: RuntimeDep) -> Response:
    model = (await runtime.catalog.current()).models.get(model_id)
    if model is None:
        raise NotFound(f"the model {model_id!r} does not exist", param="model")
    return ok(_openai_model(model))
