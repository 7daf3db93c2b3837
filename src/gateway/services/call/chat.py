"""One chat completion, as the SPEC's gateway call — in this order:

1. authenticate the key (cached; revocation still immediate), its expiry, then where it is
   used from (IP, domain) — the request body is read between the two;
2. check the plan: model allowed, `max_tokens` within the plan, features (`admission.quote`);
3. check and count every rate-limit window at once (`limits.RateLimiter.admit`);
4. hold the most the request can cost, or refuse with 402 (`admission.hold_credits`);
5. forward to the upstream (test keys: the simulator), streams asking for usage;
6. settle: charge actual usage (or what was delivered) and release the rest; release it
   all when the upstream failed (`ending.CallEnd`, where a hold ends exactly once);
7. answer with the upstream's body, a `usage.cost` the client can reconcile, and the
   rate-limit headers (`relay` for streams).

Every refusal after step 1 carries the rate-limit headers too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import orjson

from gateway.errors import GatewayError, UpstreamError, UpstreamTimeout
from gateway.services.billing import estimate
from gateway.services.call import admission, lenient_json
from gateway.services.call.admission import Budget
from gateway.services.call.context import CallContext
from gateway.services.call.ending import CallEnd
from gateway.services.call.relay import RelayedStream
from gateway.services.call.request import ChatRequest, parse_chat_request
from gateway.services.call.upstream_errors import error_for_status
from gateway.services.call.usage import client_usage, usage_from
from gateway.services.keys import allowlist
from gateway.services.keys.allowlist import Caller
from gateway.services.keys.authenticate import Principal
from gateway.services.limits.rate_limiter import Ticket
from gateway.services.operations.access import RequestNote
from gateway.upstream.base import StreamBroken, Upstream, UpstreamReply

_ERROR_BODY_LIMIT = 64 * 1024


@dataclass(frozen=True, slots=True)
class Answer:
    """What the client gets: a whole JSON body, or SSE events as they come."""

    rate_headers: dict[str, str]
    body: bytes = b""
    events: RelayedStream | None = None


async def chat_completion(
    ctx: CallContext,
    *,
    authorization: str | None,
    raw: bytes,
    request_id: str,
    caller: Callable[[], Caller],
    note: RequestNote | None = None,
) -> Answer:
    """The call. `caller` tells where the request comes from, asked only of keys that need it;
    `note` learns who called, the model, and (at the end) tokens and cost, for the access line."""
    principal = await ctx.auth.authenticate(authorization)  # 1
    if note is not None:
        note.identify(user_id=principal.user_id, key=principal.mask)
    ticket: Ticket | None = None
    try:
        request = parse_chat_request(raw)
        await allowlist.guard(ctx.db, ctx.auditor, principal=principal, caller=caller)  # 1
        quote = await admission.quote(ctx, principal, request)  # 2
        if note is not None:
            note.model = quote.model.id  # the catalog's id, not whatever the client sent
        ticket = await ctx.limiter.admit(principal, quote.plan, tokens=quote.tokens, request_id=request_id)  # 3
        budget = await _hold_or_take_back(ctx, principal, request, quote, ticket)  # 4
        books = CallEnd(
            ctx, principal=principal, request=request, quote=quote, budget=budget, ticket=ticket,
            request_id=request_id, note=note,
        )  # fmt: skip
        reply = await _forward(ctx, books, request, budget)  # 5
        if request.stream and reply.content_type.startswith("text/event-stream"):
            return Answer(ticket.headers, events=RelayedStream(books, reply))  # 6 and 7, as it streams
        return Answer(ticket.headers, body=await _whole_answer(books, reply))  # 6, then 7
    except GatewayError as refused:
        await _stamp_rate_headers(ctx, refused, principal, ticket)
        raise


async def _hold_or_take_back(
    ctx: CallContext, principal: Principal, request: ChatRequest, quote: admission.Quote, ticket: Ticket
) -> Budget:
    try:
        return await admission.hold_credits(ctx, principal, request, quote)
    except BaseException:
        await ctx.limiter.finish(ticket, actual_tokens=None)  # refused: it counts against nothing
        raise


def _forward_body(request: ChatRequest, budget: Budget) -> bytes:
    """The client's body as it came — unless the gateway must cap the output or, for a
    stream, ask for usage (which `relay` hides from a client that did not)."""
    if not request.stream and budget.injected_cap is None:
        return request.raw
    body = dict(request.body)
    if budget.injected_cap is not None:
        body["max_tokens"] = budget.injected_cap
    if request.stream:
        body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
    return orjson.dumps(body)


async def _forward(ctx: CallContext, books: CallEnd, request: ChatRequest, budget: Budget) -> UpstreamReply:
    """Step 5. An upstream refusal ends the call (nothing charged) and is raised, mapped."""
    upstream: Upstream = ctx.simulator if books.principal.is_test else ctx.upstream
    books.forwarding()
    try:
        reply = await upstream.chat(_forward_body(request, budget))
    except GatewayError as exc:
        await books.release("timeout" if isinstance(exc, UpstreamTimeout) else "unreachable")
        raise
    except BaseException:
        await books.release("aborted")
        raise
    if reply.status >= 300:
        try:
            body = await reply.read(_ERROR_BODY_LIMIT)
        except StreamBroken:
            body = b""
        finally:
            reply.close()
        await books.release(f"upstream_{reply.status}")
        raise error_for_status(reply.status, body, reply.retry_after)
    return reply


async def _whole_answer(books: CallEnd, reply: UpstreamReply) -> bytes:
    """Steps 6 and 7 for a whole answer: settle, then the body with `usage.cost`."""
    try:
        raw = await reply.read()
    except StreamBroken as exc:
        await books.release(exc.reason)
        raise (UpstreamTimeout() if exc.reason == "timeout" else UpstreamError()) from None
    except BaseException:
        await books.release("aborted")
        raise
    finally:
        reply.close()
    document = lenient_json.loads_object(raw)
    if document is None:
        await books.release("unreadable")
        raise UpstreamError("the upstream provider sent an unreadable answer; nothing was charged")
    reported = usage_from(document.get("usage"))
    if reported is None:
        delivered = estimate.completion_tokens_of_choices(document.get("choices"), "message")
        settlement = await books.settle_delivered(delivered, outcome="completed")
        shown = books.estimated_usage(delivered)
    else:
        settlement = await books.settle(reported, outcome="completed", source="upstream")
        shown = document["usage"]
    document["usage"] = client_usage(shown, settlement.charged)
    return orjson.dumps(document)  # NaN and the like come back as sent (see lenient_json)


async def _stamp_rate_headers(
    ctx: CallContext, error: GatewayError, principal: Principal, ticket: Ticket | None
) -> None:
    """Every answer to an authenticated call carries the rate-limit headers, refusals too."""
    if any(name.startswith("x-ratelimit-") for name in error.headers):
        return
    if ticket is not None:
        error.headers.update(ticket.headers)
        return
    error.headers.update(await ctx.limiter.headers(principal, await ctx.plans.of(principal)))
