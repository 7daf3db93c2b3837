"""What a request costs: prices per token, the cost of actual usage, and the most a request
can cost (its hold). All arithmetic is exact Decimal, rounded once by `round_up`."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext

from gateway.services.billing.money import Nanos, round_up

# Enough digits that token counts × per-token prices never round before the final rule.
_PRECISION = 60
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Price:
    """Credits per token (and per request), already including the markup."""

    prompt: Decimal
    completion: Decimal
    request: Decimal = _ZERO
    cache_read: Decimal | None = None

    @property
    def is_free(self) -> bool:
        return not (self.prompt or self.completion or self.request or self.cache_read)

    def marked_up(self, markup: Decimal) -> Price:
        with localcontext() as ctx:
            ctx.prec = _PRECISION
            cache_read = None if self.cache_read is None else self.cache_read * markup
            return Price(
                prompt=self.prompt * markup,
                completion=self.completion * markup,
                request=self.request * markup,
                cache_read=cache_read,
            )


@dataclass(frozen=True, slots=True)
class TokenUsage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0


def cost_of(price: Price, usage: TokenUsage) -> Nanos:
    """Actual cost: cached prompt tokens at the cache-read price when the model has one."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        cached = 0
        exact = price.request + usage.completion_tokens * price.completion
        if price.cache_read is not None:
            cached = max(0, min(usage.cached_tokens, usage.prompt_tokens))
            exact += cached * price.cache_read
        exact += (usage.prompt_tokens - cached) * price.prompt
        return round_up(exact)


def max_cost(price: Price, *, prompt_bound: int, output_cap: int, n: int) -> Nanos:
    """The hold: prompt upper bound plus the output cap for each of the n choices."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return round_up(price.request + prompt_bound * price.prompt + n * output_cap * price.completion)


def affordable_output(price: Price, *, available: Nanos, prompt_bound: int, n: int) -> int | None:
    """The most output tokens per choice that `available` pays for next to the prompt.

    0 means not even one output token is affordable; None means output is free (no cap).
    """
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        budget = Decimal(available).scaleb(-9) - price.request - prompt_bound * price.prompt
        if price.completion <= 0:
            return None if budget >= 0 else 0
        per_token = n * price.completion
        if budget < per_token:
            return 0
        return int(budget // per_token)
