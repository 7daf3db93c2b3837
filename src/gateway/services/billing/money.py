"""Credit amounts: exact integers of nano-credits, and the one rounding rule.

1 credit = 1 USD of the gateway's price list = 1,000,000,000 nano-credits. Balances,
reservations, charges and ledger rows are whole nano-credits (`Nanos`); prices per token are
exact `Decimal`s. The rounding rule: a request's cost (or hold) is computed exactly
in Decimal, then rounded **up** to the next whole nano-credit, once per request.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import NewType

import orjson

from gateway.bounds import MAX_CREDITS

Nanos = NewType("Nanos", int)

NANOS_PER_CREDIT = 1_000_000_000
_ONE_NANO = Decimal(1).scaleb(-9)
ZERO = Nanos(0)
# The most any credits input, and any balance (credits + reserved), may be.
MAX_NANOS = Nanos(MAX_CREDITS * NANOS_PER_CREDIT)

# Plain decimal text: ASCII digits, an optional sign, point and exponent. Not '1_000' (which
# Decimal would read as 1000), 'NaN', 'Infinity', '0x10' or other scripts' digits.
PLAIN_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def round_up(amount: Decimal) -> Nanos:
    """The rounding rule: exact credits → nano-credits, rounded up (never undercharges)."""
    return Nanos(int((amount * NANOS_PER_CREDIT).to_integral_value(rounding=ROUND_CEILING)))


def round_down(amount: Decimal) -> Nanos:
    """For amounts paid out to a customer (e.g. a top-up net of fees): never overpays."""
    return Nanos(int((amount * NANOS_PER_CREDIT).to_integral_value(rounding=ROUND_FLOOR)))


def plain_decimal(value: object) -> Decimal:
    """A number read exactly from its decimal text: a JSON number (int or Decimal) or a string
    of plain decimal text. Raises ValueError (never another error) for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, str) and PLAIN_DECIMAL.fullmatch(value.strip()):
        amount = Decimal(value.strip())
    elif isinstance(value, str):
        raise ValueError("must be plain decimal text, such as '12.5'")
    else:
        raise ValueError("must be a number, or a string of plain decimal text")
    if not amount.is_finite():
        raise ValueError("must be a finite number")
    return amount


def parse_credits(value: object) -> Nanos:
    """An exact input amount within ±MAX_CREDITS; more than 9 decimals is refused rather than
    rounded. Raises ValueError, with the reason, for anything else."""
    amount = plain_decimal(value)
    # Bounded first, by comparisons (which, unlike abs() or quantize(), never overflow).
    if not -MAX_CREDITS <= amount <= MAX_CREDITS:
        raise ValueError(f"must be between -{MAX_CREDITS} and {MAX_CREDITS} credits")
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
