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

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.db.limits.windows import Admission, Slot, Usage, Window, WindowStore
from gateway.db.plans.plans import PlanRow
from gateway.errors import RateLimited
from gateway.services.keys.authenticate import Principal
from gateway.services.plans.entitlements import effective_limits

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


Spec = tuple[str, int, int, bool]  # counter key, seconds, limit, counts tokens


def _specs(owner: str, limits: dict[str, int | None]) -> list[Spec]:
    found = []
    for dimension in ("requests", "tokens"):
        for period, seconds in PERIODS:
            limit = limits.get(f"{dimension}_per_{period}")
            if limit is not None:
                found.append((f"{owner}:{dimension[0]}:{seconds}", seconds, limit, dimension == "tokens"))
    return found


def is_tokens(window: Window) -> bool:
    return window.tokens


_NAMES = {
    False: ("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"),
    True: ("x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
}


def _headers(windows: list[Window], usage: list[Usage]) -> dict[str, str]:
    """The tightest window (least remaining) of each dimension; a dimension without limits is left out."""
    best: dict[bool, tuple[int, Window, Usage]] = {}
    for window, used in zip(windows, usage, strict=True):
        remaining = window.limit - used.used
        current = best.get(window.tokens)
        if current is None or remaining < current[0]:
            best[window.tokens] = (remaining, window, used)
    headers: dict[str, str] = {}
    for tokens, (remaining, window, used) in best.items():
        limit_name, remaining_name, reset_name = _NAMES[tokens]
        headers[limit_name] = str(window.limit)
        headers[remaining_name] = str(remaining if remaining > 0 else 0)
        headers[reset_name] = duration(used.reset)
    return headers


class RateLimiter:
    def __init__(
        self, store: WindowStore, clock: Callable[[], float] = time.time, *, finish_inline: bool = False
    ) -> None:
        self._store = store
        self._clock = clock
        # Serverless: a process may be frozen as soon as its response is out, and a correction
        # left for later would keep a concurrency slot taken; there, it is made before the end.
        self._finish_inline = finish_inline
        # Which windows apply, worked out once per (cached principal, plan) pair.
        self._specs: dict[str, tuple[Principal, PlanRow, list[Spec]]] = {}
        self._finishing: set[asyncio.Task[None]] = set()

    def windows(self, principal: Principal, plan: PlanRow, tokens: int) -> list[Window]:
        cached = self._specs.get(principal.key_id)
        if cached is None or cached[0] is not principal or cached[1] is not plan:
            specs = _specs(f"u:{principal.user_id}", effective_limits(plan, principal.limit_overrides))
            specs += _specs(f"k:{principal.key_id}", principal.policy.rate_limits)
            if len(self._specs) > 50_000:
                self._specs.clear()
            cached = self._specs[principal.key_id] = (principal, plan, specs)
        return [
            Window(key, seconds, limit, tokens if by_tokens else 1, by_tokens)
            for key, seconds, limit, by_tokens in cached[2]
        ]

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

    async def finish_soon(self, ticket: Ticket, *, actual_tokens: int | None) -> None:
        """`finish`, without making the response wait for a round trip to a shared store."""
        if not self._store.remote or self._finish_inline:
            await self.finish(ticket, actual_tokens=actual_tokens)
            return
        task = asyncio.create_task(self.finish(ticket, actual_tokens=actual_tokens))
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)

    async def drain(self) -> None:
        """Let corrections still on their way reach the store (at shutdown)."""
        if self._finishing:
            await asyncio.gather(*self._finishing, return_exceptions=True)

    async def finish(self, ticket: Ticket, *, actual_tokens: int | None) -> None:
        """The request ended: correct its token windows to `actual_tokens`, or take the whole
        request back (None: it was refused after admission)."""
        if ticket.done or (not ticket.windows and ticket.slot is None):
            return
        ticket.done = True
        corrections = []
        for window, bucket in zip(ticket.windows, ticket.buckets, strict=True):
            tokens = is_tokens(window)
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
        if is_tokens(window):
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
