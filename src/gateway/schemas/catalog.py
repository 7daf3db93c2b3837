"""Public answers: health, and the model catalog with the gateway's own prices."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, model_serializer
from pydantic_core.core_schema import SerializerFunctionWrapHandler

from gateway.schemas.common import Credits
from gateway.services.billing.pricing import Price
from gateway.services.catalog.entries import CatalogModel

_PER_MILLION = Decimal(1_000_000)
_NINE_DECIMALS = Decimal("1e-9")


def _per_million(price: Decimal) -> Decimal:
    # Display only: charges use the exact per-token price.
    return (price * _PER_MILLION).quantize(_NINE_DECIMALS).normalize()


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    redis: str
    database: str
    upstream: Literal["simulator", "http"]
    catalog_models: int
    catalog_stale: bool


class PricingOut(BaseModel):
    """Credits per 1M tokens (and per request) — the gateway's prices, not the upstream's."""

    prompt_per_1m: Credits
    completion_per_1m: Credits
    request: Credits
    cache_read_per_1m: Credits | None = Field(default=None, description="only when the model has one")

    @model_serializer(mode="wrap")
    def _without_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        shown: dict[str, Any] = handler(self)
        if shown.get("cache_read_per_1m") is None:
            shown.pop("cache_read_per_1m", None)
        return shown

    @classmethod
    def of(cls, price: Price) -> PricingOut:
        return cls(
            prompt_per_1m=_per_million(price.prompt),
            completion_per_1m=_per_million(price.completion),
            request=price.request.quantize(_NINE_DECIMALS).normalize(),
            cache_read_per_1m=None if price.cache_read is None else _per_million(price.cache_read),
        )


class ModelOut(BaseModel):
    id: str
    name: str
    provider: str
    context_length: int | None
    max_output_tokens: int | None
    pricing: PricingOut

    @classmethod
    def of(cls, model: CatalogModel) -> ModelOut:
        return cls(
            id=model.id,
            name=model.name,
            provider=model.provider,
            context_length=model.context_length,
            max_output_tokens=model.max_output,
            pricing=PricingOut.of(model.price),
        )


class ProviderOut(BaseModel):
    provider: str
    models: int


class OpenAIModel(BaseModel):
    """A model in the OpenAI format (what the SDKs' `models.list` and `models.retrieve` read)."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str

    @classmethod
    def of(cls, model: CatalogModel) -> OpenAIModel:
        return cls(id=model.id, created=model.created, owned_by=model.provider)


class OpenAIModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[OpenAIModel]
