"""Auto top-up on every backend: a card saved by a top-up Checkout; when settlements take the
credits below the threshold, a background job starts ONE off-session payment (however many
requests cross it, in one gateway or two); its credits come only with `payment_intent.succeeded`;
a decline turns auto top-up off and says why."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from tests.conformance.test_payments_topups import SETTINGS, Gateways, books, open_topup, sent
from tests.stripe_support import StripeMock, event, intent, stripe_mock
from tests.support import Gateway, bearer, json_decimal

REQUESTS = 50
DEADLINE = 5.0


async def eventually(check: Callable[[], Awaitable[object]], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not await check():
        assert time.monotonic() < deadline, f"still not {what} after {DEADLINE}s"
        await asyncio.sleep(0.02)


async def settings_of(gateway: Gateway, account: dict[str, Any]) -> dict[str, Any]:
    response = await gateway.client.get("/user/auto-topup", headers=bearer(account["api_key"]))
    assert response.status_code == 200, response.text
    found: dict[str, Any] = json_decimal(response)
    return found


async def put(gateway: Gateway, account: dict[str, Any], **body: Any) -> Any:
    return await gateway.client.put("/user/auto-topup", json=body, headers=bearer(account["api_key"]))


async def card_on_file(gateway: Gateway, stripe: StripeMock, account: dict[str, Any]) -> str:
    """A $10 top-up bought with save_card: the gateway keeps the card its PaymentIntent used.
    Answers the Stripe customer."""
    topup = await open_topup(gateway, stripe, account, "10", save_card=True)
    await sent(gateway, topup.completed())
    assert [p for m, p, _, _ in stripe.requests if m == "GET"] == [f"/v1/payment_intents/{topup.payment_intent}"]
    found = await settings_of(gateway, account)
    assert found["card_saved"] is True, found
    return topup.customer


async def cost_of_one_call(gateway: Gateway, account: dict[str, Any]) -> Decimal:
    before = await books(gateway, account)
    assert (await gateway.chat(account["api_key"])).status_code == 200
    return before - await books(gateway, account)


async def chats(gateway: Gateway, account: dict[str, Any], count: int) -> None:
    responses = await asyncio.gather(*(gateway.chat(account["api_key"]) for _ in range(count)))
    assert [r.status_code for r in responses] == [200] * count


async def payment_sent(gateway: Gateway, account: dict[str, Any]) -> str | None:
    """The PaymentIntent of the auto top-up in flight, once the gateway stored it."""
    async with gateway.runtime.db.read() as tx:
        found: str | None = await tx.fetchval(
            "SELECT payment_intent FROM auto_topups WHERE user_id = $1", account["user_id"]
        )
    return found


async def enable_below(gateway: Gateway, account: dict[str, Any], calls: int) -> Decimal:
    """Turn auto top-up on ($10 at a time) with the threshold `calls` calls below the balance."""
    threshold = await books(gateway, account) - calls * await cost_of_one_call(gateway, account)
    turned_on = await put(gateway, account, enabled=True, threshold=str(threshold), amount_usd="10")
    assert turned_on.status_code == 200, turned_on.text
    assert json_decimal(turned_on)["enabled"] is True
    return threshold


async def test_auto_topup_needs_a_card_saved_by_a_checkout(gateways: Gateways) -> None:
    async with gateways(**SETTINGS) as gateway:
        account = await gateway.customer("0")
        with stripe_mock() as stripe:
            topup = await open_topup(gateway, stripe, account, "10")  # no save_card
            await sent(gateway, topup.completed())
            refused = await put(gateway, account, enabled=True, threshold="1", amount_usd="10")
            assert refused.status_code == 400, refused.text
            assert refused.json()["error"]["param"] == "enabled"
            assert (await settings_of(gateway, account))["card_saved"] is False
            assert not any(m == "GET" for m, *_ in stripe.requests)  # no card asked for
            await card_on_file(gateway, stripe, account)
            assert (await put(gateway, account, enabled=True, threshold="1", amount_usd="10")).status_code == 200
        assert stripe.sent("/v1/payment_intents") == []  # well above the threshold
        assert await books(gateway, account) == 19


async def test_fifty_requests_crossing_the_threshold_start_one_payment(gateways: Gateways) -> None:
    async with gateways(**SETTINGS) as gateway:
        account = await gateway.customer("0")
        with stripe_mock() as stripe:
            customer = await card_on_file(gateway, stripe, account)
            threshold = await enable_below(gateway, account, 10)
            await chats(gateway, account, REQUESTS)
            below = await books(gateway, account)
            assert below < threshold
            await eventually(lambda: payment_sent(gateway, account), "sent")
            await asyncio.sleep(0.1)  # any late settlement finds the payment in flight
            (charge,) = stripe.sent("/v1/payment_intents")
            attempt = charge["metadata[gateway_auto_topup]"]
            assert charge == {
                "amount": "1000", "currency": "usd", "customer": customer, "payment_method": "pm_card_visa",
                "off_session": "true", "confirm": "true", "metadata[gateway_auto_topup]": attempt,
            }  # fmt: skip
            (headers,) = stripe.headers_of("/v1/payment_intents")
            assert headers["idempotency-key"] == f"gw-auto-topup-{attempt}"
            assert (await settings_of(gateway, account))["payment_in_flight"] is True
            assert await books(gateway, account) == below  # no credits before Stripe says it succeeded
            payment_intent = await payment_sent(gateway, account)
            assert payment_intent is not None and payment_intent.startswith("pi_")
            succeeded = event("payment_intent.succeeded", intent(payment_intent, cents=1000, attempt=attempt))
            await sent(gateway, succeeded)
            await sent(gateway, succeeded, "duplicate")
            assert await books(gateway, account) == below + Decimal("9.5")
            found = await settings_of(gateway, account)
            assert found["enabled"] is True and found["payment_in_flight"] is False
            assert found["last_outcome"] == "succeeded"
            await chats(gateway, account, 5)  # above the threshold again: nothing more to pay
            await asyncio.sleep(0.1)
            assert len(stripe.sent("/v1/payment_intents")) == 1
        await books(gateway, account)


@pytest.mark.shared
async def test_requests_split_across_two_gateways_start_one_payment(gateways: Gateways) -> None:
    async with gateways(**SETTINGS) as a, gateways(**SETTINGS) as b:
        account = await a.customer("0")
        with stripe_mock() as stripe:
            await card_on_file(a, stripe, account)
            threshold = await enable_below(a, account, 10)
            await asyncio.gather(chats(a, account, REQUESTS // 2), chats(b, account, REQUESTS // 2))
            assert await books(b, account) < threshold
            await eventually(lambda: payment_sent(b, account), "sent")
            await asyncio.sleep(0.1)
            assert len(stripe.sent("/v1/payment_intents")) == 1


async def test_a_declined_card_turns_auto_topup_off_and_says_why(gateways: Gateways) -> None:
    async with gateways(**SETTINGS) as gateway:
        account = await gateway.customer("0")
        with stripe_mock() as stripe:
            await card_on_file(gateway, stripe, account)
            stripe.declining.add("pm_card_visa")
            await enable_below(gateway, account, 3)
            await chats(gateway, account, 10)
            before = await books(gateway, account)

            async def turned_off() -> bool:
                return (await settings_of(gateway, account))["enabled"] is False

            await eventually(turned_off, "turned off")
            found = await settings_of(gateway, account)
            assert found["disabled_reason"] and "declined" in found["disabled_reason"]
            assert "insufficient" in found["disabled_reason"]
            assert found["last_outcome"] == "declined" and found["payment_in_flight"] is False
            assert len(stripe.sent("/v1/payment_intents")) == 1
            await chats(gateway, account, 5)  # off: no more payments
            await asyncio.sleep(0.1)
            assert len(stripe.sent("/v1/payment_intents")) == 1
        assert await books(gateway, account) < before


async def test_a_payment_succeeding_while_the_job_looks_starts_no_second_one(gateways: Gateways) -> None:
    """While a payment is in flight, settlements below the threshold keep waking the job. A
    payment whose success lands just before the job looks must not be made a second time: the
    job claims the one payment in flight and reads the balance in one transaction, the read
    after the claim (before that, a success landing between a read and the claim charged the
    card twice)."""
    async with gateways(**SETTINGS) as gateway:
        account = await gateway.customer("0")
        with stripe_mock() as stripe:
            await card_on_file(gateway, stripe, account)
            await enable_below(gateway, account, 3)
            await chats(gateway, account, 10)
            await eventually(lambda: payment_sent(gateway, account), "sent")
            payment_intent = await payment_sent(gateway, account) or ""
            attempt = stripe.sent("/v1/payment_intents")[0]["metadata[gateway_auto_topup]"]
            succeeded = event("payment_intent.succeeded", intent(payment_intent, cents=1000, attempt=attempt))
            await sent(gateway, succeeded)
            jobs = gateway.runtime.payments
            assert jobs is not None
            assert await jobs.auto_topups.top_up(account["user_id"]) == "not needed"  # what a late wake-up does
            assert len(stripe.sent("/v1/payment_intents")) == 1, "the card was charged twice"
        await books(gateway, account)


async def test_a_threshold_one_top_up_cannot_lift_is_refused(gateways: Gateways) -> None:
    """So that one payment lifts an empty balance above the threshold, rather than a string of
    charges while the balance climbs to it."""
    async with gateways(**SETTINGS) as gateway:
        account = await gateway.customer("0")
        with stripe_mock() as stripe:
            await card_on_file(gateway, stripe, account)
        too_high = await put(gateway, account, enabled=True, threshold="9.500000001", amount_usd="10")
        assert too_high.status_code == 400 and too_high.json()["error"]["param"] == "threshold"
        assert (await put(gateway, account, enabled=True, threshold="9.5", amount_usd="10")).status_code == 200


async def test_keys_handed_to_apps_cannot_pay(gateways: Gateways) -> None:
    """A key with a spend limit, a request cap or an allowlist opens no checkout, portal or auto
    top-up: only the account's own keys pay."""
    async with gateways(**SETTINGS) as gateway:
        account = await gateway.customer("0")
        owner = bearer(account["api_key"])
        for fields in ({"spend_limit": "1"}, {"max_requests": 10}, {"domain_referrers": ["app.example.com"]}):
            created = await gateway.client.post("/user/api-keys", json={"key_name": "app", **fields}, headers=owner)
            app_key = bearer(created.json()["api_key"])
            with stripe_mock() as stripe:
                for method, path, body in [
                    ("POST", "/user/checkout", {"kind": "credits", "amount_usd": 10}),
                    ("POST", "/user/billing-portal", None),
                    ("GET", "/user/auto-topup", None),
                    ("PUT", "/user/auto-topup", {"enabled": False, "threshold": 1, "amount_usd": 10}),
                ]:
                    headers = {**app_key, "origin": "https://app.example.com"}
                    refused = await gateway.client.request(method, path, json=body, headers=headers)
                    assert refused.status_code == 403, (fields, path, refused.text)
                    assert refused.json()["error"]["code"] == "billing_not_allowed"
            assert stripe.requests == []
