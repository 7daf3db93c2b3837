"""The model catalog's contents: models with the gateway's own prices, read from the
aggregators' common format (`data[].pricing.prompt` ... as USD per token strings) and a local
price file. Models with no price, or a negative ("variable") one, are left out (never served
for free)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from gateway.errors import UpstreamError
from gateway.services.billing.pricing import Price

# Output limit assumed when the catalog gives neither an output nor a context length.
DEFAULT_OUTPUT_LIMIT = 16_384


@dataclass(frozen=True, slots=True)
class CatalogModel:
    id: str
    name: str
    provider: str
    created: int
    context_length: int | None
    max_output: int | None
    upstream_price: Price
    price: Price  # upstream × CREDIT_MARKUP, or the fixed price
    fixed_price: Price | None = None  # the gateway's own price for this model (price file)

    def price_with(self, markup: Decimal | None) -> Price:
        """A plan's markup replaces CREDIT_MARKUP; a fixed per-model price beats both."""
        if self.fixed_price is not None or markup is None:
            return self.price
        return _marked_up(self.upstream_price, markup)

    @property
    def output_limit(self) -> int:
        return self.max_output or self.context_length or DEFAULT_OUTPUT_LIMIT

    @property
    def output_limit_known(self) -> bool:
        return bool(self.max_output or self.context_length)


@dataclass(frozen=True, slots=True)
class Catalog:
    models: dict[str, CatalogModel]
    fetched_at: float
    unpriced: tuple[str, ...] = ()


@functools.lru_cache(maxsize=4096)
def _marked_up(price: Price, markup: Decimal) -> Price:
    return price.marked_up(markup)


def _price(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        price = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return price if price.is_finite() and price >= 0 else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def parse_entry(entry: Any, markup: Decimal) -> CatalogModel | None:
    """One `data[]` entry in the aggregators' format; None when it has no usable price."""
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
        return None
    pricing = _dict(entry.get("pricing"))
    prompt, completion = _price(pricing.get("prompt")), _price(pricing.get("completion"))
    if prompt is None or completion is None:
        return None
    request = _price(pricing.get("request")) if pricing.get("request") is not None else Decimal(0)
    if request is None:
        return None
    upstream = Price(prompt, completion, request, _price(pricing.get("input_cache_read")))
    fixed = _fixed_price(_dict(entry.get("gateway_pricing")))
    top = _dict(entry.get("top_provider"))
    model_id: str = entry["id"]
    return CatalogModel(
        id=model_id,
        name=str(entry.get("name") or model_id),
        provider=model_id.split("/", 1)[0] if "/" in model_id else str(entry.get("owned_by") or "upstream"),
        created=_int(entry.get("created")) or 0,
        context_length=_int(entry.get("context_length")),
        max_output=_int(top.get("max_completion_tokens")) or _int(entry.get("max_output_tokens")),
        upstream_price=upstream,
        price=fixed or upstream.marked_up(markup),
        fixed_price=fixed,
    )


def _fixed_price(pricing: dict[str, Any]) -> Price | None:
    prompt, completion = _price(pricing.get("prompt")), _price(pricing.get("completion"))
    if prompt is None or completion is None:
        return None
    return Price(prompt, completion, _price(pricing.get("request")) or Decimal(0))


def build_catalog(document: Any, *, markup: Decimal, overrides: dict[str, Any], now: float) -> Catalog:
    entries = document.get("data") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise UpstreamError("the upstream catalog has no data list")
    by_id: dict[str, Any] = {e["id"]: e for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)}
    for model_id, override in overrides.items():
        merged = dict(by_id.get(model_id, {"id": model_id}))
        merged.update(override)
        by_id[model_id] = merged
    models, unpriced = {}, []
    for model_id, entry in by_id.items():
        model = parse_entry(entry, markup)
        if model is None:
            unpriced.append(model_id)
        else:
            models[model_id] = model
    return Catalog(models=models, fetched_at=now, unpriced=tuple(sorted(unpriced)))


def load_price_file(path: Path | None) -> dict[str, Any]:
    """A local price list in the same format as the upstream's catalog (`{"data": [...]}`)."""
    if path is None:
        return {}
    document = json.loads(path.read_text())
    entries = document.get("data", []) if isinstance(document, dict) else []
    return {e["id"]: e for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)}
