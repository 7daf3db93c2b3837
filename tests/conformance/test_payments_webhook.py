"""Stripe's webhook on every backend: only events Stripe signed for these very bytes, recently,
in this key's mode, are taken; each event id is stored once and applied once — replayed, or
delivered twelve times at once (to one gateway, or split across two) — and listed for admins."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.conformance.helpers import balanced_credits
from tests.conformance.test_payments_topups import (
    SETTINGS,
    Gateways,
    history,
    opened_topup,
    refund,
    sent,
)
from tests.stripe_support import WEBHOOK_SECRET, deliver, event, signed
from tests.support import ADMIN, Gateway

COPIES = 12


async def post(gateway: Gateway, payload: bytes, signature: str | None) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["stripe-signature"] = signature
    return await gateway.client.post("/stripe/webhook", content=payload, headers=headers)


async def test_only_events_stripe_signed_recently_for_this_mode_are_taken(gateways: Gateways) -> None:
    async with gateways(**SETTINGS) as gateway:
        async with opened_topup(gateway, "10") as (account, topup):
            completed = topup.completed()
            payload, header = signed(completed)
            tampered = payload.replace(b'"amount_total": 1000', b'"amount_total": 1000000')
            assert tampered != payload
            now = time.time()
            refused = {
                "missing": await post(gateway, payload, None),
                "other secret": await post(gateway, *signed(completed, secret="whsec_someone_else")),
                "tampered": await post(gateway, tampered, header),
                "stale": await post(gateway, *signed(completed, at=now - 330)),
                "future": await post(gateway, *signed(completed, at=now + 330)),
                "garbage": await post(gateway, payload, "t=1,v1=deadbeef"),
            }
            for why, response in refused.items():
                assert response.status_code == 400, (why, response.text)
                assert response.json()["error"]["code"] == "invalid_signature", why
            live = {**completed, "livemode": True}  # a live-mode event for an sk_test_ key
            wrong_mode = await deliver(gateway, live)
            assert wrong_mode.status_code == 400 and wrong_mode.json()["error"]["type"] == "invalid_request_error"
            assert "live" in wrong_mode.json()["error"]["message"]
            assert await balanced_credits(gateway, account) == 0
            assert await history(gateway) == {}  # nothing refused was stored
            # Within the tolerance, either way in time, the very same event is taken — once.
            late = await post(gateway, *signed(completed, at=now - 240))
            assert late.status_code == 200 and late.json()["outcome"] == "applied"
            early = await post(gateway, *signed(completed, at=now + 240))
            assert early.status_code == 200 and early.json()["outcome"] == "duplicate"
        assert await balanced_credits(gateway, account) == Decimal("9.5")
        assert set(await history(gateway)) == {completed["id"]}


async def test_events_of_other_types_are_stored_and_ignored(gateways: Gateways) -> None:
    async with gateways(**SETTINGS) as gateway:
        account = await gateway.customer("0")
        others = [
            event("customer.created", {"id": "cus_x", "object": "customer"}),
            event("invoice.finalized", {"id": "in_x", "object": "invoice", "customer": "cus_x"}),
            event("checkout.session.async_payment_failed", {"id": "cs_x", "object": "checkout.session"}),
            event(
                "payment_intent.succeeded",
                {"id": "pi_x", "object": "payment_intent", "amount_received": 10**6, "currency": "usd", "metadata": {}},
            ),
            event("brand.new.type", {"id": "x_1"}),
        ]
        # A refund of a payment whose credits are unknown waits for them (they may come later).
        refund = event(
            "charge.refunded",
            {"id": "ch_x", "object": "charge", "payment_intent": "pi_x", "amount": 500, "amount_refunded": 500},
        )
        for document in others:
            await sent(gateway, document, "ignored")
        await sent(gateway, refund, "deferred")
        await sent(gateway, others[0], "duplicate")
        entries = await history(gateway)
        assert set(entries) == {d["id"] for d in [*others, refund]}
        for document in [*others, refund]:
            entry = entries[document["id"]]
            assert entry["type"] == document["type"] and entry["outcome"] == (
                "deferred" if document is refund else "ignored"
            )
            assert entry["amount"] == 0 and entry["shortfall"] == 0 and entry["detail"]
        assert await balanced_credits(gateway, account) == 0


async def test_the_payment_history_pages_newest_first(gateways: Gateways) -> None:
    async with gateways(**SETTINGS) as gateway:
        documents = [event("customer.updated", {"id": f"cus_{n}"}) for n in range(5)]
        for document in documents:
            await sent(gateway, document, "ignored")
        seen: list[str] = []
        after: str | None = None
        for expected_more in (True, True, False):
            params: dict[str, Any] = {"limit": 2} | ({"after": after} if after else {})
            page = (await gateway.client.get("/admin/payments", params=params, headers=ADMIN)).json()
            assert page["has_more"] is expected_more
            seen += [entry["id"] for entry in page["data"]]
            after = seen[-1]
        assert seen == [d["id"] for d in reversed(documents)]
        assert set((await gateway.client.get("/admin/payments", params={"limit": 1}, headers=ADMIN)).json()) == {
            "object", "data", "has_more",
        }  # fmt: skip
        (entry,) = (await gateway.client.get("/admin/payments", params={"limit": 1}, headers=ADMIN)).json()["data"]
        assert set(entry) == {
            "id", "type", "user_id", "amount", "shortfall", "outcome", "detail", "created_at", "received_at",
        }  # fmt: skip
        assert (await gateway.client.get("/admin/payments")).status_code == 401


async def deliveries(gateway: Gateway, document: dict[str, Any], count: int) -> list[httpx.Response]:
    payload, header = signed(document, secret=WEBHOOK_SECRET)
    return list(await asyncio.gather(*(post(gateway, payload, header) for _ in range(count))))


def outcomes(responses: list[httpx.Response]) -> Counter[str]:
    assert [r.status_code for r in responses] == [200] * len(responses), [r.text for r in responses]
    return Counter(r.json()["outcome"] for r in responses)


async def test_twelve_concurrent_deliveries_of_one_event_grant_once(gateways: Gateways) -> None:
    async with gateways(**SETTINGS) as gateway:
        async with opened_topup(gateway, "10") as (account, topup):
            completed = topup.completed()
            assert outcomes(await deliveries(gateway, completed, COPIES)) == {"applied": 1, "duplicate": COPIES - 1}
        assert await balanced_credits(gateway, account) == Decimal("9.5")
        assert set(await history(gateway)) == {completed["id"]}


@pytest.mark.shared
async def test_twelve_concurrent_deliveries_split_across_two_gateways_grant_once(gateways: Gateways) -> None:
    async with gateways(**SETTINGS) as a, gateways(**SETTINGS) as b:
        async with opened_topup(a, "10") as (account, topup):
            completed = topup.completed()
            halves = await asyncio.gather(deliveries(a, completed, COPIES // 2), deliveries(b, completed, COPIES // 2))
            assert outcomes(halves[0] + halves[1]) == {"applied": 1, "duplicate": COPIES - 1}
        for gateway in (a, b):
            assert await balanced_credits(gateway, account) == Decimal("9.5")
        assert set(await history(b)) == {completed["id"]}


async def test_concurrent_refund_events_of_one_payment_take_back_exactly_its_credits(gateways: Gateways) -> None:
    """Partial refunds delivered at once, each several times, out of order: the payment's row
    queues them, so together they take back the whole payment's credits, no more."""
    async with gateways(**SETTINGS) as gateway:
        async with opened_topup(gateway, "10", paid=True) as (account, topup):
            refunds = [refund(topup, cents) for cents in (1000, 300, 650)]
            results = await asyncio.gather(*(deliveries(gateway, document, 4) for document in refunds))
            counted = outcomes([r for group in results for r in group])
            assert counted["duplicate"] == 9 and counted["applied"] + counted["ignored"] == 3
        assert await balanced_credits(gateway, account) == 0
        taken = sum(
            entry["amount"] for entry in (await history(gateway)).values() if entry["type"] == "charge.refunded"
        )
        assert taken == Decimal("-9.5")
