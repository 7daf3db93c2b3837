"""The sliding windows on every backend: in-process, and in Redis (one Lua script)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest

from gateway.db.limits.windows import MemoryWindows, Slot, Window, WindowStore
from gateway.db.limits.windows_redis import RedisWindows
from gateway.db.redis_link import RedisLink
from tests.conformance.conftest import Backend

T0 = 1_800_000_000.0001  # never exactly on a bucket edge, so float rounding cannot differ


@pytest.fixture
async def windows(backend: Backend) -> AsyncIterator[WindowStore]:
    if backend.redis_url is None:
        yield MemoryWindows()
        return
    link = RedisLink(backend.redis_url, prefix=backend.redis_prefix)
    try:
        yield RedisWindows(link, MemoryWindows())
    finally:
        await link.close()


async def test_same_decisions_as_the_reference_arithmetic(windows: WindowStore) -> None:
    reference, rng, now = MemoryWindows(), random.Random(7), T0
    for _ in range(400):
        now += rng.choice([0.0, 0.05, 0.3, 1.7, 9.0, 31.0])
        specs = [Window("m", 60, 12, rng.randint(0, 4)), Window("h", 3600, 60, 1)]
        got, want = await windows.admit(specs, None, now=now), await reference.admit(specs, None, now=now)
        assert (got.admitted, got.failed) == (want.admitted, want.failed)
        assert [u.used for u in got.usage] == [u.used for u in want.usage]
        assert [round(u.reset, 3) for u in got.usage] == [round(u.reset, 3) for u in want.usage]
        assert [round(u.retry_after, 3) for u in got.usage] == [round(u.retry_after, 3) for u in want.usage]


async def test_simultaneous_admissions_never_exceed_a_window(windows: WindowStore) -> None:
    specs = [Window("burst", 60, 37, 1), Window("tokens", 60, 1_000, 20)]
    # The connections first: 64 opened at once on a busy machine can miss Redis' connect
    # timeout, and the in-process fallback (right for an outage) is not what this test is about.
    await asyncio.gather(*(windows.peek(specs, now=T0) for _ in range(64)))
    outcomes = await asyncio.gather(*(windows.admit(specs, None, now=T0) for _ in range(200)))
    assert sum(o.admitted for o in outcomes) == 37
    assert [u.used for u in await windows.peek(specs, now=T0)] == [37, 740]


async def test_refused_requests_count_against_nothing(windows: WindowStore) -> None:
    tight, loose = Window("tight", 60, 1, 1), Window("loose", 3600, 100, 1)
    assert (await windows.admit([tight, loose], None, now=T0)).admitted
    refused = await windows.admit([loose, tight], None, now=T0 + 1)
    assert not refused.admitted and refused.failed == 1
    assert [u.used for u in await windows.peek([tight, loose], now=T0 + 1)] == [1, 1]


async def test_windows_slide(windows: WindowStore) -> None:
    window = Window("slide", 60, 2, 1)
    assert (await windows.admit([window], None, now=T0)).admitted
    assert (await windows.admit([window], None, now=T0 + 30)).admitted
    assert not (await windows.admit([window], None, now=T0 + 59)).admitted
    assert (await windows.admit([window], None, now=T0 + 61)).admitted  # the first one left


async def test_concurrency_slots_and_token_corrections(windows: WindowStore) -> None:
    tokens = Window("tok", 60, 100, 90)
    first = await windows.admit([tokens], Slot("slot", 2, "a", 600), now=T0)
    second = await windows.admit([Window("tok", 60, 100, 5)], Slot("slot", 2, "b", 600), now=T0)
    third = await windows.admit([Window("tok", 60, 100, 1)], Slot("slot", 2, "c", 600), now=T0)
    assert first.admitted and second.admitted and not third.admitted and third.failed == 1
    await windows.finish([(tokens, first.buckets[0], -80)], Slot("slot", 2, "a", 600), now=T0 + 1)
    assert (await windows.peek([tokens], now=T0 + 1))[0].used == 15
    assert (await windows.admit([Window("tok", 60, 100, 85)], Slot("slot", 2, "d", 600), now=T0 + 1)).admitted


async def test_a_request_bigger_than_the_limit_never_fits(windows: WindowStore) -> None:
    refused = await windows.admit([Window("big", 60, 10, 11)], None, now=T0)
    assert not refused.admitted and refused.usage[0].retry_after == float("inf")
