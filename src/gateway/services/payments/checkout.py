"""Buying: a Checkout Session for credits (payment mode, the amount computed here) or for a
plan (subscription mode, the plan's Stripe price), and the Billing Portal for customers who
have paid before. Each user gets one Stripe customer, made before their first checkout, so
every later event names the user through it — whatever order the events come in."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from gateway.db.accounts import users
from gateway.db.database import Database
from gateway.db.payments import customers
from gateway.db.payments.customers import CheckoutRow
from gateway.errors import Forbidden, InvalidRequest, NotFound
from gateway.ids import random_hex
from gateway.services.keys.authenticate import Principal
from gateway.services.payments.config import Payments, cents_of
from gateway.services.payments.stripe_api import Session
from gateway.services.plans.book import PlanBook


async def customer_for(db: Database, payments: Payments, *, user_id: str) -> str:
    """The user's Stripe customer, made on first need (the same one, whichever process asks:
    the request to Stripe is idempotent per user)."""
    async with db.read() as tx:
        found = await customers.of_user(tx, user_id)
        user = None if found is not None else await users.get(tx, user_id)
    if found is not None:
        return found.customer_id
    if user is None:
        raise NotFound("no such user")
    customer_id = await payments.api.create_customer(user_id=user_id, email=user.email)
    async with db.transaction() as tx:
        await customers.insert(tx, user_id=user_id, customer_id=customer_id, now=time.time())
        stored = await customers.of_user(tx, user_id)
    return stored.customer_id if stored else customer_id


class BillingNotAllowed(Forbidden):
    code = "billing_not_allowed"
    default_message = (
        "billing needs a key without a spend limit, request cap or allowlist (keys handed to apps may not pay)"
    )


def check_billing_key(principal: Principal) -> None:
    """Paying, saving cards and opening the portal are for the account's own keys: a key given a
    spend limit, a request cap or an allowlist is one handed to an app, and may not."""
    if principal.limited_spend or principal.restricted:
        raise BillingNotAllowed()


def _idempotency_key(user_id: str, client_key: str | None) -> str:
    """Ours, per checkout: a client's retry with its own Idempotency-Key opens no second session."""
    return f"gw-checkout-{user_id}-{client_key or random_hex(24)}"


def _return_urls(payments: Payments) -> dict[str, str]:
    base = payments.public_base_url
    return {
        "success_url": f"{base}/?checkout=success&session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{base}/?checkout=cancelled",
    }


async def buy_credits(
    db: Database, payments: Payments, *, user_id: str, amount_usd: Decimal, save_card: bool, client_key: str | None
) -> Session:
    """A Checkout Session for `amount_usd` of credits (granted when Stripe says it was paid)."""
    cents = cents_of(amount_usd)
    customer = await customer_for(db, payments, user_id=user_id)
    params: dict[str, Any] = {
        "mode": "payment",
        "customer": customer,
        "client_reference_id": user_id,
        "line_items": [
            {
                "price_data": {"currency": "usd", "unit_amount": cents, "product_data": {"name": "Gateway credits"}},
                "quantity": 1,
            }
        ],
        "metadata": {"kind": "credits"},
        **_return_urls(payments),
    }
    if save_card:  # kept on the customer for auto top-up
        params["payment_intent_data"] = {"setup_future_usage": "off_session"}
    session = await payments.api.create_checkout(params, idempotency_key=_idempotency_key(user_id, client_key))
    await _remember(db, CheckoutRow(session.id, user_id, "credits", cents, None, save_card))
    return session


async def buy_plan(
    db: Database, payments: Payments, book: PlanBook, *, user_id: str, plan_id: str, client_key: str | None
) -> Session:
    """A subscription-mode Checkout Session for the plan's Stripe price."""
    plan = await book.find(plan_id)
    if plan.stripe_price_id is None:
        raise InvalidRequest(f"the plan {plan.id!r} cannot be bought: it has no Stripe price", param="plan_id")
    customer = await customer_for(db, payments, user_id=user_id)
    params: dict[str, Any] = {
        "mode": "subscription",
        "customer": customer,
        "client_reference_id": user_id,
        "line_items": [{"price": plan.stripe_price_id, "quantity": 1}],
        "subscription_data": {"metadata": {"user_id": user_id, "plan_id": plan.id}},
        "metadata": {"kind": "plan", "plan_id": plan.id},
        **_return_urls(payments),
    }
    session = await payments.api.create_checkout(params, idempotency_key=_idempotency_key(user_id, client_key))
    await _remember(db, CheckoutRow(session.id, user_id, "plan", None, plan.id, False))
    return session


async def _remember(db: Database, checkout: CheckoutRow) -> None:
    async with db.transaction() as tx:
        await customers.insert_checkout(tx, checkout, now=time.time())


async def billing_portal(db: Database, payments: Payments, *, user_id: str) -> str:
    """A Billing Portal session (cards, invoices, cancelling, switching plans), for a
    customer who has paid before."""
    async with db.read() as tx:
        found = await customers.of_user(tx, user_id)
    if found is None or not found.has_paid:
        raise NotFound("no payments yet: the billing portal opens after a first purchase")
    return await payments.api.create_portal(customer=found.customer_id, return_url=payments.public_base_url)
