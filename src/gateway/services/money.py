"""Credit amounts: exact integers of nano-credits, and the one rounding rule.

1 credit = 1 USD of the gateway's price list = 1,000,000,000 nano-credits. Balances,
reservations, charges and ledger rows are whole nano-credits (`Nanos`); prices per token are
exact `Decimal`s. The rounding rule: a request's cost (or reservation) is computed exactly
in Decimal, then rounded **up** to the next whole nano-credit, once per request.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import NewType

import orjson

Nanos = NewType("Nanos", int)

NANOS_PER_CREDIT = 1_000_000_000
_ONE_NANO = Decimal(1).scaleb(-9)
ZERO = Nanos(0)


def round_up(amount: Decimal) -> Nanos:
    """The rounding rule: exact credits → nano-credits, rounded up (never undercharges)."""
    return Nanos(int((amount * NANOS_PER_CREDIT).to_integral_value(rounding=ROUND_CEILING)))


def round_down(amount: Decimal) -> Nanos:
    """For amounts paid out to a customer (e.g. a top-up net of fees): never overpays."""
    return Nanos(int((amount * NANOS_PER_CREDIT).to_integral_value(rounding=ROUND_FLOOR)))


def parse_credits(value: Decimal | int | str) -> Nanos:
    """An exact input amount; more than 9 decimals is refused rather than rounded."""
    amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    if not amount.is_finite():
        raise ValueError("must be a finite number")
    if amount != amount.quantize(_ONE_NANO):
        raise ValueError("must have at most 9 decimals")
    return Nanos(int(amount * NANOS_PER_CREDIT))


def to_credits(nanos: int) -> Decimal:
    """Nano-credits → credits, exact, without trailing zeros."""
    return Decimal(nanos).scaleb(-9).normalize()


def credits_text(nanos: int) -> str:
    """Plain decimal text with up to 9 decimals and no exponent: '12.5', '0.000052', '0'."""
    return format(to_credits(nanos), "f")


def credits_json(nanos: int) -> orjson.Fragment:
    """A JSON number with the exact decimal text (orjson writes the fragment verbatim)."""
    return orjson.Fragment(credits_text(nanos).encode())
