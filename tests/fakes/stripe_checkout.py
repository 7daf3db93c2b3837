"""The customer at Checkout: paying (at once, or later by a delayed method such as a bank debit)
or letting the session expire. Subscription mode hands over to billing for the subscription and
its first invoice."""

from __future__ import annotations

from typing import Any

from tests.fakes import stripe_billing as billing
from tests.fakes import stripe_payments as payments
from tests.fakes.stripe_store import Store, make_customer, make_payment_intent, make_payment_method, pay_intent

GUEST_EMAIL = "buyer@example.com"  # what the customer types when nothing was prefilled


def complete_checkout(store: Store, session_id: str, *, save_card: bool, pay: bool) -> None:
    session = _open_session(store, session_id)
    if session["mode"] == "payment":
        _complete_payment(store, session, save_card=save_card, pay=pay)
    elif not pay:
        raise ValueError("pay=False (a delayed payment method) is modelled for payment mode only")
    else:
        _complete_subscription(store, session)


def _complete_payment(store: Store, session: dict[str, Any], *, save_card: bool, pay: bool) -> None:
    """A PaymentIntent for the total; the card is attached to the customer (when there is one)
    if the session asked for setup_future_usage or the customer ticked "save my card"."""
    data = store.session_params[session["id"]]["payment_intent_data"]
    future_usage = data.get("setup_future_usage")
    customer = (
        _customer(store, session) if session["customer_creation"] == "always" else _given_customer(store, session)
    )
    keeps_card = customer is not None and (future_usage is not None or save_card)
    method = store.put(
        make_payment_method(customer["id"] if customer and keeps_card else None, _email(session, customer))
    )
    intent = make_payment_intent(
        amount=session["amount_total"],
        currency=session["currency"],
        customer=customer["id"] if customer else None,
        metadata=dict(data.get("metadata", {})),
        setup_future_usage=future_usage,
    )
    intent["payment_method"] = method["id"]
    store.put(intent)
    if pay:
        pay_intent(store, intent)
    else:
        intent["status"] = "processing"
    _finish(session, customer, payment_intent=intent["id"], payment_status="paid" if pay else "unpaid")
    store.emit("checkout.session.completed", session)
    if pay:
        store.emit("payment_intent.succeeded", intent)


def _complete_subscription(store: Store, session: dict[str, Any]) -> None:
    customer = _customer(store, session)
    subscription, invoice = billing.start_subscription(
        store,
        customer=customer,
        currency=session["currency"],
        line_items=store.line_items[session["id"]],
        data=store.session_params[session["id"]]["subscription_data"],
    )
    _finish(session, customer, payment_status="paid", subscription=subscription["id"], invoice=invoice["id"])
    store.emit("checkout.session.completed", session)
    store.emit("customer.subscription.created", subscription)
    store.emit("invoice.paid", invoice)


def settle_async_payment(store: Store, session_id: str, *, succeeded: bool) -> None:
    """The delayed payment of a session completed with pay=False clears or fails."""
    session = store.get("checkout.session", session_id)
    intent = store.get("payment_intent", session["payment_intent"] or "")
    if intent["status"] != "processing":
        raise ValueError(f"{intent['id']} is {intent['status']}, not processing")
    if succeeded:
        pay_intent(store, intent)
        session["payment_status"] = "paid"
        store.emit("payment_intent.succeeded", intent)
        store.emit("checkout.session.async_payment_succeeded", session)
    else:
        payments.attempt(store, intent, "generic_decline")
        store.emit("payment_intent.payment_failed", intent)
        store.emit("checkout.session.async_payment_failed", session)


def expire_checkout(store: Store, session_id: str) -> None:
    session = _open_session(store, session_id)
    session["status"] = "expired"
    store.emit("checkout.session.expired", session)


def _open_session(store: Store, session_id: str) -> dict[str, Any]:
    session = store.get("checkout.session", session_id)
    if session["status"] != "open":
        raise ValueError(f"checkout session {session_id} is {session['status']}, not open")
    return session


def _given_customer(store: Store, session: dict[str, Any]) -> dict[str, Any] | None:
    return store.get("customer", session["customer"]) if session["customer"] else None


def _customer(store: Store, session: dict[str, Any]) -> dict[str, Any]:
    """The session's customer, or a new one Checkout creates from the email typed in."""
    given = _given_customer(store, session)
    return given or store.put(make_customer(email=session["customer_email"] or GUEST_EMAIL, metadata={}))


def _email(session: dict[str, Any], customer: dict[str, Any] | None) -> str:
    return str((customer or {}).get("email") or session["customer_email"] or GUEST_EMAIL)


def _finish(session: dict[str, Any], customer: dict[str, Any] | None, **fields: Any) -> None:
    details: dict[str, Any] = {
        "address": None,
        "email": _email(session, customer),
        "name": None,
        "phone": None,
        "tax_exempt": "none",
        "tax_ids": [],
    }
    session.update(status="complete", customer=customer["id"] if customer else None, customer_details=details, **fields)
