"""The sliding-window arithmetic against a simple reference model: an exact log of events."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.db.limits.windows import BUCKETS, MemoryWindows, Slot, Window
from gateway.services.limits.rate_limiter import duration

WINDOW = 60
WIDTH = WINDOW / BUCKETS

# A request: (seconds since the previous one, amount it asks for).
requests_strategy = st.lists(
    st.tuples(st.floats(min_value=0, max_value=20, allow_nan=False), st.integers(min_value=0, max_value=7)),
    min_size=1,
    max_size=150,
)


Events = list[tuple[float, int]]


def exact_used(events: Events, now: float, span: float) -> int:
    """The reference: the exact sum of admitted amounts in (now - span, now]."""
    return sum(amount for at, amount in events if at > now - span)


def run(requests: list[tuple[float, int]], limit: int) -> list[tuple[float, int, bool, Events]]:
    """Each request's time, amount, whether it was admitted, and the admitted events so far."""
    windows, events, now = MemoryWindows(), [], 1_000_000.0
    trace: list[tuple[float, int, bool, Events]] = []

    async def go() -> None:
        nonlocal now
        for gap, amount in requests:
            now += gap
            admission = await windows.admit([Window("w", WINDOW, limit, amount)], None, now=now)
            if admission.admitted:
                events.append((now, amount))
            trace.append((now, amount, admission.admitted, list(events)))

    asyncio.run(go())
    return trace


@settings(max_examples=300, deadline=None)
@given(requests_strategy, st.integers(min_value=1, max_value=30))
def test_never_more_than_the_limit_in_any_window(requests: list[tuple[float, int]], limit: int) -> None:
    for now, _, admitted, events in run(requests, limit):
        if admitted:
            assert exact_used(events, now, WINDOW) <= limit  # no burst at a window boundary


@settings(max_examples=300, deadline=None)
@given(requests_strategy, st.integers(min_value=1, max_value=30))
def test_refusals_rest_only_on_the_window_plus_one_percent(requests: list[tuple[float, int]], limit: int) -> None:
    for now, amount, admitted, events in run(requests, limit):
        if not admitted:
            assert exact_used(events, now, WINDOW + WIDTH) + amount > limit


@settings(max_examples=200, deadline=None)
@given(requests_strategy)
def test_a_refused_request_counts_against_nothing(requests: list[tuple[float, int]]) -> None:
    windows, now = MemoryWindows(), 1_000_000.0

    async def go() -> None:
        nonlocal now
        for gap, amount in requests:
            now += gap
            specs = [Window("a", 60, 10, amount), Window("b", 3600, 25, 1)]
            before = [u.used for u in await windows.peek(specs, now=now)]
            admission = await windows.admit(specs, None, now=now)
            after = [u.used for u in await windows.peek(specs, now=now)]
            if admission.admitted:
                assert after == [before[0] + amount, before[1] + 1]
            else:
                assert after == before

    asyncio.run(go())


def test_corrections_and_slots() -> None:
    async def go() -> None:
        windows = MemoryWindows()
        tokens = Window("t", 60, 100, 80)
        admission = await windows.admit([tokens], Slot("s", 1, "req-1", 600), now=10.0)
        assert admission.admitted
        refused = await windows.admit([Window("t", 60, 100, 1)], Slot("s", 1, "req-2", 600), now=10.5)
        assert not refused.admitted and refused.failed == 1  # the slot is taken
        await windows.finish([(tokens, admission.buckets[0], -50)], Slot("s", 1, "req-1", 600), now=11.0)
        assert (await windows.peek([tokens], now=11.0))[0].used == 30  # corrected to actual usage
        assert (await windows.admit([Window("t", 60, 100, 70)], Slot("s", 1, "req-3", 600), now=11.0)).admitted

    asyncio.run(go())


def test_retry_after_and_reset() -> None:
    async def go() -> None:
        windows = MemoryWindows()
        for at in (0.0, 30.0):
            assert (await windows.admit([Window("r", 60, 2, 1)], None, now=1000 + at)).admitted
        refused = await windows.admit([Window("r", 60, 2, 1)], None, now=1040.0)
        assert not refused.admitted
        # the first request (t=1000) leaves the window after 60 s (+ at most one bucket)
        assert 20 <= refused.usage[0].retry_after <= 20 + WIDTH
        assert refused.usage[0].reset == refused.usage[0].retry_after

    asyncio.run(go())


def test_durations_in_openai_notation() -> None:
    assert [duration(s) for s in (0, 0.02, 1, 59.2, 60, 360, 3723)] == [
        "0s",
        "20ms",
        "1s",
        "1m0s",
        "1m0s",
        "6m0s",
        "1h2m3s",
    ]
