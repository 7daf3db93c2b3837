"""One Stripe customer per user, on every backend: however many checkouts the user opens at
once, through one gateway or two, Stripe is asked under one idempotency key (so it makes one
customer), the gateway stores one, and every Checkout Session names it — also when Stripe
does not keep its idempotency promise (an expired key) and answers with several customers."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import respx

from tests.conformance.test_payments_topups import SETTINGS, Gateways
from tests.fakes.stripe_api import FakeStripe
from tests.stripe_support import API_BASE, StripeMock
from tests.support import Gateway, bearer

CHECKOUTS = 8


async def open_checkouts(gateways: tuple[Gateway, ...], api_key: str) -> list[int]:
    """CHECKOUTS credit checkouts at once, taking turns between the gateways; their statuses."""
    responses = await asyncio.gather(
        *(
            gateways[n % len(gateways)].client.post(
                "/user/checkout", json={"kind": "credits", "amount_usd": 10 + n}, headers=bearer(api_key)
            )
            for n in range(CHECKOUTS)
        )
    )
    return [r.status_code for r in responses]


async def stored_customers(gateway: Gateway, user_id: str) -> list[str]:
    async with gateway.runtime.db.read() as tx:
        rows = await tx.fetchall("SELECT customer_id FROM payment_customers WHERE user_id = $1", user_id)
    return [row["customer_id"] for row in rows]


async def test_concurrent_checkouts_of_one_user_make_one_stripe_customer(gateways: Gateways) -> None:
    async with FakeStripe() as stripe:
        settings = {**SETTINGS, "stripe_api_base": stripe.url}
        async with gateways(**settings) as a, gateways(**settings) as b:
            account = await a.customer("0")
            statuses = await open_checkouts((a, b), account["api_key"])
            stored = await stored_customers(a, account["user_id"])
        made = [o["id"] for o in stripe.store.objects.values() if o["object"] == "customer"]
        assert len(made) == 1, made
        asked = [r for r in stripe.requests if r.method == "POST" and r.path == "/v1/customers"]
        assert asked and {r.idempotency_key for r in asked} == {f"gw-customer-{account['user_id']}"}
        sessions = [r for r in stripe.requests if r.method == "POST" and r.path == "/v1/checkout/sessions"]
        assert statuses == [201] * CHECKOUTS and len(sessions) == CHECKOUTS
        assert {r.params["customer"] for r in sessions} == set(made)
        assert stored == made


async def test_customers_stripe_made_twice_are_stored_once_and_one_is_used(gateways: Gateways) -> None:
    async with gateways(**SETTINGS) as a, gateways(**SETTINGS) as b:
        account = await a.customer("0")
        with respx.mock(assert_all_called=False, assert_all_mocked=False) as router:
            router.route(host="gateway.test").pass_through()
            customers = router.post(f"{API_BASE}/v1/customers")  # before the fake's catch-all route
            stripe = StripeMock(router)  # a new customer for every request, whatever its key

            async def slowly(request: httpx.Request) -> httpx.Response:
                await asyncio.sleep(0.01)  # so that every checkout asks before any stores its answer
                return stripe._answer(request)

            customers.mock(side_effect=slowly)
            assert await open_checkouts((a, b), account["api_key"]) == [201] * CHECKOUTS
            (stored,) = await stored_customers(a, account["user_id"])
        assert len(stripe.sent("/v1/customers")) == CHECKOUTS
        named = Counter(body["customer"] for body in stripe.sent("/v1/checkout/sessions"))
        assert named == {stored: CHECKOUTS}, named
