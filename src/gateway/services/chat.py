"""One chat completion after admission: forward → settle.

`admission.start_call` does everything that can refuse a request before it costs anything;
the `ChatCall` it returns forwards the request and guarantees its hold (and its rate-limit
ticket) ends exactly once: settled for what was used, or released in full when the
upstream failed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

from gateway.db.database import Database
from gateway.db.ledger import Balance
from gateway.db.usage import UsageRow
from gateway.errors import GatewayError, UpstreamError, UpstreamTimeout
from gateway.services import billing, estimate, lenient_json
from gateway.services.audit import Auditor
from gateway.services.auth import Principal
from gateway.services.billing import Hold, PendingReleases, Settlement
from gateway.services.catalog import CatalogModel, CatalogService
from gateway.services.chat_request import ChatRequest
from gateway.services.chat_usage import client_usage, usage_from
from gateway.services.ids import new_id
from gateway.services.money import ZERO
from gateway.services.plans import PlanBook
from gateway.services.pricing import Price, TokenUsage, cost_of
from gateway.services.ratelimit import RateLimiter, Ticket
from gateway.services.streaming import relay_stream
from gateway.services.upstream_errors import error_for_status
from gateway.upstream.base import StreamBroken, Upstream, UpstreamReply

_ERROR_BODY_LIMIT = 64 * 1024
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ChatContext:
    """What every call needs, created once at start-up."""

    db: Database
    catalog: CatalogService
    upstream: Upstream
    simulator: Upstream
    instance_id: str
    plans: PlanBook
    limiter: RateLimiter
    auditor: Auditor
    releases: PendingReleases  # holds whose call could not write its end, released later


class ChatCall:
    def __init__(
        self,
        ctx: ChatContext,
        *,
        principal: Principal,
        request: ChatRequest,
        model: CatalogModel,
        price: Price,
        request_id: str,
    ) -> None:
        self.ctx = ctx
        self.price = price
        self.principal = principal
        self.request = request
        self.model = model
        self.request_id = request_id
        self.call_id = new_id("call")
        self.prompt_bound = 0
        self.output_cap = model.output_limit  # the most output tokens per choice it may produce
        self.hold: Hold | None = None
        self.injected_cap: int | None = None
        self.ticket: Ticket | None = None
        self.started = time.monotonic()
        self._ended = False

    @property
    def upstream(self) -> Upstream:
        return self.ctx.simulator if self.principal.is_test else self.ctx.upstream

    def forward_body(self) -> bytes:
        request = self.request
        if not request.stream and self.injected_cap is None:
            return request.raw
        body = dict(request.body)
        if self.injected_cap is not None:
            body["max_tokens"] = self.injected_cap
        if request.stream:
            body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
        return orjson.dumps(body)

    async def send(self) -> UpstreamReply:
        """Forward; an upstream refusal ends the call (nothing charged) and is raised mapped."""
        try:
            reply = await self.upstream.chat(self.forward_body())
        except GatewayError as exc:
            await self.fail("timeout" if isinstance(exc, UpstreamTimeout) else "unreachable")
            raise
        except BaseException:
            await self.fail("aborted")
            raise
        if reply.status >= 300:
            try:
                body = await reply.read(_ERROR_BODY_LIMIT)
            except StreamBroken:
                body = b""
            finally:
                reply.close()
            await self.fail(f"upstream_{reply.status}")
            raise error_for_status(reply.status, body, reply.retry_after)
        return reply

    async def complete(self, reply: UpstreamReply) -> bytes:
        """A whole (non-streamed) answer: settle, then return the body with `usage.cost`."""
        try:
            raw = await reply.read()
        except StreamBroken as exc:
            await self.fail(exc.reason)
            raise (UpstreamTimeout() if exc.reason == "timeout" else UpstreamError()) from None
        except BaseException:
            await self.fail("aborted")
            raise
        finally:
            reply.close()
        document = lenient_json.loads_object(raw)
        if document is None:
            await self.fail("unreadable")
            raise UpstreamError("the upstream provider sent an unreadable answer; nothing was charged") from None
        reported = usage_from(document.get("usage"))
        if reported is None:
            delivered = estimate.completion_tokens_of_choices(document.get("choices"), "message")
            settlement = await self.settle_delivered(delivered, outcome="completed")
            reported_doc = self.estimated_usage(delivered)
        else:
            settlement = await self.settle(reported, outcome="completed", source="upstream")
            reported_doc = document["usage"]
        document["usage"] = client_usage(reported_doc, settlement.charged)
        return orjson.dumps(document)  # NaN and the like come back as sent (see lenient_json)

    def relay(self, reply: UpstreamReply) -> AsyncGenerator[bytes]:
        return relay_stream(self, reply)

    # --- ending the call ------------------------------------------------------------------

    @property
    def rate_headers(self) -> dict[str, str]:
        return self.ticket.headers if self.ticket else {}

    async def settle(self, usage: TokenUsage, *, outcome: str, source: str) -> Settlement:
        cost = ZERO if self.principal.is_test else cost_of(self.price, usage)
        record = self._record(outcome, usage, source, cost=cost)
        hold, db = self.hold, self.ctx.db

        async def write() -> Settlement:
            if hold is None:
                await billing.record_free(db, record=record)
                return Settlement(ZERO, ZERO, Balance(0, 0))
            return await billing.settle(db, hold=hold, cost=cost, record=record)

        settlement = await self._end(write)
        await self._end_ticket(usage.prompt_tokens + usage.completion_tokens)
        return settlement

    async def _end(self, write: Callable[[], Awaitable[T]]) -> T:
        """The one way a call ends, exactly once: its settlement (or release) commits — or,
        should it fail even after its retries, the hold goes to the release queue, which
        keeps trying. Either way no hold outlives its call. Shielded: a client that goes
        away must not stop the books from being written."""
        if self._ended:
            raise RuntimeError("this call has already ended")
        try:
            result = await asyncio.shield(write())
        except BaseException:
            self._ended = True
            if self.hold is not None:
                self.ctx.releases.hand_over(self.hold)
            raise
        self._ended = True
        return result

    async def _end_ticket(self, tokens: int | None) -> None:
        # Not shielded: cancelled only at shutdown, when a token estimate left counted (or a
        # concurrency slot, which expires) costs the customer nothing.
        if self.ticket is not None:
            await self.ctx.limiter.finish_soon(self.ticket, actual_tokens=tokens)

    async def settle_delivered(self, completion_tokens: int, *, outcome: str) -> Settlement:
        """Bill by the delivered-usage rule (see `estimate`) when the upstream reported none."""
        return await self.settle(self._delivered(completion_tokens), outcome=outcome, source="estimated")

    def estimated_usage(self, completion_tokens: int) -> dict[str, Any]:
        usage = self._delivered(completion_tokens)
        return {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        }

    def _delivered(self, completion_tokens: int) -> TokenUsage:
        """The delivered-usage estimate, never more than the request could produce — so never
        more than its hold (prompt bound + output cap times n)."""
        prompt = estimate.estimated_prompt_tokens(body_bytes=len(self.request.raw), upper_bound=self.prompt_bound)
        return TokenUsage(prompt, min(completion_tokens, self.output_cap * self.request.n))

    async def fail(self, outcome: str) -> None:
        """Nothing usable reached the client: release the whole hold, charge nothing."""
        if self._ended:
            return
        record = self._record(outcome, TokenUsage(0, 0), "none")
        hold, db = self.hold, self.ctx.db

        async def write() -> None:
            if hold is None:
                await billing.record_free(db, record=record)
            else:
                await billing.cancel(db, hold=hold, record=record)

        await self._end(write)
        await self._end_ticket(0)  # forwarded, so it counts as a request, with no tokens

    @property
    def ended(self) -> bool:
        return self._ended

    def _record(self, outcome: str, usage: TokenUsage, source: str, *, cost: int = 0) -> UsageRow:
        principal = self.principal
        return UsageRow(
            id=self.hold.id if self.hold else self.call_id,
            request_id=self.request_id,
            user_id=principal.user_id,
            key_id=principal.key_id,
            environment=principal.environment,
            model=self.model.id,
            stream=self.request.stream,
            outcome=outcome,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            usage_source=source,
            reserved=self.hold.amount if self.hold else 0,
            cost=cost,
            written_off=0,
            duration_ms=int((time.monotonic() - self.started) * 1000),
            created_at=time.time(),
        )
