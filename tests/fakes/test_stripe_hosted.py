"""The fake's hosted Checkout page, driven as a browser drives it: plain GETs and form posts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import stripe

from tests.fakes.stripe_api import FakeStripe
from tests.fakes.test_stripe_api import PAYMENT_SESSION, SECRET, Receiver, subscription_session


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    try:
        await found.start()
        yield found
    finally:
        await found.stop()


@pytest.fixture
async def fake(receiver: Receiver) -> AsyncIterator[FakeStripe]:
    async with FakeStripe(webhook_url=receiver.url, webhook_secret=SECRET) as found:
        found.add_price("price_pro", unit_amount=2000, interval="month")
        yield found


@pytest.fixture
async def visitor() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def create(fake: FakeStripe, params: dict[str, Any]) -> dict[str, Any]:
    http = stripe.HTTPXClient(timeout=5)
    client = stripe.StripeClient("sk_test_x", base_addresses={"api": fake.url}, http_client=http)
    try:
        session = await client.v1.checkout.sessions.create_async(params=params)  # type: ignore[arg-type]
    finally:
        await http.close_async()
    return session.to_dict()


async def test_pay_delivers_the_webhooks_then_redirects_to_success(
    fake: FakeStripe, receiver: Receiver, visitor: httpx.AsyncClient
) -> None:
    session = await create(fake, PAYMENT_SESSION)
    assert session["url"] == f"{fake.url}/c/pay/{session['id']}"
    page = await visitor.get(session["url"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert ">Pay</button>" in page.text and ">Cancel</button>" in page.text and "$30.00" in page.text

    paid = await visitor.post(f"{session['url']}/pay")
    assert paid.status_code == 303
    assert paid.headers["location"] == f"https://example.com/ok?session_id={session['id']}"
    assert receiver.types == ["checkout.session.completed", "payment_intent.succeeded"]  # before the redirect
    assert fake.object(session["id"])["payment_status"] == "paid"
    assert [r.path for r in fake.requests] == ["/v1/checkout/sessions"]  # the page is not the API

    again = await visitor.get(session["url"])
    assert again.status_code == 410 and "complete" in again.text
    assert (await visitor.post(f"{session['url']}/pay")).status_code == 410  # paid once only
    assert len(receiver.events) == 2


async def test_save_card_cancel_and_unknown_sessions(
    fake: FakeStripe, receiver: Receiver, visitor: httpx.AsyncClient
) -> None:
    session = await create(fake, {**PAYMENT_SESSION, "payment_intent_data": {}})
    assert (await visitor.post(f"{session['url']}/pay", data={"save_card": "on"})).status_code == 303
    intent = fake.object(fake.object(session["id"])["payment_intent"])
    assert fake.object(intent["payment_method"])["customer"] == intent["customer"] is not None

    other = await create(fake, PAYMENT_SESSION)
    cancelled = await visitor.post(f"{other['url']}/cancel")
    assert cancelled.status_code == 303 and cancelled.headers["location"] == "https://example.com/cancel"
    assert fake.object(other["id"])["status"] == "open" and len(receiver.events) == 2

    assert (await visitor.get(f"{fake.url}/c/pay/cs_test_nothing")).status_code == 404


async def test_a_subscription_is_paid_from_its_page(
    fake: FakeStripe, receiver: Receiver, visitor: httpx.AsyncClient
) -> None:
    customer = fake.add_customer("ada@example.com")
    session = await create(fake, subscription_session(customer))
    page = await visitor.get(session["url"])
    assert "$20.00 / month" in page.text and "save_card" not in page.text
    assert (await visitor.post(f"{session['url']}/pay")).headers["location"] == "https://example.com/ok"
    assert receiver.types == ["checkout.session.completed", "customer.subscription.created", "invoice.paid"]
