"""The fake Stripe account's state: every object by id, the event log, and the outbox of
events not yet handed to the webhook sender; plus builders for objects several flows share."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.stripe_wire import invalid, missing, new_id

API_VERSION = "2026-10-28.endive"
DISPUTE_FEE = 1500  # what Stripe charges per dispute in the US, in cents
# Stripe spells a few missing-object messages its own way.
_KIND_NAMES = {"payment_method": "PaymentMethod"}


def now() -> int:
    return int(time.time())


def base(object_type: str, prefix: str, **fields: Any) -> dict[str, Any]:
    return {"id": new_id(prefix), "object": object_type, "created": now(), "livemode": False, **fields}


@dataclass
class StoredEvent:
    event: dict[str, Any]
    delivered: bool = False


@dataclass
class LineItem:
    price: dict[str, Any]
    quantity: int


@dataclass
class Store:
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[StoredEvent] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    declines: dict[str, str] = field(default_factory=dict)  # payment method id -> decline code
    # The API request being served, for `event.request`; None for what the customer does.
    request: dict[str, str | None] = field(default_factory=lambda: {"id": None, "idempotency_key": None})
    # What a Checkout Session keeps but does not show: its line items and *_data params.
    line_items: dict[str, list[LineItem]] = field(default_factory=dict)
    session_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoice_payments: dict[str, str] = field(default_factory=dict)  # invoice id -> payment intent id
    checkout_base: str = "https://checkout.stripe.test"  # where sessions' hosted pages are (the fake, once serving)

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.objects[obj["id"]] = obj
        return obj

    def get(self, object_type: str, object_id: str, *, param: str = "id", status: int = 404) -> dict[str, Any]:
        found = self.objects.get(object_id)
        if found is None or found["object"] != object_type:
            raise missing(_KIND_NAMES.get(object_type, object_type), object_id, param=param, status=status)
        return found

    def latest(self, object_type: str) -> dict[str, Any] | None:
        matching = [o for o in self.objects.values() if o["object"] == object_type]
        return matching[-1] if matching else None

    def emit(self, event_type: str, obj: dict[str, Any], previous: dict[str, Any] | None = None) -> dict[str, Any]:
        """Log an event carrying a snapshot of `obj` and queue it for delivery."""
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if previous is not None:
            data["previous_attributes"] = copy.deepcopy(previous)
        event = base(
            "event",
            "evt",
            api_version=API_VERSION,
            data=data,
            pending_webhooks=1,
            request=dict(self.request),
            type=event_type,
        )
        self.events.append(StoredEvent(event))
        self.outbox.append(event)
        return event

    def take_outbox(self) -> list[dict[str, Any]]:
        taken, self.outbox = self.outbox, []
        return taken

    def stored_event(self, event_id: str) -> StoredEvent:
        for stored in self.events:
            if stored.event["id"] == event_id:
                return stored
        raise missing("event", event_id)

    def expand(self, obj: dict[str, Any], paths: list[str]) -> dict[str, Any]:
        """A copy of `obj` with the ids at each dotted path replaced by their objects."""
        result = copy.deepcopy(obj)
        for path in paths:
            if result.get("object") == "list" and path.startswith("data."):
                for item in result["data"]:
                    self._expand(item, path.split(".")[1:], path)
            else:
                self._expand(result, path.split("."), path)
        return result

    def _expand(self, node: dict[str, Any], parts: list[str], path: str) -> None:
        value = node.get(parts[0], ...)
        if isinstance(value, str):
            if value not in self.objects:
                raise invalid(f"This property cannot be expanded ({path}).", param="expand")
            value = node[parts[0]] = copy.deepcopy(self.objects[value])
        if not (value is None or isinstance(value, dict)):
            raise invalid(f"This property cannot be expanded ({path}).", param="expand")
        if value is not None and len(parts) > 1:
            self._expand(value, parts[1:], path)

    def charge_of(self, payment_intent_id: str) -> dict[str, Any]:
        intent = self.get("payment_intent", payment_intent_id)
        if not intent.get("latest_charge"):
            raise ValueError(f"{payment_intent_id} has no charge")
        return self.get("charge", intent["latest_charge"])


def make_customer(*, email: str | None, metadata: dict[str, str]) -> dict[str, Any]:
    return base(
        "customer",
        "cus",
        address=None,
        balance=0,
        currency=None,
        default_source=None,
        delinquent=False,
        description=None,
        email=email,
        invoice_prefix=new_id("x", 8)[2:].upper(),
        invoice_settings={
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        metadata=metadata,
        name=None,
        phone=None,
        preferred_locales=[],
        shipping=None,
        tax_exempt="none",
        test_clock=None,
    )


def make_price(
    price_id: str,
    *,
    unit_amount: int,
    currency: str,
    interval: str | None,
    interval_count: int = 1,
    product: str | None = None,
) -> dict[str, Any]:
    recurring = None
    if interval is not None:
        recurring = {
            "interval": interval,
            "interval_count": interval_count,
            "meter": None,
            "trial_period_days": None,
            "usage_type": "licensed",
        }
    return {
        **base("price", "price"),
        "id": price_id,
        "active": True,
        "billing_scheme": "per_unit",
        "currency": currency,
        "lookup_key": None,
        "metadata": {},
        "nickname": None,
        "product": product or new_id("prod", 14),
        "recurring": recurring,
        "tax_behavior": "unspecified",
        "type": "recurring" if recurring else "one_time",
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
    }


def make_payment_method(customer: str | None, email: str | None = None) -> dict[str, Any]:
    return base(
        "payment_method",
        "pm",
        allow_redisplay="unspecified",
        billing_details={"address": None, "email": email, "name": None, "phone": None},
        card={
            "brand": "visa",
            "country": "US",
            "exp_month": 12,
            "exp_year": 2034,
            "funding": "credit",
            "last4": "4242",
        },
        customer=customer,
        metadata={},
        type="card",
    )


def make_payment_intent(
    *, amount: int, currency: str, customer: str | None, metadata: dict[str, str], setup_future_usage: str | None
) -> dict[str, Any]:
    intent = base(
        "payment_intent",
        "pi",
        amount=amount,
        amount_capturable=0,
        amount_received=0,
        canceled_at=None,
        capture_method="automatic_async",
        confirmation_method="automatic",
        currency=currency,
        customer=customer,
        description=None,
        last_payment_error=None,
        latest_charge=None,
        metadata=metadata,
        next_action=None,
        payment_method=None,
        payment_method_types=["card"],
        setup_future_usage=setup_future_usage,
        status="requires_payment_method",
    )
    intent["client_secret"] = f"{intent['id']}_secret_{new_id('x')[2:]}"
    return intent


def make_charge(intent: dict[str, Any], *, failure: tuple[str, str] | None = None) -> dict[str, Any]:
    """The charge behind a PaymentIntent's attempt: succeeded, or failed with `(code, message)`."""
    paid = failure is None
    return base(
        "charge",
        "ch",
        amount=intent["amount"],
        amount_captured=intent["amount"] if paid else 0,
        amount_refunded=0,
        balance_transaction=new_id("txn") if paid else None,
        captured=paid,
        currency=intent["currency"],
        customer=intent["customer"],
        disputed=False,
        failure_code=failure[0] if failure else None,
        failure_message=failure[1] if failure else None,
        metadata=dict(intent["metadata"]),
        paid=paid,
        payment_intent=intent["id"],
        payment_method=intent["payment_method"],
        refunded=False,
        status="succeeded" if paid else "failed",
    )


def pay_intent(store: Store, intent: dict[str, Any]) -> dict[str, Any]:
    """Mark `intent` succeeded with a fresh charge; returns the charge."""
    charge = store.put(make_charge(intent))
    intent.update(status="succeeded", amount_received=intent["amount"], latest_charge=charge["id"])
    return charge
