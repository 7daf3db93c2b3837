"""The Stripe fake against the real SDK (stripe 16.1.0): what the gateway sends, the SDK parses,
and a webhook endpoint verifies must work as it would with Stripe."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, MutableMapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import stripe
from aiohttp import web

from tests.fakes.stripe_api import FakeStripe
from tests.fakes.stripe_billing import add_interval
from tests.fakes.stripe_wire import decode_form

SECRET = "whsec_test_receiver"


class Receiver:
    """A webhook endpoint that checks signatures as the gateway must (raw body, 300 s tolerance)."""

    def __init__(self) -> None:
        self.events: list[stripe.Event] = []
        self.rejected = 0
        self.status = 200
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        payload = await request.read()
        try:
            event = stripe.Webhook.construct_event(payload, request.headers.get("Stripe-Signature"), SECRET)
        except stripe.SignatureVerificationError:
            self.rejected += 1
            return web.Response(status=400)
        self.events.append(event)
        return web.Response(status=self.status)

    @property
    def types(self) -> list[str]:
        return [event.type for event in self.events]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/webhooks/stripe", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/webhooks/stripe"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


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


def _client(base: str, key: str = "sk_test_x") -> tuple[stripe.StripeClient, stripe.HTTPXClient]:
    http = stripe.HTTPXClient(timeout=5)
    return stripe.StripeClient(key, base_addresses={"api": base}, http_client=http, max_network_retries=0), http


async def _close(http: stripe.HTTPXClient) -> None:
    await http.close_async()  # type: ignore[no-untyped-call]


@pytest.fixture
async def client(fake: FakeStripe) -> AsyncIterator[stripe.StripeClient]:
    found, http = _client(fake.url)
    try:
        yield found
    finally:
        await _close(http)


PAYMENT_SESSION: dict[str, Any] = {
    "mode": "payment",
    "line_items": [
        {
            "price_data": {"currency": "usd", "unit_amount": 1500, "product_data": {"name": "Credits pack"}},
            "quantity": 2,
        }
    ],
    "client_reference_id": "user_42",
    "customer_creation": "always",
    "payment_intent_data": {"setup_future_usage": "off_session", "metadata": {"order_id": "o1"}},
    "success_url": "https://example.com/ok?session_id={CHECKOUT_SESSION_ID}",
    "cancel_url": "https://example.com/cancel",
    "metadata": {"order_id": "o1", "user_id": "42"},
}


def subscription_session(customer: str, price: str = "price_pro") -> dict[str, Any]:
    return {
        "mode": "subscription",
        "customer": customer,
        "line_items": [{"price": price, "quantity": 1}],
        "client_reference_id": "user_42",
        "subscription_data": {"metadata": {"user_id": "42"}},
        "success_url": "https://example.com/ok",
        "cancel_url": "https://example.com/cancel",
    }


def test_form_bodies_become_nested_objects() -> None:
    body = (
        "line_items[0][price_data][unit_amount]=1500&line_items[0][quantity]=1&line_items[1][price]=p"
        "&metadata[0]=zero&metadata[note]=&expand[]=a&expand[]=b&success_url=https%3A%2F%2Fx%2F%3Fa%3D%7Bb%7D"
    )
    assert decode_form(parse_qsl(body, keep_blank_values=True)) == {
        "line_items": [{"price_data": {"unit_amount": "1500"}, "quantity": "1"}, {"price": "p"}],
        "metadata": {"0": "zero", "note": ""},
        "expand": ["a", "b"],
        "success_url": "https://x/?a={b}",
    }


async def test_customers_keys_and_unknown_things(fake: FakeStripe, client: stripe.StripeClient) -> None:
    created = await client.v1.customers.create_async(params={"email": "ada@example.com", "metadata": {"user_id": "7"}})
    assert created.id.startswith("cus_") and created.livemode is False and created.created > 0
    found = await client.v1.customers.retrieve_async(created.id)
    assert (found.email, found["metadata"]["user_id"]) == ("ada@example.com", "7")

    with pytest.raises(stripe.InvalidRequestError) as missing:
        await client.v1.customers.retrieve_async("cus_nope")
    assert (missing.value.http_status, missing.value.code, missing.value.param) == (404, "resource_missing", "id")
    with pytest.raises(stripe.InvalidRequestError, match="Received unknown parameter: emial"):
        await client.v1.customers.create_async(params={"emial": "typo@example.com"})  # type: ignore[arg-type]

    for key in ("sk_live_real", "pk_test_public"):
        wrong, http = _client(fake.url, key)
        try:
            with pytest.raises(stripe.AuthenticationError):
                await wrong.v1.customers.retrieve_async(created.id)
        finally:
            await _close(http)


async def test_an_idempotency_key_replays_the_first_answer(fake: FakeStripe, client: stripe.StripeClient) -> None:
    params: stripe.params.CustomerCreateParams = {"email": "ada@example.com", "metadata": {"user_id": "7"}}
    first = await client.v1.customers.create_async(params=params, options={"idempotency_key": "cus-7"})
    again = await client.v1.customers.create_async(params=params, options={"idempotency_key": "cus-7"})
    assert again.to_dict() == first.to_dict()
    assert len([o for o in fake.store.objects.values() if o["object"] == "customer"]) == 1
    assert fake.requests[-1].idempotency_key == "cus-7"

    with pytest.raises(stripe.IdempotencyError, match="same parameters"):
        await client.v1.customers.create_async(
            params={"email": "bob@example.com"}, options={"idempotency_key": "cus-7"}
        )


async def test_payment_checkout_saves_the_card(
    fake: FakeStripe, client: stripe.StripeClient, receiver: Receiver
) -> None:
    session = await client.v1.checkout.sessions.create_async(params=PAYMENT_SESSION)  # type: ignore[arg-type]
    assert session.id.startswith("cs_test_") and session.url == f"{fake.url}/c/pay/{session.id}"
    assert (session.amount_total, session.currency, session.mode) == (3000, "usd", "payment")
    assert (session.status, session.payment_status, session.payment_intent) == ("open", "unpaid", None)
    assert (session.client_reference_id, session["metadata"]["order_id"]) == ("user_42", "o1")

    events = await fake.complete_checkout(session.id)
    assert receiver.types == [e["type"] for e in events] == ["checkout.session.completed", "payment_intent.succeeded"]
    completed = receiver.events[0].data.object
    assert isinstance(completed, stripe.checkout.Session)
    assert (completed.payment_status, completed.status, completed["metadata"]["user_id"]) == ("paid", "complete", "42")
    assert all(delivery.ok for delivery in fake.deliveries)

    paid = await client.v1.checkout.sessions.retrieve_async(session.id, params={"expand": ["payment_intent"]})
    intent = paid.payment_intent
    assert isinstance(intent, stripe.PaymentIntent) and isinstance(paid.customer, str)
    assert (intent.status, intent.amount_received, intent.customer) == ("succeeded", 3000, paid.customer)
    assert intent.metadata.order_id == "o1" and intent.setup_future_usage == "off_session"
    assert isinstance(intent.payment_method, str) and fake.object(intent.payment_method)["customer"] == paid.customer


async def test_checkout_refuses_what_stripe_refuses(fake: FakeStripe, client: stripe.StripeClient) -> None:
    customer = fake.add_customer("ada@example.com")
    with pytest.raises(stripe.InvalidRequestError, match="No such price: 'price_gone'") as unknown:
        await client.v1.checkout.sessions.create_async(params=subscription_session(customer, "price_gone"))  # type: ignore[arg-type]
    assert (unknown.value.http_status, unknown.value.param) == (400, "line_items[0][price]")

    no_success = {k: v for k, v in subscription_session(customer).items() if k != "success_url"}
    with pytest.raises(stripe.InvalidRequestError) as missing:
        await client.v1.checkout.sessions.create_async(params=no_success)  # type: ignore[arg-type]
    assert (missing.value.param, missing.value.code) == ("success_url", "parameter_missing")

    recurring_in_payment = {**subscription_session(customer), "mode": "payment"}
    recurring_in_payment.pop("subscription_data")
    with pytest.raises(stripe.InvalidRequestError, match="recurring price"):
        await client.v1.checkout.sessions.create_async(params=recurring_in_payment)  # type: ignore[arg-type]
    with pytest.raises(stripe.InvalidRequestError, match="only be used in `payment` mode"):
        await client.v1.checkout.sessions.create_async(
            params={**subscription_session(customer), "customer_creation": "always"}  # type: ignore[arg-type]
        )


async def test_subscription_checkout_in_the_order_asked(
    fake: FakeStripe, client: stripe.StripeClient, receiver: Receiver
) -> None:
    customer = await client.v1.customers.create_async(params={"email": "ada@example.com"})
    session = await client.v1.checkout.sessions.create_async(params=subscription_session(customer.id))  # type: ignore[arg-type]
    assert (session.amount_total, session.customer) == (2000, customer.id)

    order = ["invoice.paid", "customer.subscription.created", "checkout.session.completed"]
    await fake.complete_checkout(session.id, order=order)
    assert receiver.types == order
    invoice, created, completed = (event.data.object for event in receiver.events)
    assert isinstance(invoice, stripe.Invoice) and isinstance(created, stripe.Subscription)
    assert invoice.parent is not None and invoice.parent.subscription_details is not None
    assert invoice.parent.subscription_details.subscription == created.id == completed.subscription
    line = invoice.lines.data[0]
    assert line.pricing is not None and line.pricing.price_details is not None
    assert line.pricing.price_details.price == "price_pro"
    assert (invoice.billing_reason, invoice.status, invoice.amount_paid) == ("subscription_create", "paid", 2000)

    subscription = await client.v1.subscriptions.retrieve_async(created.id, params={"expand": ["latest_invoice"]})
    item = subscription["items"].data[0]
    assert (item.price.id, subscription.status, subscription.metadata.user_id) == ("price_pro", "active", "42")
    assert (line.period.start, line.period.end) == (item.current_period_start, item.current_period_end)
    assert 28 * 86400 <= item.current_period_end - item.current_period_start <= 31 * 86400
    assert isinstance(subscription.latest_invoice, stripe.Invoice) and subscription.latest_invoice.id == invoice.id


async def test_renewals_failures_and_cancellation(
    fake: FakeStripe, client: stripe.StripeClient, receiver: Receiver
) -> None:
    customer = fake.add_customer("ada@example.com")
    session = await client.v1.checkout.sessions.create_async(params=subscription_session(customer))  # type: ignore[arg-type]
    await fake.complete_checkout(session.id)
    subscription_id = fake.object(session.id)["subscription"]
    first_end = fake.object(subscription_id)["items"]["data"][0]["current_period_end"]

    updated, paid = await fake.renew_subscription(subscription_id)
    assert (updated["type"], paid["type"]) == ("customer.subscription.updated", "invoice.paid")
    assert paid["data"]["object"]["billing_reason"] == "subscription_cycle"
    assert paid["data"]["object"]["lines"]["data"][0]["period"]["start"] == first_end
    assert updated["data"]["previous_attributes"]["items"]["data"][0]["current_period_end"] == first_end

    fake.decline_payment_method(fake.object(subscription_id)["default_payment_method"])
    updated, failed = await fake.renew_subscription(subscription_id)
    assert (failed["type"], failed["data"]["object"]["status"]) == ("invoice.payment_failed", "open")
    assert updated["data"]["object"]["status"] == "past_due"

    await client.v1.subscriptions.update_async(subscription_id, params={"cancel_at_period_end": True})
    await fake.drain()  # the API's own events go out in the background, as Stripe's do
    assert receiver.types[-1] == "customer.subscription.updated"
    assert receiver.events[-1].data.object.cancel_at_period_end is True
    (deleted,) = await fake.renew_subscription(subscription_id)
    assert (deleted["type"], deleted["data"]["object"]["status"]) == ("customer.subscription.deleted", "canceled")


async def test_billing_portal(fake: FakeStripe, client: stripe.StripeClient) -> None:
    customer = fake.add_customer("ada@example.com")
    portal = await client.v1.billing_portal.sessions.create_async(
        params={"customer": customer, "return_url": "https://example.com/account"}
    )
    assert portal.url == f"https://billing.stripe.test/p/session/{portal.id}" and portal.customer == customer
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        await client.v1.billing_portal.sessions.create_async(params={"customer": "cus_gone"})
    assert (unknown.value.http_status, unknown.value.param) == (400, "customer")


async def test_off_session_charges_succeed_or_decline(
    fake: FakeStripe, client: stripe.StripeClient, receiver: Receiver
) -> None:
    customer = fake.add_customer("ada@example.com")
    good, bad = fake.add_payment_method(customer), fake.add_payment_method(customer)
    fake.decline_payment_method(bad)

    def charge(method: str) -> dict[str, Any]:
        return {
            "amount": 1500,
            "currency": "usd",
            "customer": customer,
            "payment_method": method,
            "off_session": True,
            "confirm": True,
            "metadata": {"order_id": method},
        }

    intent = await client.v1.payment_intents.create_async(params=charge(good), options={"idempotency_key": "o-1"})  # type: ignore[arg-type]
    assert (intent.status, intent.amount_received, intent.metadata.order_id) == ("succeeded", 1500, good)
    found = await client.v1.payment_intents.retrieve_async(intent.id, params={"expand": ["payment_method"]})
    assert isinstance(found.payment_method, stripe.PaymentMethod) and found.payment_method.card is not None
    assert found.payment_method.card.last4 == "4242"

    declines: list[stripe.CardError] = []
    for _ in range(2):  # the retry with the same key gets the same decline
        with pytest.raises(stripe.CardError) as declined:
            await client.v1.payment_intents.create_async(params=charge(bad), options={"idempotency_key": "o-2"})  # type: ignore[arg-type]
        declines.append(declined.value)
    error = declines[0].error
    assert error is not None and error.payment_intent is not None
    assert (declines[0].http_status, declines[0].code, error.decline_code) == (
        402,
        "card_declined",
        "insufficient_funds",
    )
    assert declines[0].user_message == "Your card has insufficient funds."
    assert error.payment_intent.status == "requires_payment_method"
    assert error.payment_intent.last_payment_error is not None
    assert error.payment_intent.last_payment_error.decline_code == "insufficient_funds"
    assert declines[1].error is not None and declines[1].error.payment_intent is not None
    assert declines[1].error.payment_intent.id == error.payment_intent.id

    await fake.drain()
    assert receiver.types == ["payment_intent.succeeded", "payment_intent.payment_failed"]


async def test_events_list_filters_and_pages(fake: FakeStripe, client: stripe.StripeClient, receiver: Receiver) -> None:
    session = await client.v1.checkout.sessions.create_async(params=PAYMENT_SESSION)  # type: ignore[arg-type]
    await fake.complete_checkout(session.id)  # delivered
    fake.hold_deliveries()
    intent = fake.object(session.id)["payment_intent"]
    await fake.refund(intent, 500)
    await fake.refund(intent)
    await fake.dispute(intent, outcome="won")
    assert len(receiver.events) == 2
    held = [e["id"] for e in reversed(fake.events[2:])]  # newest first, as Stripe lists them

    page = await client.v1.events.list_async(
        params={"created": {"gte": fake.events[0]["created"]}, "delivery_success": False, "limit": 2}
    )
    assert len(page.data) == 2 and page.has_more
    assert [event.id async for event in page.auto_paging_iter()] == held
    assert any("starting_after" in request.params for request in fake.requests)

    refunds = await client.v1.events.list_async(params={"type": "charge.refunded"})
    amounts = [e.data.object.amount_refunded for e in refunds.data]
    assert amounts == [3000, 500] and refunds.data[0].data["previous_attributes"]["amount_refunded"] == 500
    disputes = await client.v1.events.list_async(params={"type": "charge.dispute.*"})
    assert [e.type for e in reversed(disputes.data)] == [
        "charge.dispute.created",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.closed",
        "charge.dispute.funds_reinstated",
    ]
    assert disputes.data[1].data.object.status == "won"
    both = await client.v1.events.list_async(params={"types": ["charge.refunded", "checkout.session.completed"]})
    assert [e.type for e in both.data].count("charge.refunded") == 2 and len(both.data) == 3
    later = await client.v1.events.list_async(params={"created": {"gt": fake.events[-1]["created"]}})
    assert later.data == []

    fake.resume_deliveries()
    assert (await fake.redeliver(held[0])).ok
    still_held = await client.v1.events.list_async(params={"delivery_success": False, "limit": 100})
    assert [e.id for e in still_held.data] == held[1:]


async def test_webhooks_are_signed_and_refusals_recorded(
    fake: FakeStripe, client: stripe.StripeClient, receiver: Receiver
) -> None:
    customer = fake.add_customer("ada@example.com")
    session = await client.v1.checkout.sessions.create_async(params=subscription_session(customer))  # type: ignore[arg-type]
    fake.hold_deliveries()
    events = await fake.complete_checkout(session.id)
    first = events[0]

    assert not (await fake.deliver(first, secret="whsec_wrong")).ok
    assert not (await fake.deliver(first, timestamp=first["created"] - 600)).ok
    assert receiver.rejected == 2
    receiver.status = 500
    assert (await fake.redeliver(first["id"])).status == 500
    receiver.status = 200
    assert (await fake.redeliver(first["id"])).ok
    assert [d.status for d in fake.deliveries] == [400, 400, 500, 200]
    assert [e["pending_webhooks"] for e in fake.events] == [0, 1, 1]


async def test_injected_outage(fake: FakeStripe, client: stripe.StripeClient) -> None:
    fake.fail_next(500, path="/v1/customers")
    with pytest.raises(stripe.APIError):
        await client.v1.customers.create_async(params={"email": "ada@example.com"})
    assert (await client.v1.customers.create_async(params={"email": "ada@example.com"})).id.startswith("cus_")


def test_a_synchronous_test_serves_it_from_a_thread() -> None:
    fake = FakeStripe()
    fake.add_price("price_pro", unit_amount=2000, interval="month")
    with fake.serving_in_thread():
        http = stripe.HTTPXClient(timeout=5, allow_sync_methods=True)
        client = stripe.StripeClient("sk_test_x", base_addresses={"api": fake.url}, http_client=http)
        try:
            customer = client.v1.customers.create(params={"email": "ada@example.com"})
            session = client.v1.checkout.sessions.create(params=subscription_session(customer.id))  # type: ignore[arg-type]
            events = fake.call(fake.complete_checkout(session.id))
            assert [e["type"] for e in events][-1] == "invoice.paid"
            assert client.v1.subscriptions.retrieve(fake.object(session.id)["subscription"]).status == "active"
        finally:
            http.close()  # type: ignore[no-untyped-call]
    assert fake.deliveries == []  # no webhook_url: events are only logged


def test_a_delivery_that_never_ends_is_cut_at_stop_and_the_port_still_closes() -> None:
    with socket.socket() as silent:  # a webhook endpoint that takes the connection and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        fake = FakeStripe(webhook_url=f"http://127.0.0.1:{silent.getsockname()[1]}/hook", webhook_timeout=60)
        customer = fake.add_customer("ada@example.com")
        card = fake.add_payment_method(customer)
        auth = {"Authorization": "Bearer sk_test_x"}
        charge = {"amount": "1500", "currency": "usd", "customer": customer, "payment_method": card,
                  "off_session": "true", "confirm": "true"}  # fmt: skip
        served: list[str] = []

        def charge_then_stop() -> None:  # the charge's events are delivered in the background
            with fake.serving_in_thread(stop_timeout=0.3):
                served.append(fake.url)
                assert httpx.post(f"{fake.url}/v1/payment_intents", data=charge, headers=auth).status_code == 200

        with pytest.raises(TimeoutError):
            charge_then_stop()
        with pytest.raises(httpx.ConnectError):  # closed, not left listening by a stop cut short
            httpx.get(f"{served[0]}/v1/customers/{customer}", headers=auth, timeout=2)


async def test_the_wire_format(fake: FakeStripe) -> None:
    async with httpx.AsyncClient(base_url=fake.url) as http:
        anonymous = await http.get("/v1/customers/cus_x")
        assert anonymous.status_code == 401 and anonymous.json()["error"]["type"] == "invalid_request_error"
        auth = {"Authorization": "Bearer sk_test_x"}
        unknown = await http.get("/v1/coupons", headers=auth)
        assert unknown.status_code == 404 and "Unrecognized request URL" in unknown.json()["error"]["message"]
        body = "email=a%40example.com&metadata[user_id]=7"
        form = {**auth, "Content-Type": "application/x-www-form-urlencoded", "Idempotency-Key": "k"}
        first = await http.post("/v1/customers", content=body, headers=form)
        again = await http.post("/v1/customers", content=body, headers=form)
    assert first.headers["Request-Id"].startswith("req_") and "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert first.json()["metadata"] == {"user_id": "7"} and first.json()["livemode"] is False


async def test_delayed_payment_and_guest_checkout(
    fake: FakeStripe, client: stripe.StripeClient, receiver: Receiver
) -> None:
    guest = {k: v for k, v in PAYMENT_SESSION.items() if k != "customer_creation"}
    session = await client.v1.checkout.sessions.create_async(params=guest)  # type: ignore[arg-type]
    (completed,) = await fake.complete_checkout(session.id, pay=False)
    assert completed["data"]["object"]["payment_status"] == "unpaid" and completed["data"]["object"]["customer"] is None
    intent = fake.object(completed["data"]["object"]["payment_intent"])
    assert intent["status"] == "processing" and fake.object(intent["payment_method"])["customer"] is None

    settled = await fake.settle_async_payment(session.id)
    assert [e["type"] for e in settled] == ["payment_intent.succeeded", "checkout.session.async_payment_succeeded"]
    assert settled[1]["data"]["object"]["payment_status"] == "paid"

    other = await client.v1.checkout.sessions.create_async(params=guest)  # type: ignore[arg-type]
    (expired,) = await fake.expire_checkout(other.id)
    assert (expired["type"], expired["data"]["object"]["status"]) == ("checkout.session.expired", "expired")
    assert len(receiver.events) == 4


async def test_disputes_step_by_step_and_cancel_now(fake: FakeStripe, client: stripe.StripeClient) -> None:
    customer = fake.add_customer("ada@example.com")
    session = await client.v1.checkout.sessions.create_async(params=subscription_session(customer))  # type: ignore[arg-type]
    await fake.complete_checkout(session.id)
    subscription = fake.object(session.id)["subscription"]
    intent = fake.invoice_payment_intent(fake.object(subscription)["latest_invoice"])

    opened = await fake.dispute(intent, outcome=None, funds_withdrawn=False)
    assert [e["type"] for e in opened] == ["charge.dispute.created"]
    closed = await fake.close_dispute(opened[0]["data"]["object"]["id"], "lost")
    assert [(e["type"], e["data"]["object"]["status"]) for e in closed] == [("charge.dispute.closed", "lost")]

    canceled = await client.v1.subscriptions.cancel_async(subscription)
    assert (canceled.status, canceled.ended_at is not None) == ("canceled", True)
    await fake.drain()
    assert fake.events[-1]["type"] == "customer.subscription.deleted"


async def test_delivery_through_an_asgi_app() -> None:
    seen: list[bytes] = []

    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        message = await receive()
        seen.append(message["body"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async with FakeStripe(webhook_url="http://gateway.test/hook", webhook_transport=httpx.ASGITransport(app)) as fake:
        fake.add_price("price_pro", unit_amount=2000, interval="month")
        customer = fake.add_customer("ada@example.com")
        client, http = _client(fake.url)
        try:
            session = await client.v1.checkout.sessions.create_async(params=subscription_session(customer))  # type: ignore[arg-type]
        finally:
            await _close(http)
        await fake.complete_checkout(session.id)
    assert [d.status for d in fake.deliveries] == [204, 204, 204] and len(seen) == 3


def test_periods_follow_the_calendar() -> None:
    jan31 = int(datetime(2027, 1, 31, 12, tzinfo=UTC).timestamp())
    feb = datetime.fromtimestamp(add_interval(jan31, "month", 1), UTC)
    assert (feb.month, feb.day) == (2, 28)
    assert datetime.fromtimestamp(add_interval(jan31, "month", 2), UTC).day == 31
    assert add_interval(jan31, "week", 2) - jan31 == 14 * 86400
