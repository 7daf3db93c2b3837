"""The end of a call's books, in one place: its hold ends exactly once — settled for what
was used (step 6), or released in full when nothing usable reached the client — together
with its rate-limit ticket and its usage record.

Should the write of that end fail even after the database's retries, the hold goes to the
release queue (`billing.holds.PendingReleases`), which keeps trying: no hold outlives its
call. The write is shielded, so a client that goes away cannot stop the books being written.
Once they are, the call's end is counted (`operations.metrics`) and noted for its access line.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from gateway.ids import new_id
from gateway.services.billing import estimate
from gateway.services.billing import holds as billing
from gateway.services.billing.balances import UsageRow
from gateway.services.billing.holds import NOTHING_HELD, Settlement
from gateway.services.billing.money import ZERO
from gateway.services.billing.pricing import TokenUsage, cost_of
from gateway.services.call.admission import Budget, Quote
from gateway.services.call.context import CallContext
from gateway.services.call.request import ChatRequest
from gateway.services.keys.authenticate import Principal
from gateway.services.limits.rate_limiter import Ticket
from gateway.services.operations import metrics
from gateway.services.operations.access import RequestNote

T = TypeVar("T")


class CallEnd:
    def __init__(
        self,
        ctx: CallContext,
        *,
        principal: Principal,
        request: ChatRequest,
        quote: Quote,
        budget: Budget,
        ticket: Ticket,
        request_id: str,
        note: RequestNote | None = None,
    ) -> None:
        self._ctx = ctx
        self.principal = principal
        self.request = request
        self._quote = quote
        self._budget = budget
        self._ticket = ticket
        self._request_id = request_id
        self._started = time.monotonic()
        self._ended = False
        self._note = note
        self._arrived = note.started if note is not None else time.perf_counter()
        self._forwarded: float | None = None  # perf_counter when the request went upstream

    @property
    def ended(self) -> bool:
        return self._ended

    def forwarding(self) -> None:
        """The request goes upstream now: its upstream time starts."""
        self._forwarded = time.perf_counter()

    def first_piece(self) -> None:
        """A stream's first piece is going to the client."""
        metrics.first_token(time.perf_counter() - self._arrived)

    async def settle(self, usage: TokenUsage, *, outcome: str, source: str) -> Settlement:
        """Charge what `usage` costs (test keys: nothing) and release the rest of the hold."""
        cost = ZERO if self.principal.is_test else cost_of(self._quote.price, usage)
        record = self._record(outcome, usage, source, cost=cost)
        hold, db = self._budget.hold, self._ctx.db

        async def write() -> Settlement:
            if hold is None:
                await billing.record_free(db, record=record)
                return NOTHING_HELD
            return await billing.settle(db, hold=hold, cost=cost, record=record)

        settlement = await self._end(write)
        self._count(outcome, usage, settlement.charged)
        if hold is not None:
            self._ctx.balance_watch.settled(self.principal.user_id, settlement.balance.credits)
        await self._end_ticket(usage.prompt_tokens + usage.completion_tokens)
        return settlement

    async def settle_delivered(self, completion_tokens: int, *, outcome: str) -> Settlement:
        """Bill by the delivered-usage rule (see `estimate`) when the upstream reported none."""
        return await self.settle(self._delivered(completion_tokens), outcome=outcome, source="estimated")

    async def release(self, outcome: str) -> None:
        """Nothing usable reached the client: release the whole hold, charge nothing."""
        if self._ended:
            return
        record = self._record(outcome, TokenUsage(0, 0), "none")
        hold, db = self._budget.hold, self._ctx.db

        async def write() -> None:
            if hold is None:
                await billing.record_free(db, record=record)
            else:
                await billing.release(db, hold=hold, record=record)

        await self._end(write)
        self._count(outcome, TokenUsage(0, 0), ZERO)
        await self._end_ticket(0)  # forwarded, so it counts as a request, with no tokens

    def estimated_usage(self, completion_tokens: int) -> dict[str, Any]:
        """The `usage` shown for an answer billed by the delivered-usage rule."""
        usage = self._delivered(completion_tokens)
        return {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        }

    async def _end(self, write: Callable[[], Awaitable[T]]) -> T:
        """The one way a call's hold ends, exactly once."""
        if self._ended:
            raise RuntimeError("this call has already ended")
        try:
            result = await asyncio.shield(write())
        except BaseException:
            self._ended = True
            if self._budget.hold is not None:
                self._ctx.releases.hand_over(self._budget.hold)
            raise
        self._ended = True
        return result

    def _count(self, outcome: str, usage: TokenUsage, charged: int) -> None:
        upstream = None if self._forwarded is None else time.perf_counter() - self._forwarded
        prompt, completion = usage.prompt_tokens, usage.completion_tokens
        metrics.call_ended(
            model=self._quote.model.id,  # a catalog id: what the quote found
            outcome=outcome,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost=charged,
            upstream_seconds=upstream,
        )
        if self._note is not None:
            self._note.charged(
                prompt_tokens=prompt, completion_tokens=completion, cost=charged, upstream_seconds=upstream
            )

    async def _end_ticket(self, tokens: int) -> None:
        # Not shielded: cancelled only at shutdown, when a token estimate left counted (or a
        # concurrency slot, which expires) costs the customer nothing.
        await self._ctx.limiter.finish_soon(self._ticket, actual_tokens=tokens)

    def _delivered(self, completion_tokens: int) -> TokenUsage:
        """The delivered-usage estimate, never more than the request could produce — so never
        more than its hold (prompt bound + output cap times n)."""
        bound = self._quote.prompt_bound
        prompt = estimate.estimated_prompt_tokens(body_bytes=len(self.request.raw), upper_bound=bound)
        return TokenUsage(prompt, min(completion_tokens, self._budget.output_cap * self.request.n))

    def _record(self, outcome: str, usage: TokenUsage, source: str, *, cost: int = 0) -> UsageRow:
        principal, hold = self.principal, self._budget.hold
        return UsageRow(
            id=hold.id if hold else new_id("call"),
            request_id=self._request_id,
            user_id=principal.user_id,
            key_id=principal.key_id,
            environment=principal.environment,
            model=self._quote.model.id,
            stream=self.request.stream,
            outcome=outcome,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            usage_source=source,
            reserved=hold.amount if hold else 0,
            cost=cost,
            written_off=0,
            duration_ms=int((time.monotonic() - self._started) * 1000),
            created_at=time.time(),
        )
