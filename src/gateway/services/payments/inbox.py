"""The webhook's inbox: an event is verified (Stripe's signature on the raw bytes, not too
old, not from the future, from this key's mode), then stored once and applied in the same
transaction — so a replay, a redelivery or twelve concurrent deliveries apply it once. An
event that cannot be applied (the database is away) is not stored: the webhook answers
non-2xx and Stripe delivers it again.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import orjson
import stripe

from gateway.db.database import Database, Tx, retrying
from gateway.db.payments import customers, events
from gateway.errors import InvalidRequest, ServiceUnavailable
from gateway.services.keys.authenticate import KeyAuthenticator
from gateway.services.operations import metrics
from gateway.services.payments import events_plans, events_topups
from gateway.services.payments.auto_topup import AutoTopUps
from gateway.services.payments.config import Payments
from gateway.services.payments.event import Applied, Context, Event, Outcome, Prepared, ignored, text

TOLERANCE_SECONDS = 300

Handler = Callable[[Tx, Event, Context, Prepared], Awaitable[Applied]]
HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": events_topups.checkout_paid,
    "checkout.session.async_payment_succeeded": events_topups.checkout_paid,
    "payment_intent.succeeded": events_topups.auto_topup_paid,
    "payment_intent.payment_failed": events_topups.auto_topup_failed,
    "charge.refunded": events_topups.refunded,
    "charge.dispute.funds_withdrawn": events_topups.disputed,
    "charge.dispute.funds_reinstated": events_topups.disputed,
    "charge.dispute.closed": events_topups.disputed,
    "invoice.paid": events_plans.invoice_paid,
    "customer.subscription.created": events_plans.subscription_changed,
    "customer.subscription.updated": events_plans.subscription_changed,
    "customer.subscription.deleted": events_plans.subscription_ended,
}


class InvalidSignature(InvalidRequest):
    code = "invalid_signature"
    default_message = "the Stripe-Signature header does not verify"


def verify(payments: Payments, *, payload: bytes, signature: str | None, now: float) -> dict[str, Any]:
    """The event, if Stripe signed these very bytes within the tolerance (either way in time)
    and it belongs to this key's mode; else 400."""
    if payments.webhook_secret is None:
        raise ServiceUnavailable("webhooks are not configured: set STRIPE_WEBHOOK_SECRET")
    if not signature:
        raise InvalidSignature("missing Stripe-Signature header")
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8", "replace"), signature, payments.webhook_secret, tolerance=TOLERANCE_SECONDS
        )
    except stripe.SignatureVerificationError:
        raise InvalidSignature() from None
    # The SDK checks only for age: a timestamp far ahead is refused here (a signed replay
    # cannot be saved up for later).
    stamps = [part[2:] for part in signature.split(",") if part.startswith("t=")]
    if not stamps or not stamps[0].isdigit() or int(stamps[0]) > now + TOLERANCE_SECONDS:
        raise InvalidSignature("the signature's timestamp is in the future")
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise InvalidRequest("the event is not JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("id"), str):
        raise InvalidRequest("the event has no id")
    if not same_mode(payments, document):
        mode = "live" if payments.api.livemode else "test"
        raise InvalidRequest(f"a {'live' if document.get('livemode') else 'test'}-mode event for a {mode}-mode key")
    return document


def same_mode(payments: Payments, document: dict[str, Any]) -> bool:
    """Whether the event was made in the mode of the gateway's key (test or live)."""
    return bool(document.get("livemode")) == payments.api.livemode


class Inbox:
    def __init__(self, *, db: Database, payments: Payments, auth: KeyAuthenticator, auto_topups: AutoTopUps) -> None:
        self._db = db
        self._payments = payments
        self._auth = auth
        self._auto_topups = auto_topups

    async def apply(self, document: dict[str, Any]) -> Outcome | Literal["duplicate"]:
        """Apply one event once: "applied", "ignored" (nothing to do) or "duplicate" — each
        counted by type (`other` for types the gateway does not act on) and outcome, as is a
        failure ("failed": Stripe delivers it again)."""
        event = _event(document)
        kind = event.type if event.type in HANDLERS else metrics.OTHER
        try:
            outcome = await self._apply(event)
        except BaseException:
            metrics.payment_event(kind, "failed")
            raise
        metrics.payment_event(kind, outcome)
        return outcome

    async def _apply(self, event: Event) -> Outcome | Literal["duplicate"]:
        async with self._db.read() as tx:
            if await events.known(tx, event.id):
                return "duplicate"
        prepared = await self._prepare(event)
        applied = await retrying(lambda: self._apply_once(event, prepared))
        if applied is None:
            return "duplicate"
        if applied.plan_changed and applied.user_id is not None:
            await self._auth.forget_user(applied.user_id)  # their cached keys carry their plan
        if applied.auto_topup_changed:
            await self._auto_topups.changed()
        return applied.outcome

    async def _apply_once(self, event: Event, prepared: Prepared) -> Applied | None:
        handler = HANDLERS.get(event.type)
        context = Context(payments=self._payments, now=time.time())
        async with self._db.transaction() as tx:
            if not await events.claim(tx, event_id=event.id, event_type=event.type, created_at=event.created,
                                      now=context.now):  # fmt: skip
                return None  # another delivery stored it first
            applied = ignored("not an event this gateway acts on") if handler is None else (
                await handler(tx, event, context, prepared)
            )  # fmt: skip
            await events.record(
                tx, event_id=event.id, user_id=applied.user_id, amount=applied.amount, shortfall=applied.shortfall,
                outcome=applied.outcome, detail=applied.detail,
            )  # fmt: skip
        return applied

    async def _prepare(self, event: Event) -> Prepared:
        """The one call to Stripe an event may need, made before its transaction: the card a
        top-up saved (kept for auto top-up only when the customer asked for it)."""
        if event.type not in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
            return Prepared()
        session_id, payment_intent = text(event.object, "id"), text(event.object, "payment_intent")
        if session_id is None or payment_intent is None:
            return Prepared()
        async with self._db.read() as tx:
            ours = await customers.checkout(tx, session_id)
        if ours is None or not ours.save_card:
            return Prepared()
        return Prepared(payment_method=await self._payments.api.payment_method_of(payment_intent))


def _event(document: dict[str, Any]) -> Event:
    data = document.get("data")
    found = data.get("object") if isinstance(data, dict) else None
    created = document.get("created")
    return Event(
        id=str(document["id"]),
        type=str(document.get("type") or ""),
        created=float(created) if isinstance(created, int | float) and not isinstance(created, bool) else 0.0,
        object=found if isinstance(found, dict) else {},
    )
