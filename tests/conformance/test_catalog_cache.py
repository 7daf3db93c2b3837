"""The catalog cache: one fetch for many callers, stale copies served when the upstream fails."""

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from gateway.errors import ServiceUnavailable, UpstreamError
from gateway.services.catalog.cache import CatalogService
from gateway.simulator import engine


class Upstream:
    def __init__(self) -> None:
        self.calls = 0
        self.failing = False

    async def models(self) -> Any:
        self.calls += 1
        await asyncio.sleep(0.01)
        if self.failing:
            raise UpstreamError("down")
        return engine.catalog()


async def test_concurrent_callers_share_one_fetch() -> None:
    upstream = Upstream()
    catalog = CatalogService(fetch=upstream.models, markup=Decimal(1), ttl=60)
    models = await asyncio.gather(*(catalog.model("sim/gpt-small") for _ in range(30)))
    assert upstream.calls == 1
    assert {m.price.prompt for m in models} == {Decimal("0.00000015")}


async def test_stale_is_served_and_refreshed_in_the_background() -> None:
    upstream = Upstream()
    catalog = CatalogService(fetch=upstream.models, markup=Decimal(1), ttl=0)
    await catalog.current()
    upstream.failing = True
    await catalog.model("sim/gpt-small")  # stale, fine
    await asyncio.sleep(0.05)
    assert catalog.status()["last_error"] == "down"
    upstream.failing = False
    await catalog.current()
    await asyncio.sleep(0.05)
    assert catalog.status()["last_error"] is None


async def test_without_a_catalog_failures_are_not_cached() -> None:
    upstream = Upstream()
    upstream.failing = True
    catalog = CatalogService(fetch=upstream.models, markup=Decimal(1), ttl=60)
    with pytest.raises(ServiceUnavailable):
        await catalog.current()
    upstream.failing = False
    assert (await catalog.current()).models
