"""Payment routes: buying credits and plans, the billing portal, auto top-up (Bearer key),
Stripe's webhook (its signature), and the payment history (admins). Without
STRIPE_SECRET_KEY they answer 503."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response

from gateway.deps import BillingKey, PageAfter, PageLimit, PaymentsDep, RuntimeDep, current_key
from gateway.routes.base import GatewayRoute, admin_router
from gateway.routes.openapi import errors
from gateway.routes.responses import ok
from gateway.schemas.common import ListOf, page_of
from gateway.schemas.payments import (
    AutoTopUpIn,
    AutoTopUpOut,
    CheckoutIn,
    CheckoutOut,
    PaymentEventOut,
    PortalOut,
    WebhookOut,
)
from gateway.services.payments import checkout as buying
from gateway.services.payments import history, inbox

# Bearer key: the account's own (no spend limit, request cap or allowlist), else 403.
customer = APIRouter(
    prefix="/user",
    route_class=GatewayRoute,
    tags=["payments"],
    dependencies=[Depends(current_key)],
    responses=errors(401, 403),
)
stripe = APIRouter(route_class=GatewayRoute, tags=["payments"], responses=errors())
admin = admin_router()
ClientKey = Annotated[
    str | None, Header(alias="idempotency-key", max_length=200, description="a retry opens no second session")
]


@customer.post("/checkout", status_code=201, response_model=CheckoutOut, responses=errors(404, 409, 502))
async def start_checkout(
    payload: CheckoutIn, principal: BillingKey, runtime: RuntimeDep, payments: PaymentsDep, client_key: ClientKey = None
) -> Response:
    """A Stripe Checkout Session for credits (the amount computed here; credits are granted
    when Stripe says it was paid) or for a plan (a subscription to its Stripe price)."""
    if payload.kind == "credits" and payload.amount_usd is not None:
        session = await buying.buy_credits(
            runtime.db, payments.config, user_id=principal.user_id, amount_usd=payload.amount_usd,
            save_card=payload.save_card, client_key=client_key,
        )  # fmt: skip
    else:
        session = await buying.buy_plan(
            runtime.db, payments.config, runtime.plans, user_id=principal.user_id, plan_id=payload.plan_id or "",
            client_key=client_key,
        )  # fmt: skip
    return ok(CheckoutOut(checkout_url=session.url, session_id=session.id), status_code=201)


@customer.post("/billing-portal", response_model=PortalOut, responses=errors(404, 502))
async def billing_portal(principal: BillingKey, runtime: RuntimeDep, payments: PaymentsDep) -> Response:
    """Stripe's Billing Portal (cards, invoices, cancelling, switching plans), for a customer
    who has paid before."""
    url = await buying.billing_portal(runtime.db, payments.config, user_id=principal.user_id)
    return ok(PortalOut(url=url))


@customer.get("/auto-topup", response_model=AutoTopUpOut)
async def get_auto_topup(principal: BillingKey, payments: PaymentsDep) -> Response:
    return ok(AutoTopUpOut.of(await payments.auto_topups.get(user_id=principal.user_id)))


@customer.put("/auto-topup", response_model=AutoTopUpOut)
async def put_auto_topup(payload: AutoTopUpIn, principal: BillingKey, payments: PaymentsDep) -> Response:
    """When credits fall below `threshold`, buy `amount_usd` with the saved card (a decline
    turns it off; `disabled_reason` says why)."""
    found = await payments.auto_topups.put(
        user_id=principal.user_id,
        enabled=payload.enabled,
        threshold=payload.threshold,
        amount_usd=payload.amount_usd,
    )
    return ok(AutoTopUpOut.of(found))


@stripe.post("/stripe/webhook", response_model=WebhookOut, responses=errors(502))
async def stripe_webhook(request: Request, payments: PaymentsDep) -> Response:
    """Stripe's events, verified by their signature on the raw bytes and applied once each;
    anything but a 2xx makes Stripe deliver the event again."""
    document = inbox.verify(
        payments.config, payload=await request.body(), signature=request.headers.get("stripe-signature"),
        now=time.time(),
    )  # fmt: skip
    outcome = await payments.inbox.apply(document)
    return ok(WebhookOut(outcome=outcome))


@admin.get("/payments", response_model=ListOf[PaymentEventOut])
async def payment_history(
    runtime: RuntimeDep, payments: PaymentsDep, limit: PageLimit = 20, after: PageAfter = None
) -> Response:
    """Every webhook event (newest first): type, user, credits granted or taken back (with
    any shortfall), outcome."""
    found = await history.events_page(runtime.db, limit=limit + 1, after=after)
    return ok(page_of([PaymentEventOut.of(e) for e in found], limit=limit))
