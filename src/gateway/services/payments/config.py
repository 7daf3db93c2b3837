"""What payments need of the running gateway: Stripe's API, and the settings that shape what
a payment buys."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from gateway.errors import InvalidRequest
from gateway.services.billing.money import Nanos, round_down
from gateway.services.payments.stripe_api import StripeApi

CENTS_PER_USD = 100
MIN_USD, MAX_USD = Decimal(5), Decimal(10_000)  # what one top-up may be


def cents_of(amount_usd: Decimal) -> int:
    """Dollars as whole cents, within what a top-up may be."""
    if not MIN_USD <= amount_usd <= MAX_USD:
        raise InvalidRequest(f"'amount_usd' must be between {MIN_USD} and {MAX_USD} (USD)", param="amount_usd")
    cents = amount_usd * CENTS_PER_USD
    if cents != cents.to_integral_value():
        raise InvalidRequest("'amount_usd' must be whole cents (at most 2 decimals)", param="amount_usd")
    return int(cents)


def usd(cents: int) -> Decimal:
    return Decimal(cents) / CENTS_PER_USD


@dataclass(frozen=True, slots=True)
class Payments:
    api: StripeApi
    webhook_secret: str | None
    fee_rate: Decimal  # the share of a top-up kept as a fee
    public_base_url: str  # where Checkout sends the customer back

    def credits_for(self, amount_cents: int) -> Nanos:
        """Credits a payment buys: what Stripe collected (USD) less the fee, never rounded up."""
        return round_down(Decimal(amount_cents) / CENTS_PER_USD * (1 - self.fee_rate))
