"""Auto top-up on every backend: a card saved by a top-up Checkout; when settlements take the
credits below the threshold, a background job starts ONE off-session payment (however many
requests cross it, in one gateway or two); its credits come only with `payment_intent.succeeded`;
a decline turns auto top-up off and says why."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.conformance.helpers import balanced_credits
from tests.conformance.test_payments_topups import SETTINGS, Gateways, open_topup, sent
from tests.stripe_support import PAYMENT_ROUTES, StripeMock, deliver, event, intent, stripe_mock
from tests.support import Gateway, bearer, json_decimal

REQUESTS = 50
DEADLINE = 5.0


async def eventually(check: Callable[[], Awaitable[object]], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not await check():
        assert time.monotonic() < deadline, f"still not {what} after {DEADLINE}s"
        await asyncio.sleep(0.02)


async def jobs_idle(*gateways: Gateway) -> None:
    """Until each gateway's auto top-up job has handled every wake-up given to it. Settlements
    wake the job before their response goes out, so once the requests answered, an idle job
    has made every payment they would start."""

    async def idle() -> bool:
        for gateway in gateways:
            jobs = gateway.runtime.payments
            assert jobs is not None
            if not jobs.auto_topups.idle:
                return False
        return True

    await eventually(idle, "idle")


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
    before = await balanced_credits(gateway, account)
    assert (await gateway.chat(account["api_key"])).status_code == 200
    return before - await balanced_credits(gateway, account)


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
    threshold = await balanced_credits(gateway, account) - calls * await cost_of_one_call(gateway, account)
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
        assert await balanced_credits(gateway, account) == 19


async def test_fifty_requests_crossing_the_threshold_start_one_payment(gateways: Gateways) -> None:
    async with gateways(**SETTINGS) as gateway:
        account = await gateway.customer("0")
        with stripe_mock() as stripe:
            customer = await card_on_file(gateway, stripe, account)
            threshold = await enable_below(gateway, account, 10)
            await chats(gateway, account, REQUESTS)
            below = await balanced_credits(gateway, account)
            assert below < threshold
            await eventually(lambda: payment_sent(gateway, account), "sent")
            await jobs_idle(gateway)  # every settlement's wake-up handled: a second payment would show
            (charge,) = stripe.sent("/v1/payment_intents")
            attempt = charge["metadata[gateway_auto_topup]"]
            assert charge == {
                "amount": "1000", "currency": "usd", "customer": customer, "payment_method": "pm_card_visa",
                "off_session": "true", "confirm": "true", "metadata[gateway_auto_topup]": attempt,
            }  # fmt: skip
            (headers,) = stripe.headers_of("/v1/payment_intents")
            assert headers["idempotency-key"] == f"gw-auto-topup-{attempt}"
            assert (await settings_of(gateway, account))["payment_in_flight"] is True
            assert await balanced_credits(gateway, account) == below  # no credits before Stripe says it succeeded
            payment_intent = await payment_sent(gateway, account)
            assert payment_intent is not None and payment_intent.startswith("pi_")
            succeeded = event("payment_intent.succeeded", intent(payment_intent, cents=1000, attempt=attempt))
            await sent(gateway, succeeded)
            await sent(gateway, succeeded, "duplicate")
            assert await balanced_credits(gateway, account) == below + Decimal("9.5")
            found = await settings_of(gateway, account)
            assert found["enabled"] is True and found["payment_in_flight"] is False
            assert found["last_outcome"] == "succeeded"
            await chats(gateway, account, 5)  # above the threshold again: nothing more to pay
            await jobs_idle(gateway)
            assert len(stripe.sent("/v1/payment_intents")) == 1
        await balanced_credits(gateway, account)


@pytest.mark.shared
async def test_requests_split_across_two_gateways_start_one_payment(gateways: Gateways) -> None:
    async with gateways(**SETTINGS) as a, gateways(**SETTINGS) as b:
        account = await a.customer("0")
        with stripe_mock() as stripe:
            await card_on_file(a, stripe, account)
            threshold = await enable_below(a, account, 10)
            await asyncio.gather(chats(a, account, REQUESTS // 2), chats(b, account, REQUESTS // 2))
            assert await balanced_credits(b, account) < threshold
            await eventually(lambda: payment_sent(b, account), "sent")
            await jobs_idle(a, b)
            assert len(stripe.sent("/v1/payment_intents")) == 1


async def test_a_declined_card_turns_auto_topup_off_and_says_why(gateways: Gateways) -> None:
    async with gateways(**SETTINGS) as gateway:
        account = await gateway.customer("0")
        with stripe_mock() as stripe:
            await card_on_file(gateway, stripe, account)
            stripe.declining.add("pm_card_visa")
            await enable_below(gateway, account, 3)
            await chats(gateway, account, 10)
            before = await balanced_credits(gateway, account)

            async def turned_off() -> bool:
                return (await settings_of(gateway, account))["enabled"] is False

            await eventually(turned_off, "turned off")
            found = await settings_of(gateway, account)
            assert found["disabled_reason"] and "declined" in found["disabled_reason"]
            assert "insufficient" in found["disabled_reason"]
            assert found["last_outcome"] == "declined" and found["payment_in_flight"] is False
            assert len(stripe.sent("/v1/payment_intents")) == 1
            await chats(gateway, account, 5)  # off: no more payments
            await jobs_idle(gateway)
            assert len(stripe.sent("/v1/payment_intents")) == 1
        assert await balanced_credits(gateway, account) < before


CROSSINGS = 4  # within the five automatic charges a day
LOOKERS = 20


async def delivered_while_looking(
    gateway: Gateway, document: dict[str, Any], look: Callable[[], Awaitable[str]]
) -> tuple[httpx.Response, Counter[str]]:
    """Deliver `document` while LOOKERS wake-ups of the job `look` again and again, from just
    before it arrives until just after it was applied; answers the delivery and what they saw."""
    done = asyncio.Event()

    async def delivery() -> httpx.Response:
        await asyncio.sleep(0.005)  # the lookers are under way
        try:
            return await deliver(gateway, document)
        finally:
            done.set()

    async def looker() -> list[str]:
        seen = []
        while not done.is_set():
            seen.append(await look())
            await asyncio.sleep(0)  # on SQLite a look may never suspend: let the delivery run
        seen.append(await look())
        return seen

    delivered, looked = await asyncio.gather(delivery(), asyncio.gather(*(looker() for _ in range(LOOKERS))))
    return delivered, Counter(answer for seen in looked for answer in seen)


async def test_a_payment_succeeding_while_the_job_looks_starts_no_second_one(gateways: Gateways) -> None:
    """While a payment is in flight, settlements below the threshold keep waking the job. A
    payment whose success lands just as the job looks must not be made a second time: the
    job claims the one payment in flight and reads the balance in one transaction, the read
    after the claim (before that, a success landing between a read and the claim charged the
    card twice). Here twenty wake-ups look again and again while the success is delivered,
    crossing after crossing."""
    async with gateways(**SETTINGS) as gateway:
        account = await gateway.customer("0")
        jobs = gateway.runtime.payments
        assert jobs is not None
        with stripe_mock() as stripe:
            await card_on_file(gateway, stripe, account)  # 9.5 credits
            turned_on = await put(gateway, account, enabled=True, threshold="5", amount_usd="10")
            assert turned_on.status_code == 200, turned_on.text
            for crossing in range(1, CROSSINGS + 1):
                await gateway.top_up(
                    account["user_id"], str(4 - await balanced_credits(gateway, account))
                )  # spent: 4 left
                assert await jobs.auto_topups.top_up(account["user_id"]) == "sent"
                charges = stripe.sent("/v1/payment_intents")
                assert len(charges) == crossing
                payment_intent = await payment_sent(gateway, account)
                assert payment_intent is not None
                attempt = charges[-1]["metadata[gateway_auto_topup]"]
                succeeded = event("payment_intent.succeeded", intent(payment_intent, cents=1000, attempt=attempt))
                delivered, answers = await delivered_while_looking(
                    gateway, succeeded, lambda: jobs.auto_topups.top_up(account["user_id"])
                )
                assert delivered.status_code == 200 and delivered.json()["outcome"] == "applied", delivered.text
                # before the success: the payment is in flight; after it: the balance is above
                assert set(answers) <= {"in flight", "not needed"}, answers
                assert answers["in flight"] > 0 and answers["not needed"] >= LOOKERS, answers
                assert len(stripe.sent("/v1/payment_intents")) == crossing, "the card was charged twice"
                assert await balanced_credits(gateway, account) == Decimal("13.5")
            await jobs_idle(gateway)
        assert len(stripe.sent("/v1/payment_intents")) == CROSSINGS


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
                for method, path, body in PAYMENT_ROUTES:
                    headers = {**app_key, "origin": "https://app.example.com"}
                    refused = await gateway.client.request(method, path, json=body, headers=headers)
                    assert refused.status_code == 403, (fields, path, refused.text)
                    assert refused.json()["error"]["code"] == "billing_not_allowed"
            assert stripe.requests == []


async def test_a_payment_never_heard_of_for_a_day_no_longer_blocks_the_next(gateways: Gateways) -> None:
    """One payment in flight per user — but not for ever: a payment sent whose outcome never
    came (its event lost) or that was never known to be sent stops blocking after 23 hours
    (Stripe forgets an idempotency key after 24), and its success, if it comes later, is
    still granted."""
    async with gateways(**SETTINGS) as gateway:
        account = await gateway.customer("0")
        jobs = gateway.runtime.payments
        assert jobs is not None
        with stripe_mock() as stripe:
            customer = await card_on_file(gateway, stripe, account)  # 9.5 credits
            assert (await put(gateway, account, enabled=True, threshold="5", amount_usd="10")).status_code == 200
            await gateway.top_up(account["user_id"], "-5.5")  # 4 left
            assert await jobs.auto_topups.top_up(account["user_id"]) == "sent"
            lost = await payment_sent(gateway, account)
            attempt = stripe.sent("/v1/payment_intents")[-1]["metadata[gateway_auto_topup]"]
            assert await jobs.auto_topups.top_up(account["user_id"]) == "in flight"

            async def a_day_later() -> None:
                async with gateway.runtime.db.transaction() as tx:
                    await tx.execute(
                        "UPDATE auto_topups SET attempt_started_at = attempt_started_at - $2 WHERE user_id = $1",
                        account["user_id"], 24 * 3600.0,
                    )  # fmt: skip

            await a_day_later()
            assert await jobs.auto_topups.top_up(account["user_id"]) == "given up"
            assert (await settings_of(gateway, account))["last_outcome"] == "no outcome heard"
            assert await jobs.auto_topups.top_up(account["user_id"]) == "sent"  # the next one
            assert len(stripe.sent("/v1/payment_intents")) == 2
            late = event(
                "payment_intent.succeeded", intent(lost or "", cents=1000, attempt=attempt) | {"customer": customer}
            )
            await sent(gateway, late)  # the first one's success, late: granted all the same
        assert await balanced_credits(gateway, account) == Decimal("13.5")
