from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from tests.support import FakeUpstream, Gateway, clear_gateway_env, make_settings, running_gateway


@pytest.fixture(autouse=True)
def _no_gateway_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests configure gateways explicitly: neither the environment nor a `.env` leaks in."""
    clear_gateway_env()
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def gateway_factory(tmp_path: Path) -> Callable[..., AbstractAsyncContextManager[Gateway]]:
    def factory(**overrides: Any) -> AbstractAsyncContextManager[Gateway]:
        return running_gateway(make_settings(tmp_path, **overrides))

    return factory


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    async with running_gateway(make_settings(tmp_path)) as gw:
        yield gw


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    fake = FakeUpstream()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def proxied(tmp_path: Path, upstream: FakeUpstream) -> AsyncIterator[Gateway]:
    """A gateway whose upstream is the fake HTTP upstream (real sockets, aiohttp client)."""
    settings = make_settings(tmp_path, upstream_base_url=upstream.base_url, upstream_api_key="sk-upstream-secret-123")
    async with running_gateway(settings) as gw:
        yield gw
