"""Subscriptions and their invoices, as API version endive shapes them: periods on the items
(`items.data[].current_period_*`), the subscription of an invoice under
`parent.subscription_details`, a line's price under `pricing.price_details`. Renewal at period
end, cancellation now or at period end."""

from __future__ import annotations

import calendar
import copy
from datetime import UTC, datetime
from typing import Any

from tests.fakes import stripe_payments as payments
from tests.fakes.stripe_store import LineItem, Store, base, make_payment_intent, make_payment_method, now
from tests.fakes.stripe_wire import list_object, new_id


def start_subscription(
    store: Store, *, customer: dict[str, Any], currency: str, line_items: list[LineItem], data: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A subscription to `line_items` from now, paid by a new card of the customer's; returns it
    and its first invoice (paid). `data` is Checkout's `subscription_data`."""
    method = store.put(make_payment_method(customer["id"], customer["email"]))
    start = now()
    subscription = base(
        "subscription",
        "sub",
        billing_cycle_anchor=start,
        cancel_at=None,
        cancel_at_period_end=False,
        canceled_at=None,
        cancellation_details={"comment": None, "feedback": None, "reason": None},
        collection_method="charge_automatically",
        currency=currency,
        customer=customer["id"],
        default_payment_method=method["id"],
        description=data.get("description"),
        ended_at=None,
        latest_invoice=None,
        metadata=dict(data.get("metadata", {})),
        start_date=start,
        status="active",
        trial_end=None,
        trial_start=None,
    )
    recurring = line_items[0].price["recurring"]
    end = add_interval(start, recurring["interval"], recurring["interval_count"])
    items = [
        base(
            "subscription_item",
            "si",
            current_period_end=end,
            current_period_start=start,
            metadata={},
            price=copy.deepcopy(item.price),
            quantity=item.quantity,
            subscription=subscription["id"],
        )
        for item in line_items
    ]
    subscription["items"] = list_object(items, url=f"/v1/subscription_items?subscription={subscription['id']}")
    store.put(subscription)
    invoice = _invoice(store, subscription, reason="subscription_create", covers=(start, start))
    subscription["latest_invoice"] = invoice["id"]
    return subscription, invoice


def _invoice(store: Store, subscription: dict[str, Any], *, reason: str, covers: tuple[int, int]) -> dict[str, Any]:
    """The subscription's invoice for its current items' period, paid with its default card
    unless that card is marked declining (then left open)."""
    invoice = base("invoice", "in")
    lines = [_invoice_line(invoice["id"], subscription, item) for item in subscription["items"]["data"]]
    total = sum(line["amount"] for line in lines)
    customer = store.get("customer", subscription["customer"])
    intent = make_payment_intent(
        amount=total, currency=subscription["currency"], customer=customer["id"], metadata={}, setup_future_usage=None
    )
    intent["payment_method"] = subscription["default_payment_method"]
    store.put(intent)
    store.invoice_payments[invoice["id"]] = intent["id"]
    paid = total == 0 or payments.attempt(store, intent) is None
    invoice.update(
        account_country="US",
        amount_due=total,
        amount_paid=total if paid else 0,
        amount_remaining=0 if paid else total,
        attempt_count=1,
        attempted=True,
        billing_reason=reason,
        collection_method="charge_automatically",
        currency=subscription["currency"],
        customer=customer["id"],
        customer_email=customer["email"],
        hosted_invoice_url=f"https://invoice.stripe.test/i/{invoice['id']}",
        lines=list_object(lines, url=f"/v1/invoices/{invoice['id']}/lines"),
        metadata={},
        number=f"{customer['invoice_prefix']}-{len(store.invoice_payments):04d}",
        parent={
            "quote_details": None,
            "subscription_details": {
                "metadata": copy.deepcopy(subscription["metadata"]),
                "subscription": subscription["id"],
            },
            "type": "subscription_details",
        },
        period_end=covers[1],
        period_start=covers[0],
        status="paid" if paid else "open",
        status_transitions={
            "finalized_at": invoice["created"],
            "marked_uncollectible_at": None,
            "paid_at": invoice["created"] if paid else None,
            "voided_at": None,
        },
        subtotal=total,
        total=total,
    )
    return store.put(invoice)


def _invoice_line(invoice_id: str, subscription: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    price = item["price"]
    amount = price["unit_amount"] * item["quantity"]
    return {
        "id": new_id("il"),
        "object": "line_item",
        "amount": amount,
        "currency": price["currency"],
        "description": f"{item['quantity']} × {price['product']}",
        "discountable": True,
        "discounts": [],
        "invoice": invoice_id,
        "livemode": False,
        "metadata": {},
        "parent": {
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": subscription["id"],
                "subscription_item": item["id"],
            },
            "type": "subscription_item_details",
        },
        "period": {"end": item["current_period_end"], "start": item["current_period_start"]},
        "pricing": {
            "price_details": {"price": price["id"], "product": price["product"]},
            "type": "price_details",
            "unit_amount_decimal": price["unit_amount_decimal"],
        },
        "quantity": item["quantity"],
        "subtotal": amount,
        "taxes": [],
    }


def add_interval(anchor: int, interval: str, count: int) -> int:
    """`anchor` moved on by `count` intervals, on the calendar as Stripe bills (31 Jan + 1
    month = end of February)."""
    if interval in ("day", "week"):
        return anchor + count * (7 if interval == "week" else 1) * 86400
    moment = datetime.fromtimestamp(anchor, UTC)
    months = moment.month - 1 + count * (12 if interval == "year" else 1)
    year, month = moment.year + months // 12, months % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return int(moment.replace(year=year, month=month, day=day).timestamp())


def _next_period_end(subscription: dict[str, Any], after: int) -> int:
    """The first period end after `after`, counted from the anchor so that short months do not
    drift the billing day."""
    recurring = subscription["items"]["data"][0]["price"]["recurring"]
    anchor, cycles = subscription["billing_cycle_anchor"], 1
    while add_interval(anchor, recurring["interval"], cycles * recurring["interval_count"]) <= after:
        cycles += 1
    return add_interval(anchor, recurring["interval"], cycles * recurring["interval_count"])


def renew_subscription(store: Store, subscription_id: str) -> None:
    """The end of the current period: the subscription ends if its cancellation was scheduled,
    otherwise it moves to the next period and bills it (past due if the card declines)."""
    subscription = store.get("subscription", subscription_id)
    _not_canceled(subscription)
    old_end = subscription["items"]["data"][0]["current_period_end"]
    old_start = subscription["items"]["data"][0]["current_period_start"]
    if subscription["cancel_at_period_end"]:
        _end(store, subscription, ended_at=old_end)
        return
    previous = {
        "items": copy.deepcopy(subscription["items"]),
        "latest_invoice": subscription["latest_invoice"],
    }
    new_end = _next_period_end(subscription, old_end)
    for item in subscription["items"]["data"]:
        item.update(current_period_start=old_end, current_period_end=new_end)
    invoice = _invoice(store, subscription, reason="subscription_cycle", covers=(old_start, old_end))
    status = "active" if invoice["status"] == "paid" else "past_due"
    if status != subscription["status"]:
        previous["status"] = subscription["status"]
    subscription.update(latest_invoice=invoice["id"], status=status)
    store.emit("customer.subscription.updated", subscription, previous)
    store.emit("invoice.paid" if invoice["status"] == "paid" else "invoice.payment_failed", invoice)


def schedule_cancel(
    store: Store, subscription: dict[str, Any], at_period_end: bool, previous: dict[str, Any] | None = None
) -> None:
    """Set (or lift) cancellation at the end of the current period."""
    _not_canceled(subscription)
    previous = dict(previous or {})
    for name in ("cancel_at", "cancel_at_period_end", "canceled_at", "cancellation_details"):
        previous[name] = copy.deepcopy(subscription[name])
    period_end = subscription["items"]["data"][0]["current_period_end"]
    subscription.update(
        cancel_at=period_end if at_period_end else None,
        cancel_at_period_end=at_period_end,
        canceled_at=now() if at_period_end else None,
        cancellation_details={
            "comment": None,
            "feedback": None,
            "reason": "cancellation_requested" if at_period_end else None,
        },
    )
    store.emit("customer.subscription.updated", subscription, previous)


def cancel_now(store: Store, subscription: dict[str, Any]) -> None:
    _not_canceled(subscription)
    _end(store, subscription, ended_at=now())


def _not_canceled(subscription: dict[str, Any]) -> None:
    if subscription["status"] == "canceled":
        raise ValueError(f"{subscription['id']} is already canceled")


def _end(store: Store, subscription: dict[str, Any], *, ended_at: int) -> None:
    subscription.update(status="canceled", ended_at=ended_at, canceled_at=subscription["canceled_at"] or ended_at)
    subscription["cancellation_details"]["reason"] = "cancellation_requested"
    store.emit("customer.subscription.deleted", subscription)
