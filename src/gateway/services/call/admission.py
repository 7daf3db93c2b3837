"""Steps 2 and 4 of the gateway call: what the plan allows a request and what it costs
(`Quote`), then the hold of the most it can cost (`Budget`). Each returns a value the call
keeps; nothing here changes the call from outside.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gateway.db.plans.plans import PlanRow
from gateway.services.billing import estimate
from gateway.services.billing import holds as billing
from gateway.services.billing.holds import Hold
from gateway.services.billing.money import ZERO, Nanos
from gateway.services.billing.pricing import Price, affordable_output, max_cost
from gateway.services.call.context import CallContext
from gateway.services.call.request import ChatRequest
from gateway.services.catalog.entries import CatalogModel
from gateway.services.keys.authenticate import Principal
from gateway.services.plans import entitlements


@dataclass(frozen=True, slots=True)
class Quote:
    """What the plan allows this request, and what it costs per token."""

    plan: PlanRow
    model: CatalogModel
    price: Price
    prompt_bound: int  # the most prompt tokens it can have (see `estimate`)
    output_limit: int  # the most output tokens per choice the model and the plan allow
    tokens: int  # the most tokens it can use: what its token windows count up front


@dataclass(frozen=True, slots=True)
class Budget:
    """What the request may spend: its hold (None when it holds nothing), and the output
    tokens per choice that hold pays for."""

    hold: Hold | None
    output_cap: int
    injected_cap: int | None = None  # sent upstream as `max_tokens` when the client gave none


async def quote(ctx: CallContext, principal: Principal, request: ChatRequest) -> Quote:
    """Step 2: the plan's (and the key's) entitlements, then the model's price."""
    plan = await ctx.plans.of(principal)
    entitlements.check_request(
        plan,
        model=request.model,
        key_models=principal.policy.allowed_models,
        stream=request.stream,
        max_output=request.max_output,
    )
    model = await ctx.catalog.model(request.model)
    prompt_bound = estimate.prompt_upper_bound(
        body_bytes=len(request.raw), body=request.body, context_length=model.context_length
    )
    output_limit = min(model.output_limit, plan.max_tokens_per_request or model.output_limit)
    return Quote(
        plan=plan,
        model=model,
        price=model.price_with(plan.markup),
        prompt_bound=prompt_bound,
        output_limit=output_limit,
        tokens=prompt_bound + request.n * (request.max_output or output_limit),
    )


async def hold_credits(ctx: CallContext, principal: Principal, request: ChatRequest, quote: Quote) -> Budget:
    """Step 4: hold the most the request can cost. A client's `max_tokens` is honoured or
    refused (402), never lowered; without one, the output is capped at what the balance pays
    for (and the model's limit), and that cap is sent upstream."""
    price, prompt_bound, output_limit = quote.price, quote.prompt_bound, quote.output_limit
    if principal.is_test or (price.is_free and not principal.limited_spend):
        # Test keys are answered by the simulator; free answers hold nothing.
        return Budget(hold=None, output_cap=request.max_output or output_limit)

    async def place(amount: Nanos | Callable[[Nanos], Nanos]) -> Hold:
        return await billing.place(
            ctx.db,
            user_id=principal.user_id,
            key_id=principal.key_id,
            key_limited=principal.limited_spend,
            instance_id=ctx.instance_id,
            amount=amount,
        )

    if request.max_output is not None:
        amount = max_cost(price, prompt_bound=prompt_bound, output_cap=request.max_output, n=request.n)
        return Budget(hold=await place(_at_least_one(amount)), output_cap=request.max_output)

    cap = output_limit  # what the last amount asked for paid for (it may be asked thrice)

    def amount_for(available: Nanos) -> Nanos:
        nonlocal cap
        affordable = affordable_output(price, available=available, prompt_bound=prompt_bound, n=request.n)
        if affordable == 0:
            return ZERO
        cap = output_limit if affordable is None else min(affordable, output_limit)
        return _at_least_one(max_cost(price, prompt_bound=prompt_bound, output_cap=cap, n=request.n))

    hold = await place(amount_for)
    model = quote.model
    injected = cap if cap < model.output_limit or not model.output_limit_known else None
    return Budget(hold=hold, output_cap=cap, injected_cap=injected)


def _at_least_one(amount: Nanos) -> Nanos:
    """A free answer on a key with a spend limit or request cap still holds one nano-credit,
    so that the key's request is counted where its limits live."""
    return Nanos(max(1, amount))
