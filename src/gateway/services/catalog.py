"""The model catalog: the upstream's models with the gateway's own prices, cached.

Fresh for MODEL_CACHE_TTL seconds; after that the next caller triggers one background
refresh while everyone keeps using the current copy. When the upstream fails, the last good
catalog is served (stale, with its age in /admin/cache-status); with no catalog at all, it is
fetched on demand and a failure is not cached. Models with no price or a negative
("variable") price are left out: never served for free.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from cachetools import TTLCache

from gateway.errors import GatewayError, ModelNotFound, ServiceUnavailable, UpstreamError
from gateway.services.pricing import Price

log = logging.getLogger("gateway.catalog")

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
    price: Price

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


@dataclass(slots=True)
class _Status:
    last_error: str | None = None
    last_attempt_at: float | None = None
    refreshes: int = 0
    failures: int = 0


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
        price=upstream.marked_up(markup),
    )


def build_catalog(document: Any, *, markup: Decimal, overrides: dict[str, Any], now: float) -> Catalog:
    entries = document.get("data") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise UpstreamError("the upstream catalog has no data list")
    by_id: dict[str, Any] = {
        e["id"]: e for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)
    }
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


@dataclass
class CatalogService:
    fetch: Callable[[], Awaitable[Any]]
    markup: Decimal
    ttl: float
    overrides: dict[str, Any] = field(default_factory=dict)
    clock: Callable[[], float] = time.time
    _current: Catalog | None = None
    _fresh: TTLCache[str, bool] = field(init=False)
    _refreshing: asyncio.Task[Catalog] | None = None
    _status: _Status = field(default_factory=_Status)

    def __post_init__(self) -> None:
        self._fresh = TTLCache(maxsize=1, ttl=self.ttl) if self.ttl > 0 else TTLCache(maxsize=1, ttl=1e-9)

    async def model(self, model_id: str) -> CatalogModel:
        catalog = await self.current()
        model = catalog.models.get(model_id)
        if model is None:
            reason = "has no usable price" if model_id in catalog.unpriced else "does not exist"
            raise ModelNotFound(f"the model {model_id!r} {reason}", param="model")
        return model

    async def current(self) -> Catalog:
        catalog = self._current
        if catalog is None:
            try:
                return await self._refresh_once()
            except GatewayError as exc:
                raise ServiceUnavailable("the model catalog is unavailable; try again shortly") from exc
        if "catalog" not in self._fresh:
            self._start_fetch()  # in the background: this caller uses the current copy
        return catalog

    async def refresh(self) -> Catalog:
        """An admin's refresh: fetch now, keep the old catalog if that fails."""
        return await self._refresh_once()

    def status(self) -> dict[str, Any]:
        catalog, now = self._current, self.clock()
        return {
            "models": len(catalog.models) if catalog else 0,
            "unpriced_models": list(catalog.unpriced) if catalog else [],
            "fetched_at": catalog.fetched_at if catalog else None,
            "age_seconds": round(now - catalog.fetched_at, 3) if catalog else None,
            "ttl_seconds": self.ttl,
            "stale": catalog is not None and "catalog" not in self._fresh,
            "last_error": self._status.last_error,
            "last_attempt_at": self._status.last_attempt_at,
            "refreshes": self._status.refreshes,
            "failures": self._status.failures,
        }

    async def _refresh_once(self) -> Catalog:
        return await asyncio.shield(self._start_fetch())

    def _start_fetch(self) -> asyncio.Task[Catalog]:
        """One fetch at a time: concurrent callers share it (no stampede on the upstream)."""
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.create_task(self._fetch())
            self._refreshing.add_done_callback(_log_failure)
        return self._refreshing

    async def _fetch(self) -> Catalog:
        self._status.last_attempt_at = self.clock()
        try:
            document = await self.fetch()
            catalog = build_catalog(document, markup=self.markup, overrides=self.overrides, now=self.clock())
        except GatewayError as exc:
            self._status.failures += 1
            self._status.last_error = exc.message
            raise
        self._current = catalog
        self._fresh["catalog"] = True
        self._status.refreshes += 1
        self._status.last_error = None
        return catalog


def _log_failure(task: asyncio.Task[Catalog]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        message = error.message if isinstance(error, GatewayError) else repr(error)
        log.warning("catalog refresh failed; serving the cached catalog if there is one: %s", message)
