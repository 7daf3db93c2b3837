"""Rate limits of inference requests: requests and tokens per minute, hour and day, for the
user (plan values, overridable by an admin) and optionally for one key, plus a cap on a
key's concurrent requests.

Every window of a request is checked and counted in one atomic step (`WindowStore`); a
request refused by any window counts against none, and one refused later (e.g. 402) is
taken back. Token windows count the request's estimate up front and are corrected to its
actual usage when it ends. Responses carry OpenAI's `x-ratelimit-*` headers for the
tightest window of each dimension.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.db.plans import PlanRow
from gateway.db.rate_windows import Admission, Slot, Usage, Window, WindowStore
from gateway.errors import RateLimited
from gateway.services.auth import Principal
from gateway.services.plans import effective_limits

PERIODS = (("minute", 60), ("hour", 3600), ("day", 86400))
SLOT_SECONDS = 600.0  # a slot left by a crashed process frees itself after this


class TokenLimitExceeded(RateLimited):
    code = "token_limit_exceeded"
    default_message = "token rate limit exceeded"


class ConcurrencyLimitExceeded(RateLimited):
    code = "concurrency_limit_exceeded"
    default_message = "too many concurrent requests for this key"


def duration(seconds: float) -> str:
    """OpenAI's reset notation: `20ms`, `1s`, `6m0s`, `1h2m3s`."""
    if seconds < 1:
        return f"{max(1, math.ceil(seconds * 1000))}ms" if seconds > 0 else "0s"
    total = math.ceil(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


@dataclass
class Ticket:
    """What one admitted request counted, to correct or take back when it ends."""

    windows: list[Window]
    buckets: list[int]
    slot: Slot | None
    estimate: int
    headers: dict[str, str] = field(default_factory=dict)
    done: bool = False


def _windows(owner: str, limits: dict[str, int | None], tokens: int) -> list[Window]:
    found = []
    for dimension, amount in (("requests", 1), ("tokens", tokens)):
        for period, seconds in PERIODS:
            limit = limits.get(f"{dimension}_per_{period}")
            if limit is not None:
                found.append(Window(f"{owner}:{dimension[0]}:{seconds}", seconds, limit, amount))
    return found


def _headers(windows: list[Window], usage: list[Usage]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for dimension, letter in (("requests", "r"), ("tokens", "t")):
        pairs = [(w, u) for w, u in zip(windows, usage, strict=True) if w.key.split(":")[-2] == letter]
        if not pairs:
            continue  # no limit at all in this dimension: left out
        window, used = min(pairs, key=lambda pair: (pair[0].limit - pair[1].used, -pair[1].reset))
        headers[f"x-ratelimit-limit-{dimension}"] = str(window.limit)
        headers[f"x-ratelimit-remaining-{dimension}"] = str(max(0, window.limit - used.used))
        headers[f"x-ratelimit-reset-{dimension}"] = duration(used.reset)
    return headers


class RateLimiter:
    def __init__(self, store: WindowStore, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    def windows(self, principal: Principal, plan: PlanRow, tokens: int) -> list[Window]:
        user_limits = effective_limits(plan, principal.limit_overrides)
        return _windows(f"u:{principal.user_id}", user_limits, tokens) + _windows(
            f"k:{principal.key_id}", principal.policy.rate_limits, tokens
        )

    async def admit(self, principal: Principal, plan: PlanRow, *, tokens: int, request_id: str) -> Ticket:
        windows = self.windows(principal, plan, tokens)
        limit = plan.max_concurrent_requests
        slot = Slot(f"c:{principal.key_id}", limit, request_id, SLOT_SECONDS) if limit is not None else None
        if not windows and slot is None:
            return Ticket([], [], None, tokens)
        admission = await self._store.admit(windows, slot, now=self._clock())
        headers = _headers(windows, admission.usage)
        if not admission.admitted:
            raise _refusal(windows, admission, headers)
        return Ticket(windows, admission.buckets, slot, tokens, headers)

    async def finish(self, ticket: Ticket, *, actual_tokens: int | None) -> None:
        """The request ended: correct its token windows to `actual_tokens`, or take the whole
        request back (None: it was refused after admission)."""
        if ticket.done or (not ticket.windows and ticket.slot is None):
            return
        ticket.done = True
        corrections = []
        for window, bucket in zip(ticket.windows, ticket.buckets, strict=True):
            tokens = window.key.split(":")[-2] == "t"
            if actual_tokens is None:
                corrections.append((window, bucket, -window.amount))
            elif tokens and actual_tokens != ticket.estimate:
                corrections.append((window, bucket, actual_tokens - ticket.estimate))
        await self._store.finish(corrections, ticket.slot, now=self._clock())

    async def usage(self, principal: Principal, plan: PlanRow) -> list[tuple[Window, Usage]]:
        windows = self.windows(principal, plan, 0)
        return list(zip(windows, await self._store.peek(windows, now=self._clock()), strict=True))

    async def headers(self, principal: Principal, plan: PlanRow) -> dict[str, str]:
        pairs = await self.usage(principal, plan)
        return _headers([w for w, _ in pairs], [u for _, u in pairs])


def _refusal(windows: list[Window], admission: Admission, headers: dict[str, str]) -> RateLimited:
    if admission.failed == len(windows):
        error: RateLimited = ConcurrencyLimitExceeded(retry_after=1)
    else:
        index = admission.failed or 0
        window, used = windows[index], admission.usage[index]
        scope = "this key's" if window.key.startswith("k:") else "your"
        period = dict((s, p) for p, s in PERIODS)[window.seconds]
        if window.key.split(":")[-2] == "t":
            if math.isinf(used.retry_after):
                error = TokenLimitExceeded(
                    f"this request may use up to {window.amount} tokens, more than {scope} limit of "
                    f"{window.limit} tokens per {period}; lower max_tokens or the prompt",
                    retry_after=1,
                )
                error.headers["x-should-retry"] = "false"
            else:
                error = TokenLimitExceeded(
                    f"{scope} limit of {window.limit} tokens per {period} is reached",
                    retry_after=math.ceil(used.retry_after),
                )
        else:
            error = RateLimited(
                f"{scope} limit of {window.limit} requests per {period} is reached",
                retry_after=math.ceil(used.retry_after),
            )
    error.headers.update(headers)
    return error
