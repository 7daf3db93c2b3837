"""Buying credits and plans: what the gateway asks of Stripe (faked with respx: the form
bodies are checked), what it answers, and what it refuses."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.stripe_support import (
    PAYMENT_ROUTES,
    STRIPE_SETTINGS,
    checkout_completed,
    deliver,
    event,
    stripe_mock,
)
from tests.support import ADMIN, Gateway, bearer


@pytest.fixture
def stripe_settings() -> dict[str, Any]:
    return {**STRIPE_SETTINGS, "topup_fee_rate": "0.05", "public_base_url": "https://gw.example.com"}


async def test_buying_credits_opens_a_payment_checkout_the_server_prices(
    gateway_factory: Any, stripe_settings: dict[str, Any]
) -> None:
    async with gateway_factory(**stripe_settings) as gateway:
        account = await gateway.customer("0", email="buyer@example.com")
        with stripe_mock() as stripe:
            bought = await gateway.client.post(
                "/user/checkout", json={"kind": "credits", "amount_usd": "12.50", "save_card": True},
                headers={**bearer(account["api_key"]), "idempotency-key": "order-17"},
            )  # fmt: skip
            again = await gateway.client.post(
                "/user/checkout", json={"kind": "credits", "amount_usd": 20}, headers=bearer(account["api_key"])
            )
        assert bought.status_code == 201, bought.text
        assert bought.json()["checkout_url"].startswith("https://checkout.stripe.test/")
        assert again.status_code == 201
        (customer,) = stripe.sent("/v1/customers")  # one customer per user, made once
        assert customer["email"] == "buyer@example.com" and customer["metadata[user_id]"] == account["user_id"]
        first, second = stripe.sent("/v1/checkout/sessions")
        assert first["mode"] == "payment"
        assert first["line_items[0][price_data][unit_amount]"] == "1250"
        assert first["line_items[0][price_data][currency]"] == "usd"
        assert first["line_items[0][quantity]"] == "1"
        assert first["client_reference_id"] == account["user_id"]
        assert first["customer"].startswith("cus_")
        assert first["payment_intent_data[setup_future_usage]"] == "off_session"
        assert first["success_url"].startswith("https://gw.example.com/")
        assert "payment_intent_data[setup_future_usage]" not in second
        assert second["line_items[0][price_data][unit_amount]"] == "2000"
        keys = [h["idempotency-key"] for h in stripe.headers_of("/v1/checkout/sessions")]
        assert keys[0] == f"gw-checkout-{account['user_id']}-order-17"
        assert keys[1].startswith(f"gw-checkout-{account['user_id']}-") and keys[1] != keys[0]


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "credits", "amount_usd": 4.99},
        {"kind": "credits", "amount_usd": "10000.01"},
        {"kind": "credits", "amount_usd": "12.345"},
        {"kind": "credits", "amount_usd": "1e3x"},
        {"kind": "credits", "amount_usd": True},
        {"kind": "credits", "amount_usd": None},
        {"kind": "credits"},
        {"kind": "credits", "amount_usd": 10, "plan_id": "pro"},
        {"kind": "gift", "amount_usd": 10},
        {"kind": "plan"},
        {"kind": "plan", "plan_id": "pro", "amount_usd": 10},
        {"kind": "credits", "amount_usd": 10, "unknown": 1},
    ],
)
async def test_bad_checkouts_are_refused_before_stripe_is_asked(
    gateway_factory: Any, stripe_settings: dict[str, Any], body: dict[str, Any]
) -> None:
    async with gateway_factory(**stripe_settings) as gateway:
        account = await gateway.customer("0")
        with stripe_mock() as stripe:
            refused = await gateway.client.post("/user/checkout", json=body, headers=bearer(account["api_key"]))
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["type"] == "invalid_request_error"
        assert stripe.requests == []  # not even a customer made for it


async def test_buying_a_plan_opens_a_subscription_checkout_for_its_price(
    gateway_factory: Any, stripe_settings: dict[str, Any]
) -> None:
    async with gateway_factory(**stripe_settings) as gateway:
        account = await gateway.customer("0")
        plan = {"id": "starter", "name": "Starter", "stripe_price_id": "price_starter_monthly", "included_credits": 5}
        assert (await gateway.client.post("/admin/plans", json=plan, headers=ADMIN)).status_code == 201
        with stripe_mock() as stripe:
            bought = await gateway.client.post(
                "/user/checkout", json={"kind": "plan", "plan_id": "starter"}, headers=bearer(account["api_key"])
            )
            no_price = await gateway.client.post(
                "/user/checkout", json={"kind": "plan", "plan_id": "pro"}, headers=bearer(account["api_key"])
            )
            unknown = await gateway.client.post(
                "/user/checkout", json={"kind": "plan", "plan_id": "nope"}, headers=bearer(account["api_key"])
            )
        assert bought.status_code == 201, bought.text
        (session,) = stripe.sent("/v1/checkout/sessions")
        assert session["mode"] == "subscription"
        assert session["line_items[0][price]"] == "price_starter_monthly"
        assert session["client_reference_id"] == account["user_id"]
        assert session["subscription_data[metadata][user_id]"] == account["user_id"]
        assert no_price.status_code == 400 and no_price.json()["error"]["param"] == "plan_id"
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"


async def test_the_billing_portal_opens_for_customers_who_have_paid(
    gateway_factory: Any, stripe_settings: dict[str, Any]
) -> None:
    async with gateway_factory(**stripe_settings) as gateway:
        account = await gateway.customer("0")
        headers = bearer(account["api_key"])
        with stripe_mock() as stripe:
            never = await gateway.client.post("/user/billing-portal", headers=headers)
            assert never.status_code == 404 and never.json()["error"]["code"] == "not_found"
            bought = (await gateway.client.post("/user/checkout", json={"kind": "credits", "amount_usd": 5},
                                                headers=headers)).json()  # fmt: skip
            customer = stripe.sent("/v1/checkout/sessions")[0]["customer"]
            completed = checkout_completed(bought["session_id"], customer, cents=500, payment_intent="pi_portal")
            assert (await deliver(gateway, event("checkout.session.completed", completed))).status_code == 200
            portal = await gateway.client.post("/user/billing-portal", headers=headers)
        assert portal.status_code == 200, portal.text
        assert portal.json()["url"].startswith("https://billing.stripe.test/")
        (asked,) = stripe.sent("/v1/billing_portal/sessions")
        assert asked == {"customer": customer, "return_url": "https://gw.example.com"}
        assert (await gateway.balance(account["api_key"]))["credits"] == Decimal("4.75")  # $5 less the 5% fee


async def test_without_stripe_the_payment_routes_answer_503_and_the_rest_works(gateway_factory: Any) -> None:
    async with gateway_factory() as gateway:
        account = await gateway.customer("1")
        headers = bearer(account["api_key"])
        for method, path, body in [*PAYMENT_ROUTES, ("POST", "/stripe/webhook", {"id": "evt_1"})]:
            refused = await gateway.client.request(method, path, json=body, headers=headers)
            assert refused.status_code == 503, (path, refused.text)
            assert refused.json()["error"]["code"] == "service_unavailable"
        assert (await gateway.client.get("/admin/payments", headers=ADMIN)).status_code == 503
        assert (await gateway.chat(account["api_key"])).status_code == 200


async def test_stripe_unreachable_is_a_502_and_nothing_is_kept(
    gateway_factory: Any, stripe_settings: dict[str, Any]
) -> None:
    async with gateway_factory(**stripe_settings) as gateway:
        account = await gateway.customer("0")
        buy = {"kind": "credits", "amount_usd": 10}
        with stripe_mock() as stripe:
            stripe.unreachable = True
            failed = await gateway.client.post("/user/checkout", json=buy, headers=bearer(account["api_key"]))
            assert failed.status_code == 502, failed.text
            assert failed.json()["error"]["code"] == "upstream_error"
            assert STRIPE_SETTINGS["stripe_secret_key"] not in failed.text
            assert await kept(gateway) == (0, 0)
            stripe.unreachable = False  # the customer tries again
            retried = await gateway.client.post("/user/checkout", json=buy, headers=bearer(account["api_key"]))
        assert retried.status_code == 201, retried.text
        (customer,) = stripe.sent("/v1/customers")  # made now, once: nothing half-made was kept
        assert customer["metadata[user_id]"] == account["user_id"]
        (session,) = stripe.sent("/v1/checkout/sessions")
        assert session["customer"].startswith("cus_")
        assert await kept(gateway) == (1, 1)


async def kept(gateway: Gateway) -> tuple[int, int]:
    """(Stripe customers, checkouts) the gateway stored."""
    async with gateway.runtime.db.read() as tx:
        customers = await tx.fetchval("SELECT COUNT(*) FROM payment_customers")
        checkouts = await tx.fetchval("SELECT COUNT(*) FROM checkouts")
    return int(customers), int(checkouts)
