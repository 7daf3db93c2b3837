"""Payment events that race or come late, on every backend: a refund delivered at the same
time as its payment's grant, the first two events of a subscription delivered together, a
dispute's withdrawal delivered after it was won, and a refund's share computed exactly
(integers, never a float)."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from tests.conformance.helpers import balanced_credits
from tests.conformance.test_payments_plans import DAY, plan_of, subscriber
from tests.conformance.test_payments_topups import (
    SETTINGS,
    Gateways,
    disputed,
    open_topup,
    paid_topup,
    refund,
    sent,
)
from tests.stripe_support import deliver, event, invoice_paid, stripe_mock, subscription

ROUNDS = 20


async def test_a_refund_racing_its_payments_grant_is_never_lost(gateways: Gateways) -> None:
    """The grant applies the refunds that waited for it, and a refund waits when it finds no
    payment: the two must not miss each other (they did on PostgreSQL before both took the
    payment's lock)."""
    async with gateways(**SETTINGS) as gateway:
        account = await gateway.customer("0")
        with stripe_mock() as stripe:
            topups = [await open_topup(gateway, stripe, account, "10") for _ in range(ROUNDS)]
        for topup in topups:
            answers = await asyncio.gather(deliver(gateway, topup.completed()), deliver(gateway, refund(topup, 400)))
            assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        # each: 9.5 granted, 40% of it taken back
        assert await balanced_credits(gateway, account) == Decimal("5.7") * ROUNDS


async def test_a_subscription_ended_while_its_first_update_is_applied_stays_ended(gateways: Gateways) -> None:
    """Two first events of one subscription (no row yet): the older update must not write over
    the deletion, or the subscription's next invoice would put the user back on its plan."""
    async with gateways(**SETTINGS) as gateway:
        account, customer, _ = await subscriber(gateway)
        start, t0 = int(time.time()) - 60, int(time.time()) - 1000
        end = start + 30 * DAY
        for round_ in range(ROUNDS):
            sub = f"sub_race_{round_}"
            updated = event("customer.subscription.updated", subscription(sub, customer, price="price_starter",
                            period_end=end), created=t0)  # fmt: skip
            deleted = event("customer.subscription.deleted", subscription(sub, customer, price="price_starter",
                            status="canceled", period_end=end), created=t0 + 10)  # fmt: skip
            answers = await asyncio.gather(deliver(gateway, updated), deliver(gateway, deleted))
            assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
            invoice = invoice_paid(f"in_race_{round_}", customer, sub, price="price_starter", start=start, end=end)
            await sent(gateway, event("invoice.paid", invoice, created=t0 + 20), "ignored")
        assert (await plan_of(gateway, account))[0] == "free"


async def test_a_withdrawal_delivered_after_its_dispute_was_won_takes_nothing(gateways: Gateways) -> None:
    async with gateways(**SETTINGS) as gateway:
        account = await gateway.customer("0")
        with stripe_mock() as stripe:
            topup = await paid_topup(gateway, stripe, account, "10")
        await sent(gateway, disputed(topup, "charge.dispute.closed", "won"), "ignored")
        await sent(gateway, disputed(topup, "charge.dispute.funds_withdrawn", "needs_response"), "ignored")
        assert await balanced_credits(gateway, account) == Decimal("9.5")


async def test_a_refunds_share_is_rounded_up_exactly(gateways: Gateways) -> None:
    """$950.75 at a fee of 0.123456789 buys 833.373457858 credits; refunding $342.19 of it
    takes back ceil(833373457858 * 34219 / 95075) = 299944321373 nano-credits (a float gives
    one less)."""
    async with gateways(**{**SETTINGS, "topup_fee_rate": "0.123456789"}) as gateway:
        account = await gateway.customer("0")
        with stripe_mock() as stripe:
            topup = await paid_topup(gateway, stripe, account, "950.75")
        assert await balanced_credits(gateway, account) == Decimal("833.373457858")
        await sent(gateway, refund(topup, 34219))
        assert await balanced_credits(gateway, account) == Decimal("833.373457858") - Decimal("299.944321373")
