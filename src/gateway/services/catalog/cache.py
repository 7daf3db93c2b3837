"""The model catalog, cached: the upstream's models with the gateway's own prices.

Fresh for MODEL_CACHE_TTL seconds; after that the next caller triggers one background
refresh while everyone keeps using the current copy. When the upstream fails, the last good
catalog is served (stale, with its age in /admin/cache-status); with no catalog at all, it is
fetched on demand and a failure is not cached. Models with no price or a negative
("variable") price are left out: never served for free.

With several processes the fetched document is kept in a shared `CatalogStore` (Redis): a
process whose copy went stale first looks there, only one process at a time fetches from
the upstream, and `announce` tells the others to adopt what it stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cachetools import TLRUCache

from gateway.db.catalog.store import CatalogStore, LocalCatalogStore, StoredCatalog
from gateway.errors import GatewayError, ModelNotFound, ServiceUnavailable
from gateway.services.catalog.entries import Catalog, CatalogModel, build_catalog

log = logging.getLogger("gateway.catalog")


@dataclass(slots=True)
class _Status:
    last_error: str | None = None
    last_attempt_at: float | None = None
    refreshes: int = 0
    failures: int = 0


@dataclass
class CatalogService:
    fetch: Callable[[], Awaitable[Any]]
    markup: Decimal
    ttl: float
    overrides: dict[str, Any] = field(default_factory=dict)
    store: CatalogStore = field(default_factory=LocalCatalogStore)
    announce: Callable[[], Awaitable[None]] | None = None  # tells the other processes
    clock: Callable[[], float] = time.time
    _current: Catalog | None = None  # the last good catalog, fresh or not
    _fresh: TLRUCache[str, Catalog] = field(init=False)
    _refreshing: asyncio.Task[Catalog] | None = None
    _status: _Status = field(default_factory=_Status)

    def __post_init__(self) -> None:
        # Fresh until `fetched_at + ttl`, also for a copy another process fetched earlier.
        self._fresh = TLRUCache(maxsize=1, ttu=lambda _k, c, _now: c.fetched_at + self.ttl, timer=self.clock)

    async def model(self, model_id: str) -> CatalogModel:
        catalog = await self.current()
        model = catalog.models.get(model_id)
        if model is None:
            reason = "has no usable price" if model_id in catalog.unpriced else "does not exist"
            raise ModelNotFound(f"the model {model_id!r} {reason}", param="model")
        return model

    async def current(self) -> Catalog:
        fresh = self._fresh.get("catalog")
        if fresh is not None:
            return fresh
        catalog = self._current
        if catalog is None:
            try:
                return await asyncio.shield(self._start_fetch())
            except GatewayError as exc:
                raise ServiceUnavailable("the model catalog is unavailable; try again shortly") from exc
        self._start_fetch()  # in the background: this caller uses the current copy
        return catalog

    async def refresh(self) -> Catalog:
        """An admin's refresh: fetch from the upstream now; keep the old catalog on failure."""
        return await self._fetch_upstream()

    async def adopt_shared(self, _: str = "") -> None:
        """Another process stored a newer catalog: use it."""
        stored = await self.store.load()
        if stored is not None and (self._current is None or stored.fetched_at > self._current.fetched_at):
            self._install(self._build(stored.document, stored.fetched_at))

    def status(self) -> dict[str, Any]:
        catalog, now = self._current, self.clock()
        return {
            "models": len(catalog.models) if catalog else 0,
            "unpriced_models": list(catalog.unpriced) if catalog else [],
            "fetched_at": catalog.fetched_at if catalog else None,
            "age_seconds": round(now - catalog.fetched_at, 3) if catalog else None,
            "ttl_seconds": self.ttl,
            "stale": catalog is not None and self._fresh.get("catalog") is None,
            "last_error": self._status.last_error,
            "last_attempt_at": self._status.last_attempt_at,
            "refreshes": self._status.refreshes,
            "failures": self._status.failures,
        }

    def _start_fetch(self) -> asyncio.Task[Catalog]:
        """One fetch at a time: concurrent callers share it (no stampede on the upstream)."""
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.create_task(self._fetch())
            self._refreshing.add_done_callback(_log_failure)
        return self._refreshing

    async def _fetch(self) -> Catalog:
        stored = await self.store.load()
        if stored is not None and self.clock() - stored.fetched_at < self.ttl:
            return self._install(self._build(stored.document, stored.fetched_at))
        locked = await self.store.lock()
        if not locked and stored is not None:
            # Another process is fetching right now: use what it stored last.
            return self._install(self._build(stored.document, stored.fetched_at))
        try:
            return await self._fetch_upstream()
        except GatewayError:
            if self._current is None and stored is not None:  # stale beats nothing
                return self._install(self._build(stored.document, stored.fetched_at))
            raise
        finally:
            if locked:
                await self.store.unlock()

    async def _fetch_upstream(self) -> Catalog:
        self._status.last_attempt_at = self.clock()
        try:
            document = await self.fetch()
            catalog = self._build(document, self.clock())
        except GatewayError as exc:
            self._status.failures += 1
            self._status.last_error = exc.message
            raise
        self._status.refreshes += 1
        self._status.last_error = None
        self._install(catalog)
        await self.store.save(StoredCatalog(document, catalog.fetched_at))
        if self.announce is not None:
            await self.announce()
        return catalog

    def _build(self, document: Any, fetched_at: float) -> Catalog:
        return build_catalog(document, markup=self.markup, overrides=self.overrides, now=fetched_at)

    def _install(self, catalog: Catalog) -> Catalog:
        self._current = catalog
        self._fresh["catalog"] = catalog
        return catalog


def _log_failure(task: asyncio.Task[Catalog]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        message = error.message if isinstance(error, GatewayError) else repr(error)
        log.warning("catalog refresh failed; serving the cached catalog if there is one: %s", message)
