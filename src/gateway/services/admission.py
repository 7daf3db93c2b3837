"""Everything that can refuse a chat request before it costs anything, in the SPEC's order:
the key's allowlists, the plan's entitlements, every rate-limit window, then the money
(the most the request can cost is held). What passes becomes a `ChatCall`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from gateway.errors import GatewayError
from gateway.services import allowlist, billing, estimate, plans
from gateway.services.allowlist import Caller
from gateway.services.auth import Principal
from gateway.services.catalog import CatalogModel
from gateway.services.chat import ChatCall, ChatContext
from gateway.services.chat_request import ChatRequest
from gateway.services.money import ZERO, Nanos
from gateway.services.pricing import Price, affordable_output, max_cost


async def start_call(
    ctx: ChatContext, *, principal: Principal, request: ChatRequest, request_id: str, caller: Caller
) -> ChatCall:
    await allowlist.guard(ctx.db, ctx.auditor, principal=principal, caller=caller)
    plan = await ctx.plans.get(principal.effective_plan(time.time()))
    plans.check_request(
        plan,
        model=request.model,
        key_models=principal.policy.allowed_models,
        stream=request.stream,
        max_output=request.max_output,
    )
    model = await ctx.catalog.model(request.model)
    price = model.price_with(plan.markup)
    prompt_bound = estimate.prompt_upper_bound(
        body_bytes=len(request.raw), body=request.body, context_length=model.context_length
    )
    output_limit = min(model.output_limit, plan.max_tokens_per_request or model.output_limit)
    tokens = prompt_bound + request.n * (request.max_output or output_limit)
    call = ChatCall(ctx, principal=principal, request=request, model=model, price=price, request_id=request_id)
    call.prompt_bound = prompt_bound
    call.output_cap = request.max_output or output_limit
    call.ticket = await ctx.limiter.admit(principal, plan, tokens=tokens, request_id=request_id)
    try:
        await _reserve(ctx, call, price=price, model=model, output_limit=output_limit)
    except GatewayError as refused:
        await ctx.limiter.finish(call.ticket, actual_tokens=None)  # refused: it counts against nothing
        refused.headers.update(call.rate_headers)
        raise
    except BaseException:
        await ctx.limiter.finish(call.ticket, actual_tokens=None)
        raise
    return call


async def _reserve(ctx: ChatContext, call: ChatCall, *, price: Price, model: CatalogModel, output_limit: int) -> None:
    principal, request, prompt_bound = call.principal, call.request, call.prompt_bound
    if principal.is_test or (price.is_free and not principal.limited_spend):
        return  # test keys are answered by the simulator; free answers hold nothing

    async def hold(amount: Nanos | Callable[[Nanos], Nanos]) -> billing.Hold:
        return await billing.reserve(
            ctx.db,
            user_id=principal.user_id,
            key_id=principal.key_id,
            key_limited=principal.limited_spend,
            instance_id=ctx.instance_id,
            amount=amount,
        )

    if request.max_output is not None:
        # The client's cap is honoured or refused, never lowered.
        call.hold = await hold(_at_least_one(max_cost(price, prompt_bound=prompt_bound,
                                                      output_cap=request.max_output, n=request.n)))  # fmt: skip
        return

    def amount_for(available: Nanos) -> Nanos:
        affordable = affordable_output(price, available=available, prompt_bound=prompt_bound, n=request.n)
        if affordable == 0:
            return ZERO
        cap = output_limit if affordable is None else min(affordable, output_limit)
        call.output_cap = cap
        if cap < model.output_limit or not model.output_limit_known:
            call.injected_cap = cap
        return _at_least_one(max_cost(price, prompt_bound=prompt_bound, output_cap=cap, n=request.n))

    call.hold = await hold(amount_for)


def _at_least_one(amount: Nanos) -> Nanos:
    """A free answer on a key with a spend limit or request cap still holds one nano-credit,
    so that the key's request is counted where its limits live."""
    return Nanos(max(1, amount))
