"""Stripe for the tests, faked at the HTTP level: the SDK's requests are answered by respx
routes (and recorded, form bodies decoded), and webhook events are built in the shapes of
API version 2026-10-28.endive and signed with the SDK's own signer."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx
import respx
import stripe

from tests.support import Gateway, bearer

STRIPE_KEY = "sk_test_gateway_0123456789"
WEBHOOK_SECRET = "whsec_test_gateway_0123456789"
API_BASE = "https://api.stripe.test"
STRIPE_SETTINGS = {
    "stripe_secret_key": STRIPE_KEY,
    "stripe_webhook_secret": WEBHOOK_SECRET,
    "stripe_api_base": API_BASE,
}
_ids = itertools.count(1)
# What a customer's key may ask of payments (method, path, a valid body): refused alike to keys
# handed to apps, and answered 503 when Stripe is not configured.
PAYMENT_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/user/checkout", {"kind": "credits", "amount_usd": 10}),
    ("POST", "/user/billing-portal", None),
    ("GET", "/user/auto-topup", None),
    ("PUT", "/user/auto-topup", {"enabled": False, "threshold": 1, "amount_usd": 10}),
]


TOPUP_FEE = Decimal("0.05")  # the fee rate `stripe_env` sets


def stripe_env(api_base: str, **extra: str) -> dict[str, str]:
    """A server process's Stripe settings, for a FakeStripe serving at `api_base`."""
    return {
        "STRIPE_SECRET_KEY": STRIPE_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": api_base,
        "TOPUP_FEE_RATE": str(TOPUP_FEE),
        "PUBLIC_BASE_URL": "https://gateway.example.com",
        **extra,
    }


def form(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode()))


class StripeMock:
    """Stripe's API as respx routes: customers, Checkout, the portal, PaymentIntents."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.requests: list[tuple[str, str, dict[str, str], dict[str, str]]] = []  # method, path, form, headers
        self.declining: set[str] = set()  # payment methods whose off-session charges are declined
        self.card = "pm_card_visa"
        self.unreachable = False
        router.route(host="api.stripe.test").mock(side_effect=self._answer)

    def sent(self, path: str) -> list[dict[str, str]]:
        return [body for method, p, body, _ in self.requests if p == path and method == "POST"]

    def headers_of(self, path: str) -> list[dict[str, str]]:
        return [headers for method, p, _, headers in self.requests if p == path and method == "POST"]

    def _answer(self, request: httpx.Request) -> httpx.Response:
        if self.unreachable:
            raise httpx.ConnectError("Stripe is unreachable", request=request)
        body = form(request) if request.method == "POST" else dict(request.url.params)
        path = request.url.path
        self.requests.append((request.method, path, body, dict(request.headers)))
        n = next(_ids)
        if path == "/v1/customers":
            return httpx.Response(200, json={"id": f"cus_{n}", "object": "customer", "email": body.get("email")})
        if path == "/v1/checkout/sessions":
            session = f"cs_test_{n}"
            return httpx.Response(
                200,
                json={"id": session, "object": "checkout.session", "url": f"https://checkout.stripe.test/{session}"},
            )
        if path == "/v1/billing_portal/sessions":
            return httpx.Response(200, json={"id": f"bps_{n}", "url": f"https://billing.stripe.test/p/{n}"})
        if path.startswith("/v1/payment_intents/") and request.method == "GET":
            intent = path.rsplit("/", 1)[1]
            return httpx.Response(200, json={"id": intent, "object": "payment_intent", "payment_method": self.card})
        if path == "/v1/payment_intents":
            return self._charge(body, n)
        return httpx.Response(404, json={"error": {"type": "invalid_request_error", "message": f"no route {path}"}})

    def _charge(self, body: dict[str, str], n: int) -> httpx.Response:
        intent = {"id": f"pi_auto_{n}", "object": "payment_intent", "amount": int(body["amount"]),
                  "currency": "usd", "customer": body["customer"], "metadata": {}}  # fmt: skip
        if body["payment_method"] in self.declining:
            intent["status"] = "requires_payment_method"
            error = {"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
                     "message": "Your card has insufficient funds.", "payment_intent": intent}  # fmt: skip
            return httpx.Response(402, json={"error": error})
        return httpx.Response(200, json={**intent, "status": "succeeded", "amount_received": int(body["amount"])})


@contextmanager
def stripe_mock() -> Iterator[StripeMock]:
    with respx.mock(assert_all_called=False, assert_all_mocked=False) as router:
        router.route(host="gateway.test").pass_through()
        yield StripeMock(router)


# --- events -------------------------------------------------------------------------------


def event(event_type: str, data: dict[str, Any], *, created: float | None = None, livemode: bool = False,
          event_id: str | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "id": event_id or f"evt_{next(_ids)}_{event_type.replace('.', '_')}",
        "object": "event",
        "api_version": stripe.api_version,
        "created": int(created if created is not None else time.time()),
        "livemode": livemode,
        "type": event_type,
        "data": {"object": data},
    }


def signed(document: dict[str, Any], *, secret: str = WEBHOOK_SECRET, at: float | None = None) -> tuple[bytes, str]:
    payload = json.dumps(document)
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=int(at or time.time()))
    return payload.encode(), header


async def deliver(gateway: Gateway, document: dict[str, Any], **signing: Any) -> httpx.Response:
    payload, header = signed(document, **signing)
    return await gateway.client.post(
        "/stripe/webhook", content=payload, headers={"stripe-signature": header, "content-type": "application/json"}
    )


def checkout_completed(
    session: str, customer: str, *, cents: int, payment_intent: str, paid: bool = True, user_id: str | None = None,
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    return {
        "id": session, "object": "checkout.session", "mode": "payment", "status": "complete",
        "payment_status": "paid" if paid else "unpaid", "amount_total": cents, "amount_subtotal": cents,
        "currency": "usd", "customer": customer, "client_reference_id": user_id, "payment_intent": payment_intent,
        "metadata": metadata or {"kind": "credits"}, "livemode": False,
    }  # fmt: skip


def invoice_paid(invoice: str, customer: str, subscription: str, *, price: str, start: int, end: int,
                 cents: int = 2000, reason: str = "subscription_create") -> dict[str, Any]:  # fmt: skip
    line = {
        "id": f"il_{next(_ids)}", "object": "line_item", "amount": cents,
        "pricing": {"type": "price_details", "price_details": {"price": price, "product": "prod_plan"}},
        "period": {"start": start, "end": end},
        "parent": {"type": "subscription_item_details",
                   "subscription_item_details": {"subscription": subscription, "proration": False}},
    }  # fmt: skip
    return {
        "id": invoice, "object": "invoice", "status": "paid", "customer": customer, "amount_paid": cents,
        "billing_reason": reason, "currency": "usd",
        "parent": {"type": "subscription_details", "subscription_details": {"subscription": subscription}},
        "lines": {"object": "list", "data": [line], "has_more": False},
    }  # fmt: skip


def subscription(sub: str, customer: str, *, price: str, status: str = "active", period_end: int,
                 cancel_at_period_end: bool = False) -> dict[str, Any]:  # fmt: skip
    item = {"id": f"si_{next(_ids)}", "price": {"id": price, "object": "price"}, "current_period_end": period_end,
            "current_period_start": period_end - 30 * 86_400}  # fmt: skip
    return {
        "id": sub, "object": "subscription", "customer": customer, "status": status,
        "cancel_at_period_end": cancel_at_period_end, "items": {"object": "list", "data": [item]},
    }  # fmt: skip


def charge_refunded(charge: str, payment_intent: str, *, cents: int, refunded: int) -> dict[str, Any]:
    return {"id": charge, "object": "charge", "amount": cents, "amount_captured": cents, "amount_refunded": refunded,
            "payment_intent": payment_intent, "refunded": refunded >= cents}  # fmt: skip


def dispute(dispute_id: str, payment_intent: str, *, status: str, cents: int) -> dict[str, Any]:
    return {"id": dispute_id, "object": "dispute", "amount": cents, "charge": f"ch_{dispute_id}",
            "payment_intent": payment_intent, "status": status}  # fmt: skip


def intent(payment_intent: str, *, cents: int, attempt: str | None, status: str = "succeeded",
           error: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    return {"id": payment_intent, "object": "payment_intent", "amount": cents,
            "amount_received": cents if status == "succeeded" else 0, "currency": "usd", "status": status,
            "metadata": {"gateway_auto_topup": attempt} if attempt else {}, "last_payment_error": error}  # fmt: skip


async def buy(gateway: Gateway, api_key: str, **body: Any) -> dict[str, Any]:
    response = await gateway.client.post("/user/checkout", json=body, headers=bearer(api_key))
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found
