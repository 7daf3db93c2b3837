"""Sliding-window counters: several windows checked and counted in one atomic step.

A window of W seconds is counted in buckets of W/100 seconds. A check at time t counts every
bucket that overlaps (t - W, t] (101 of them); the oldest may hold events up to W/100 seconds
older than the window, so the count is never below the exact one (no burst at a boundary)
and a refusal never rests on events more than 1% of W older than an exact sliding log's.
All windows of a request pass, and are then counted, or none is: a refused request counts
against nothing. In-process (`MemoryWindows`) and in Redis (`RedisWindows`, one Lua script,
one round trip) the arithmetic is the same; the conformance suite runs both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

BUCKETS = 100


class Window(NamedTuple):  # a tuple: built for every window of every request
    key: str
    seconds: int
    limit: int
    amount: int
    tokens: bool = False  # counts tokens (else requests)

    @property
    def width(self) -> float:
        return self.seconds / BUCKETS


@dataclass(frozen=True, slots=True)
class Slot:
    """A concurrency slot: at most `limit` members at once; a member expires after `ttl`."""

    key: str
    limit: int
    member: str
    ttl: float


class Usage(NamedTuple):
    used: int  # counted in the window, this request included if it was admitted
    reset: float  # seconds until the oldest counted bucket leaves the window
    retry_after: float = 0.0  # for a refused window: seconds until this request would fit


@dataclass(frozen=True, slots=True)
class Admission:
    admitted: bool
    failed: int | None  # index of the refusing window; len(windows) means the slot
    usage: list[Usage]
    buckets: list[int]  # where each window's amount was counted (for later corrections)


class WindowStore(Protocol):
    remote: bool  # each call is a round trip (worth not waiting for when it can be avoided)

    async def admit(self, windows: list[Window], slot: Slot | None, *, now: float) -> Admission: ...

    async def finish(self, corrections: list[tuple[Window, int, int]], slot: Slot | None, *, now: float) -> None:
        """Add `delta` to the `bucket` each window counted in (if still live); free the slot."""

    async def peek(self, windows: list[Window], *, now: float) -> list[Usage]: ...


@dataclass
class _Counter:
    total: int = 0
    oldest: int = 0
    buckets: dict[int, int] = field(default_factory=dict)

    def expire(self, current: int) -> None:
        horizon = current - BUCKETS  # the oldest bucket that still overlaps the window
        if self.oldest >= horizon:
            return
        if horizon - self.oldest > BUCKETS + 1:
            self.buckets.clear()
            self.total = 0
        else:
            for index in range(self.oldest, horizon):
                self.total -= self.buckets.pop(index, 0)
        self.oldest = horizon

    def reset(self, width: float, now: float) -> float:
        if self.total <= 0:
            return 0.0
        # Buckets are added in time order and removed oldest first: the first key is the oldest.
        first = next(iter(self.buckets), self.oldest)
        return max(0.0, (first + BUCKETS + 1) * width - now)

    def retry_after(self, window: Window, now: float) -> float:
        """When enough buckets will have left the window for `window.amount` to fit."""
        if window.amount > window.limit:
            return math.inf
        freed = 0
        for index in sorted(self.buckets):
            freed += self.buckets[index]
            if self.total - freed + window.amount <= window.limit:
                return max(0.0, (index + BUCKETS + 1) * window.width - now)
        return window.seconds


class MemoryWindows:
    """One process's counters (the embedded default)."""

    remote = False

    def __init__(self) -> None:
        self._counters: dict[str, _Counter] = {}
        self._slots: dict[str, dict[str, float]] = {}
        self._admits = 0

    def _prune(self, now: float) -> None:
        """Forget counters of windows that have emptied, so memory follows active callers."""
        for key in [k for k, c in self._counters.items() if c.total <= 0]:
            del self._counters[key]
        for key in [k for k, members in self._slots.items() if not members]:
            del self._slots[key]

    def _counter(self, window: Window, now: float) -> tuple[_Counter, int]:
        current = math.floor(now / window.width)
        counter = self._counters.get(window.key)
        if counter is None:
            counter = self._counters[window.key] = _Counter(oldest=current)
        counter.expire(current)
        return counter, current

    async def admit(self, windows: list[Window], slot: Slot | None, *, now: float) -> Admission:
        self._admits += 1
        if self._admits % 4096 == 0:
            self._prune(now)
        counters, buckets, failed = [], [], None
        for index, window in enumerate(windows):
            counter, current = self._counter(window, now)
            counters.append(counter)
            buckets.append(current)
            if failed is None and counter.total + window.amount > window.limit:
                failed = index
        members = self._live_members(slot, now) if slot is not None else None
        if failed is None and members is not None and slot is not None and len(members) >= slot.limit:
            failed = len(windows)
        usage = []
        for index, window in enumerate(windows):
            counter = counters[index]
            if failed is None:
                current = buckets[index]
                counter.buckets[current] = counter.buckets.get(current, 0) + window.amount
                counter.total += window.amount
            retry = counter.retry_after(window, now) if index == failed else 0.0
            usage.append(Usage(counter.total, counter.reset(window.width, now), retry))
        if failed is None and members is not None and slot is not None:
            members[slot.member] = now + slot.ttl
        return Admission(failed is None, failed, usage, buckets)

    def _live_members(self, slot: Slot, now: float) -> dict[str, float]:
        members = self._slots.setdefault(slot.key, {})
        for member in [m for m, expiry in members.items() if expiry <= now]:
            del members[member]
        return members

    async def finish(self, corrections: list[tuple[Window, int, int]], slot: Slot | None, *, now: float) -> None:
        for window, bucket, delta in corrections:
            counter, _ = self._counter(window, now)
            if delta and bucket in counter.buckets:
                counter.buckets[bucket] += delta
                counter.total += delta
        if slot is not None:
            self._slots.get(slot.key, {}).pop(slot.member, None)

    async def peek(self, windows: list[Window], *, now: float) -> list[Usage]:
        usage = []
        for window in windows:
            counter, _ = self._counter(window, now)
            usage.append(Usage(counter.total, counter.reset(window.width, now)))
        return usage
