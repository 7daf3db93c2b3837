"""Credits bought through Stripe Checkout, on every backend: what a paid session grants (what
Stripe collected, less the fee — never what metadata or the client says), sessions paid later,
refunds (by the increase of `amount_refunded`) and disputes taking the credits back without
taking a balance below zero. After each scenario Σ ledger = credits + reserved.

Events are signed with the SDK's own signer; Stripe's API is faked with respx."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tests.conformance.helpers import balanced_credits
from tests.stripe_support import (
    STRIPE_SETTINGS,
    StripeMock,
    buy,
    charge_refunded,
    checkout_completed,
    deliver,
    dispute,
    event,
    stripe_mock,
)
from tests.support import ADMIN, Gateway, bearer, json_decimal

Gateways = Callable[..., AbstractAsyncContextManager[Gateway]]
SETTINGS: dict[str, Any] = {**STRIPE_SETTINGS, "topup_fee_rate": "0.05"}
NANOS = 10**9


# --- shared by the payment conformance tests ------------------------------------------------


async def sent(gateway: Gateway, document: dict[str, Any], outcome: str = "applied") -> None:
    """Deliver a signed event and check the webhook's answer."""
    response = await deliver(gateway, document)
    assert response.status_code == 200, response.text
    assert response.json() == {"received": True, "outcome": outcome}, document["type"]


async def history(gateway: Gateway) -> dict[str, dict[str, Any]]:
    """GET /admin/payments, every event by id (numbers read exactly)."""
    response = await gateway.client.get("/admin/payments", params={"limit": 100}, headers=ADMIN)
    assert response.status_code == 200, response.text
    return {entry["id"]: entry for entry in json_decimal(response)["data"]}


@dataclass(frozen=True)
class TopUp:
    """A top-up Checkout the gateway opened: its session, the user's Stripe customer, cents."""

    session: str
    customer: str
    cents: int

    @property
    def payment_intent(self) -> str:
        return f"pi_{self.session}"

    def completed(self, **fields: Any) -> dict[str, Any]:
        """Its `checkout.session.completed` (paid unless told otherwise)."""
        return event(
            "checkout.session.completed",
            checkout_completed(self.session, self.customer, cents=self.cents, payment_intent=self.payment_intent,
                               **fields),
        )  # fmt: skip


async def open_topup(gateway: Gateway, stripe: StripeMock, account: dict[str, Any], usd: str, **body: Any) -> TopUp:
    bought = await buy(gateway, account["api_key"], kind="credits", amount_usd=usd, **body)
    customer = stripe.sent("/v1/checkout/sessions")[-1]["customer"]
    return TopUp(bought["session_id"], customer, int(Decimal(usd) * 100))


async def paid_topup(gateway: Gateway, stripe: StripeMock, account: dict[str, Any], usd: str) -> TopUp:
    topup = await open_topup(gateway, stripe, account, usd)
    await sent(gateway, topup.completed())
    return topup


@asynccontextmanager
async def opened_topup(
    gateway: Gateway, usd: str, *, paid: bool = False
) -> AsyncIterator[tuple[dict[str, Any], TopUp]]:
    """A new customer without credits and a top-up Checkout of `usd` the gateway opened for
    them (its completion delivered when `paid`), with Stripe faked for the block."""
    account = await gateway.customer("0")
    with stripe_mock() as stripe:
        topup = await (paid_topup if paid else open_topup)(gateway, stripe, account, usd)
        yield account, topup


def refund(topup: TopUp, refunded_cents: int) -> dict[str, Any]:
    return event(
        "charge.refunded",
        charge_refunded(f"ch_{topup.session}", topup.payment_intent, cents=topup.cents, refunded=refunded_cents),
    )


def disputed(topup: TopUp, event_type: str, status: str, dispute_id: str = "dp_1") -> dict[str, Any]:
    return event(event_type, dispute(dispute_id, topup.payment_intent, status=status, cents=topup.cents))


# --- paid sessions ---------------------------------------------------------------------------


async def test_a_paid_checkout_grants_what_stripe_collected_less_the_fee_once(gateways: Gateways) -> None:
    async with gateways(**SETTINGS) as gateway:
        buyer = await gateway.customer("0", email="buyer@example.com")
        other = await gateway.customer("0", email="other@example.com")
        with stripe_mock() as stripe:
            topup = await open_topup(gateway, stripe, buyer, "12.34")
            # Metadata and client_reference_id are the client's to influence: they change nothing.
            completed = topup.completed(
                user_id=other["user_id"], metadata={"kind": "credits", "credits": "1000000", "amount_usd": "10000"}
            )
            await sent(gateway, completed)
            await sent(gateway, completed, "duplicate")  # a replay (same event id)
            again = topup.completed()  # another event for the same session
            await sent(gateway, again, "ignored")
        assert await balanced_credits(gateway, buyer) == Decimal("11.723")  # $12.34 × 0.95
        assert await balanced_credits(gateway, other) == 0
        entries = await history(gateway)
        assert set(entries) == {completed["id"], again["id"]}  # each event stored once
        entry = entries[completed["id"]]
        assert entry["type"] == "checkout.session.completed" and entry["user_id"] == buyer["user_id"]
        assert entry["amount"] == Decimal("11.723") and entry["shortfall"] == 0 and entry["outcome"] == "applied"
        assert entry["created_at"] == completed["created"] and entry["received_at"] >= entry["created_at"]
        assert entries[again["id"]]["outcome"] == "ignored" and entries[again["id"]]["amount"] == 0
        transactions = (await gateway.client.get("/user/transactions", headers=bearer(buyer["api_key"]))).json()
        (row,) = [t for t in transactions["data"] if t["kind"] == "stripe_topup"]
        assert Decimal(str(row["amount"])) == Decimal("11.723")


async def test_sessions_the_gateway_did_not_open_or_that_collected_nothing_grant_nothing(gateways: Gateways) -> None:
    async with gateways(**SETTINGS) as gateway:
        async with opened_topup(gateway, "10") as (account, topup):
            unknown = event(
                "checkout.session.completed",
                checkout_completed("cs_elsewhere", "cus_elsewhere", cents=100_000, payment_intent="pi_elsewhere",
                                   user_id=account["user_id"], metadata={"credits": "1000000"}),
            )  # fmt: skip
            await sent(gateway, unknown, "ignored")
            euros = topup.completed()
            euros["data"]["object"]["currency"] = "eur"
            await sent(gateway, euros, "ignored")
        assert await balanced_credits(gateway, account) == 0
        entries = await history(gateway)
        assert entries[unknown["id"]]["outcome"] == "ignored" and entries[unknown["id"]]["user_id"] is None


async def test_an_unpaid_session_is_granted_once_when_its_payment_succeeds(gateways: Gateways) -> None:
    async with gateways(**SETTINGS) as gateway:
        async with opened_topup(gateway, "20") as (account, topup):
            await sent(gateway, topup.completed(paid=False), "ignored")
            assert await balanced_credits(gateway, account) == 0
            succeeded = event(
                "checkout.session.async_payment_succeeded",
                checkout_completed(topup.session, topup.customer, cents=2000, payment_intent=topup.payment_intent),
            )
            await sent(gateway, succeeded)
            await sent(gateway, succeeded, "duplicate")
            await sent(gateway, topup.completed(), "ignored")  # the session's other event: granted already
        assert await balanced_credits(gateway, account) == 19


# --- refunds -------------------------------------------------------------------------------


async def test_two_partial_refunds_take_back_their_share_once_each(gateways: Gateways) -> None:
    async with gateways(**SETTINGS) as gateway:
        async with opened_topup(gateway, "10", paid=True) as (account, topup):
            assert await balanced_credits(gateway, account) == Decimal("9.5")
            first = refund(topup, 300)
            await sent(gateway, first)
            await sent(gateway, first, "duplicate")
            assert await balanced_credits(gateway, account) == Decimal("6.65")  # 30% of 9.5 taken back
            second = refund(topup, 1000)  # amount_refunded is cumulative: 300 + 700
            await sent(gateway, second)
            assert await balanced_credits(gateway, account) == 0
            await sent(gateway, refund(topup, 300), "ignored")  # an older state, sent again
            await sent(gateway, refund(topup, 1000), "ignored")
        assert await balanced_credits(gateway, account) == 0
        entries = await history(gateway)
        assert entries[first["id"]]["amount"] == Decimal("-2.85")
        assert entries[second["id"]]["amount"] == Decimal("-6.65")
        assert entries[first["id"]]["shortfall"] == entries[second["id"]]["shortfall"] == 0


async def test_a_refund_beyond_the_balance_stops_at_zero_and_records_the_shortfall(gateways: Gateways) -> None:
    async with gateways(**SETTINGS) as gateway:
        async with opened_topup(gateway, "10", paid=True) as (account, topup):
            await gateway.top_up(account["user_id"], "-9")  # spent meanwhile: 0.5 left
            full = refund(topup, 1000)
            await sent(gateway, full)
        assert await balanced_credits(gateway, account) == 0
        entry = (await history(gateway))[full["id"]]
        assert entry["amount"] == Decimal("-0.5") and entry["shortfall"] == Decimal("9")
        assert entry["detail"] and "9" in entry["detail"]
        async with gateway.runtime.db.read() as tx:
            row = await tx.fetchrow(
                "SELECT amount, shortfall FROM ledger WHERE user_id = $1 AND kind = 'stripe_refund'", account["user_id"]
            )
        assert row is not None and (row["amount"], row["shortfall"]) == (-NANOS // 2, 9 * NANOS)
        transactions = (await gateway.client.get("/user/transactions", headers=bearer(account["api_key"]))).json()
        (shown,) = [t for t in transactions["data"] if t["kind"] == "stripe_refund"]
        assert Decimal(str(shown["amount"])) == Decimal("-0.5") and shown["credits_after"] == 0


# --- disputes ------------------------------------------------------------------------------


async def test_a_lost_dispute_takes_back_once_and_a_won_one_gives_back_what_was_taken(gateways: Gateways) -> None:
    async with gateways(**SETTINGS) as gateway:
        async with opened_topup(gateway, "10", paid=True) as (account, topup):
            await gateway.top_up(account["user_id"], "-2")  # 7.5 left of the 9.5 granted
            withdrawn = disputed(topup, "charge.dispute.funds_withdrawn", "needs_response")
            await sent(gateway, withdrawn)
            await sent(gateway, withdrawn, "duplicate")
            assert await balanced_credits(gateway, account) == 0
            await sent(gateway, disputed(topup, "charge.dispute.closed", "lost"), "ignored")  # taken already
            assert await balanced_credits(gateway, account) == 0
            won = disputed(topup, "charge.dispute.closed", "won")
            await sent(gateway, won)
            assert await balanced_credits(gateway, account) == Decimal("7.5")  # what was taken; the shortfall was not
            await sent(gateway, disputed(topup, "charge.dispute.funds_reinstated", "won"), "ignored")
        assert await balanced_credits(gateway, account) == Decimal("7.5")
        entries = await history(gateway)
        assert (entries[withdrawn["id"]]["amount"], entries[withdrawn["id"]]["shortfall"]) == (Decimal("-7.5"), 2)
        assert (entries[won["id"]]["amount"], entries[won["id"]]["shortfall"]) == (Decimal("7.5"), 0)


async def test_a_dispute_won_without_a_withdrawal_changes_nothing(gateways: Gateways) -> None:
    async with gateways(**SETTINGS) as gateway:
        async with opened_topup(gateway, "10", paid=True) as (account, topup):
            await sent(gateway, disputed(topup, "charge.dispute.closed", "won"), "ignored")
            assert await balanced_credits(gateway, account) == Decimal("9.5")
            await sent(gateway, refund(topup, 400))  # 3.8 back to the customer's card
            lost = disputed(topup, "charge.dispute.closed", "lost", dispute_id="dp_2")
            await sent(gateway, lost)  # takes what the refund left
            assert await balanced_credits(gateway, account) == 0
            await sent(gateway, disputed(topup, "charge.dispute.funds_reinstated", "won", dispute_id="dp_2"))
        assert await balanced_credits(gateway, account) == Decimal("5.7")
        assert (await history(gateway))[lost["id"]]["amount"] == Decimal("-5.7")


async def test_a_refund_that_comes_before_its_payment_applies_when_the_credits_are_granted(gateways: Gateways) -> None:
    """Events come in any order (and reconcile may replay them so): a refund of a payment whose
    credits were not granted yet waits, and takes its share as soon as they are."""
    async with gateways(**SETTINGS) as gateway:
        account = await gateway.customer("0")
        with stripe_mock() as stripe:
            bought = await buy(gateway, account["api_key"], kind="credits", amount_usd="10")
            customer = stripe.sent("/v1/checkout/sessions")[0]["customer"]
        refund = event("charge.refunded", charge_refunded("ch_early", "pi_early", cents=1000, refunded=400))
        await sent(gateway, refund, "deferred")
        assert await balanced_credits(gateway, account) == 0
        completed = checkout_completed(bought["session_id"], customer, cents=1000, payment_intent="pi_early")
        await sent(gateway, event("checkout.session.completed", completed), "applied")
        assert await balanced_credits(gateway, account) == Decimal("5.7")  # 9.5 granted, 40% of it taken back
        entry = (await history(gateway))[refund["id"]]
        assert entry["outcome"] == "applied" and entry["amount"] == Decimal("-3.8")
