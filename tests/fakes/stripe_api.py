"""A small fake of Stripe's REST API (API version 2026-10-28.endive), served by aiohttp on
127.0.0.1, for tests that drive the official SDK, or the real gateway through STRIPE_API_BASE.

It serves what the gateway uses: customers, Checkout Sessions (payment and subscription mode),
Billing Portal sessions, off-session PaymentIntents (declines included), subscriptions (retrieve,
update, cancel), invoices, charges and the event log (filters, cursor pages). Requests are
form-encoded as the SDK sends them; a `sk_test_` bearer key is required; an `Idempotency-Key`
replays the first answer and refuses different parameters. The test then plays the customer and
the passing of time (`complete_checkout`, `renew_subscription`, `refund`, `dispute`, ...), and the
fake delivers the resulting events, signed, to `webhook_url`, recording each delivery. A browser can
play the customer too: a session's `url` is the fake's own hosted page (`stripe_hosted`).

Left out: the rest of Stripe's API (products, prices and refunds over HTTP, setup mode, trials,
prorations, coupons, tax, Connect, test clocks, 3-D Secure), retries of failed deliveries on a
schedule (call `redeliver`), and events Stripe sends that these flows do not need
(`customer.created`, `charge.succeeded`, `invoice.created`/`finalized`/`payment_succeeded`, the
PaymentIntent events of subscription invoices). A parameter Stripe knows but the fake does not
model is ignored, unless it would change an amount or a schedule: then the fake answers 400
naming it, rather than a number Stripe would not give.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import httpx
import stripe
from aiohttp import web

from tests.fakes import stripe_billing as billing
from tests.fakes import stripe_checkout as checkout
from tests.fakes import stripe_payments as payments
from tests.fakes.stripe_hosted import HostedCheckout
from tests.fakes.stripe_http import RecordedRequest, StripeHttp
from tests.fakes.stripe_store import Store, make_customer, make_payment_method, make_price

T = TypeVar("T")
WEBHOOK_SECRET = "whsec_test_fake"  # the default signing secret; pass the gateway's own
Events = list[dict[str, Any]]


@dataclass(frozen=True)
class Delivery:
    """One webhook POST: the status it got, or the error when no answer came."""

    event_id: str
    event_type: str
    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class FakeStripe:
    """Stripe's API on a local port, and the controls a test needs to play the customer.

    `async with FakeStripe(webhook_url=..., webhook_secret=...) as fake:` serves it from the
    test's event loop; point the SDK (or STRIPE_API_BASE) at `fake.url`. A synchronous test, whose
    blocking calls would stall that loop, uses `with fake.serving_in_thread():` and runs the async
    controls with `fake.call(fake.complete_checkout(...))`; the plain methods are safe from either.

    Events of a control method are delivered before it returns, in order, and it returns them.
    Events an API request causes (an off-session charge, a cancellation) are delivered in the
    background, as Stripe does, so they may cross the answer; `await fake.drain()` waits for them.
    """

    def __init__(
        self,
        *,
        webhook_url: str | None = None,
        webhook_secret: str = WEBHOOK_SECRET,
        api_key: str | None = None,
        webhook_transport: httpx.AsyncBaseTransport | None = None,
        webhook_timeout: float = 10.0,
    ) -> None:
        """`api_key`: accept only this key (by default any `sk_test_` key). `webhook_transport`:
        deliver through it (an httpx.ASGITransport for an app in the same loop) not the network.
        Without `webhook_url` events are only logged (and listed as undelivered)."""
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.url = ""
        self.store = Store()
        self.deliveries: list[Delivery] = []
        self._http = StripeHttp(self.store, api_key=api_key, on_events=self._send_in_background)
        self._webhook_transport = webhook_transport
        self._webhook_timeout = webhook_timeout
        self._held = False
        self._background: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- serving -------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        HostedCheckout(self.store, self.complete_checkout).add_routes(app)
        app.router.add_route("*", "/{tail:.*}", self._http.handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()  # port 0: the kernel picks a free one, no race
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.url = self.store.checkout_base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        return self.url

    async def stop(self) -> None:
        try:
            await self.drain()
        finally:
            if self._runner is not None:
                await self._runner.cleanup()
                self._runner = None

    async def __aenter__(self) -> FakeStripe:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @contextmanager
    def serving_in_thread(self, *, stop_timeout: float = 30.0) -> Iterator[FakeStripe]:
        """Serve from an event loop of the fake's own, in a thread, for synchronous tests.
        Deliveries still under way `stop_timeout` after the block are cancelled (TimeoutError)."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="fake-stripe", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        try:
            self.call(self.start())
            try:
                yield self
            finally:
                self.call(self._stop_within(stop_timeout), timeout=stop_timeout + 10)
        finally:
            self._loop = self._thread = None
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()

    async def _stop_within(self, seconds: float) -> None:
        """`stop`, on the fake's loop, with the port closed even when a delivery never ends."""
        try:
            async with asyncio.timeout(seconds):
                await self.drain()
        finally:
            for task in list(self._background):
                task.cancel()
            await asyncio.gather(*self._background, return_exceptions=True)
            runner, self._runner = self._runner, None
            if runner is not None:
                await runner.cleanup()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run one of the async controls on the fake's loop (when `serving_in_thread`)."""
        if self._loop is None:
            coroutine.close()
            raise RuntimeError("call() is for a fake serving in its own thread; await the coroutine instead")
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def _owned(self, action: Callable[[], T]) -> T:
        """Do `action` where the state lives: on the fake's loop when it serves from a thread."""
        if self._loop is None or threading.current_thread() is self._thread:
            return action()

        async def run() -> T:
            return action()

        return self.call(run())

    # -- webhooks ------------------------------------------------------------------------------

    async def deliver(
        self, event: dict[str, Any], *, secret: str | None = None, timestamp: int | None = None
    ) -> Delivery:
        """POST `event` to the webhook URL, signed (with another `secret`, or at another
        `timestamp`, to test refusals); records the delivery, and a logged event's success."""
        if self.webhook_url is None:
            raise RuntimeError("FakeStripe has no webhook_url to deliver to")
        payload = json.dumps(event, indent=2)  # Stripe's bodies are pretty-printed
        signature = stripe.WebhookSignature.generate_signature_header(
            payload, secret or self.webhook_secret, timestamp=timestamp
        )
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": signature,
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        async with httpx.AsyncClient(transport=self._webhook_transport, timeout=self._webhook_timeout) as client:
            try:
                response = await client.post(self.webhook_url, content=payload.encode(), headers=headers)
                delivery = Delivery(event["id"], event["type"], response.status_code)
            except httpx.HTTPError as error:
                delivery = Delivery(event["id"], event["type"], None, repr(error))
        self.deliveries.append(delivery)
        logged = next((s for s in self.store.events if s.event["id"] == event["id"]), None)
        if logged is not None and delivery.ok:
            logged.delivered = True
            logged.event["pending_webhooks"] = 0
        return delivery

    async def redeliver(self, event_id: str) -> Delivery:
        return await self.deliver(self.store.stored_event(event_id).event)

    def hold_deliveries(self) -> None:
        """Log new events without delivering them (they list with `delivery_success=false`)."""
        self._held = True

    def resume_deliveries(self) -> None:
        """Deliver new events again; held ones stay undelivered until `redeliver`ed."""
        self._held = False

    async def drain(self) -> None:
        """Wait until the events API requests caused have been delivered."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def _send(self, events: Events) -> Events:
        if self.webhook_url is not None and not self._held:
            for event in events:
                await self.deliver(event)
        return events

    def _send_in_background(self, events: Events) -> None:
        task = asyncio.get_running_loop().create_task(self._send(events))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _send_new(self, order: Sequence[str] | None = None) -> Events:
        events = self.store.take_outbox()
        if order:
            events.sort(key=lambda e: order.index(e["type"]) if e["type"] in order else len(order))
        return await self._send(events)

    # -- what the test sets up -----------------------------------------------------------------

    def add_price(
        self,
        price_id: str,
        *,
        unit_amount: int,
        currency: str = "usd",
        interval: str | None = None,
        interval_count: int = 1,
        product: str | None = None,
    ) -> dict[str, Any]:
        """Register a price: recurring when `interval` is day, week, month or year."""
        price = make_price(
            price_id,
            unit_amount=unit_amount,
            currency=currency,
            interval=interval,
            interval_count=interval_count,
            product=product,
        )
        return self._owned(lambda: copy.deepcopy(self.store.put(price)))

    def add_customer(self, email: str | None = None, metadata: dict[str, str] | None = None) -> str:
        customer = make_customer(email=email, metadata=dict(metadata or {}))
        return self._owned(lambda: str(self.store.put(customer)["id"]))

    def add_payment_method(self, customer: str | None = None) -> str:
        """A card, attached to `customer` when given (as a card saved earlier would be)."""

        def add() -> str:
            if customer is not None:
                self.store.get("customer", customer)
            return str(self.store.put(make_payment_method(customer))["id"])

        return self._owned(add)

    def decline_payment_method(self, payment_method_id: str, decline_code: str = "insufficient_funds") -> None:
        """Make every later charge of this card decline with `decline_code` (insufficient_funds,
        generic_decline, expired_card, authentication_required, ... worded as Stripe words them)."""
        self._owned(lambda: self.store.declines.__setitem__(payment_method_id, decline_code))

    def fail_next(self, status: int = 500, *, method: str | None = None, path: str = "/", times: int = 1) -> None:
        """Answer the next `times` requests under `path` with an API error (429: rate limited)."""
        self._owned(lambda: self._http.fail_next(status, method=method, path=path, times=times))

    # -- what the customer and the passing of time do ------------------------------------------

    async def complete_checkout(
        self, session_id: str, *, save_card: bool = False, pay: bool = True, order: Sequence[str] | None = None
    ) -> Events:
        """The customer pays at Checkout. Payment mode: checkout.session.completed and
        payment_intent.succeeded; the card is attached to the customer with setup_future_usage
        or `save_card`; `pay=False` is a delayed method (the session completes unpaid; see
        `settle_async_payment`). Subscription mode: checkout.session.completed,
        customer.subscription.created, invoice.paid. `order`: event types to deliver first."""
        checkout.complete_checkout(self.store, session_id, save_card=save_card, pay=pay)
        return await self._send_new(order)

    async def settle_async_payment(self, session_id: str, *, succeeded: bool = True) -> Events:
        checkout.settle_async_payment(self.store, session_id, succeeded=succeeded)
        return await self._send_new()

    async def expire_checkout(self, session_id: str) -> Events:
        checkout.expire_checkout(self.store, session_id)
        return await self._send_new()

    async def renew_subscription(self, subscription_id: str, *, order: Sequence[str] | None = None) -> Events:
        """The period ends: customer.subscription.updated and the next period's invoice.paid
        (invoice.payment_failed and past_due when the card is marked declining); or, when
        cancellation was scheduled, customer.subscription.deleted."""
        billing.renew_subscription(self.store, subscription_id)
        return await self._send_new(order)

    async def cancel_subscription(self, subscription_id: str, *, at_period_end: bool = True) -> Events:
        """The customer cancels in the portal: at the period's end (updated) or now (deleted)."""
        subscription = self.store.get("subscription", subscription_id)
        if at_period_end:
            billing.schedule_cancel(self.store, subscription, True)
        else:
            billing.cancel_now(self.store, subscription)
        return await self._send_new()

    async def refund(self, payment_intent_id: str, amount: int | None = None) -> Events:
        """Refund part (or by default the rest) of the intent's charge: charge.refunded."""
        payments.refund(self.store, payment_intent_id, amount)
        return await self._send_new()

    async def dispute(
        self,
        payment_intent_id: str,
        *,
        outcome: str | None = "lost",
        funds_withdrawn: bool = True,
        amount: int | None = None,
    ) -> Events:
        """The cardholder disputes the charge: charge.dispute.created, .funds_withdrawn (if
        asked), then .closed (won or lost) and, for a win after a withdrawal, .funds_reinstated.
        `outcome=None` leaves it open (see `close_dispute`)."""
        dispute = payments.open_dispute(self.store, payment_intent_id, amount=amount, funds_withdrawn=funds_withdrawn)
        if outcome is not None:
            payments.close_dispute(self.store, dispute["id"], outcome)
        return await self._send_new()

    async def close_dispute(self, dispute_id: str, outcome: str) -> Events:
        payments.close_dispute(self.store, dispute_id, outcome)
        return await self._send_new()

    # -- inspection ----------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every API request, decoded, in arrival order."""
        return self._owned(lambda: list(self._http.requests))

    @property
    def events(self) -> Events:
        """Every event so far, oldest first."""
        return self._owned(lambda: [copy.deepcopy(stored.event) for stored in self.store.events])

    def object(self, object_id: str) -> dict[str, Any]:
        """A copy of any object the fake holds (customer, session, subscription, invoice, ...)."""
        return self._owned(lambda: copy.deepcopy(self.store.objects[object_id]))

    def latest(self, object_type: str) -> dict[str, Any]:
        """The newest object of a type, such as the "checkout.session" the gateway just made."""
        found = self._owned(lambda: copy.deepcopy(self.store.latest(object_type)))
        if found is None:
            raise LookupError(f"no {object_type} yet")
        return found

    def invoice_payment_intent(self, invoice_id: str) -> str:
        """The PaymentIntent that paid (or failed to pay) an invoice, to refund or dispute it."""
        return self._owned(lambda: self.store.invoice_payments[invoice_id])
