"""Payments end to end: the real server (uvicorn, as the SPEC serves it) against a local fake
of Stripe's API (STRIPE_API_BASE), which plays the customer and delivers signed webhooks."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.cluster import Cluster
from tests.e2e.processes import Process, gateway_process
from tests.fakes.stripe_api import FakeStripe
from tests.stripe_support import STRIPE_KEY, WEBHOOK_SECRET, event, signed, stripe_env
from tests.support import ADMIN, ADMIN_KEY, GATEWAY_ENV, SECRET_KEY, bearer

pytestmark = pytest.mark.e2e


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    stripe = FakeStripe(webhook_secret=WEBHOOK_SECRET, api_key=STRIPE_KEY)
    with stripe.serving_in_thread():
        yield stripe


def credits_of(server: Process, api_key: str) -> Decimal:
    return Decimal(str(httpx.get(f"{server.url}/user/balance", headers=bearer(api_key)).json()["credits"]))


def until(check: Callable[[], bool], *, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.05)


def checkout(server: Process, api_key: str, **body: Any) -> str:
    bought = httpx.post(f"{server.url}/user/checkout", json=body, headers=bearer(api_key))
    assert bought.status_code == 201, bought.text
    session: str = bought.json()["session_id"]
    return session


def test_credits_a_plan_a_refund_auto_top_up_and_reconcile(tmp_path: Path, fake: FakeStripe) -> None:
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path}/payments.db",
        "SECRET_KEY": SECRET_KEY,
        "ADMIN_API_KEY": ADMIN_KEY,
        **stripe_env(fake.url),
    }
    fake.add_price("price_pro_monthly", unit_amount=2000, interval="month")
    with gateway_process(tmp_path, **env) as server:
        fake.webhook_url = f"{server.url}/stripe/webhook"
        plan = {"stripe_price_id": "price_pro_monthly", "included_credits": "5"}
        assert httpx.put(f"{server.url}/admin/plans/pro", json=plan, headers=ADMIN).status_code == 200
        account = httpx.post(f"{server.url}/auth/register", json={"email": "payer@example.com"}).json()
        key = account["api_key"]

        # Credits: $10 less the 5% fee, granted when Stripe says it was paid; the card is kept.
        credits_session = checkout(server, key, kind="credits", amount_usd="10", save_card=True)
        fake.call(fake.complete_checkout(credits_session))
        assert credits_of(server, key) == Decimal("9.5")

        # A plan: its invoice comes before the checkout's completion, and is applied as it comes.
        plan_session = checkout(server, key, kind="plan", plan_id="pro")
        fake.call(fake.complete_checkout(plan_session, order=["invoice.paid"]))
        mine = httpx.get(f"{server.url}/user/plan", headers=bearer(key)).json()
        assert mine["id"] == "pro" and mine["expires_at"] > time.time() + 20 * 86_400
        assert credits_of(server, key) == Decimal("14.5")  # + the plan's 5 included credits

        # A partial refund takes back its share; one Stripe could not deliver is reconciled.
        payment_intent = fake.object(credits_session)["payment_intent"]
        fake.call(fake.refund(payment_intent, 200))  # $2 of $10: 1.9 credits
        assert credits_of(server, key) == Decimal("12.6")
        fake.hold_deliveries()
        fake.call(fake.refund(payment_intent, 300))  # cumulative $5: 2.85 more
        assert credits_of(server, key) == Decimal("12.6")
        done = reconcile(tmp_path, env)
        assert "1 applied" in done, done
        assert credits_of(server, key) == Decimal("9.75")
        again = reconcile(tmp_path, env)  # still listed as undelivered by Stripe: skipped, applied once
        assert "1 duplicate" in again and "applied" not in again, again
        # A renewal Stripe could not deliver: reconciled, oldest first, the plan runs a period on.
        expires = mine["expires_at"]
        fake.call(fake.renew_subscription(fake.latest("subscription")["id"]))
        assert httpx.get(f"{server.url}/user/plan", headers=bearer(key)).json()["expires_at"] == expires
        assert "2 applied" in reconcile(tmp_path, env)
        until(lambda: httpx.get(f"{server.url}/user/plan", headers=bearer(key)).json()["expires_at"] > expires)
        assert credits_of(server, key) == Decimal("14.75")  # + the next period's 5 included credits
        fake.resume_deliveries()

        # Auto top-up: below the threshold the saved card is charged off-session, once.
        settings = {"enabled": True, "threshold": "19", "amount_usd": "20"}
        assert httpx.put(f"{server.url}/user/auto-topup", json=settings, headers=bearer(key)).status_code == 200
        until(lambda: credits_of(server, key) == Decimal("33.75"))  # + $20 less the fee
        charges = [r for r in fake.requests if r.method == "POST" and r.path == "/v1/payment_intents"]
        assert len(charges) == 1

        history = httpx.get(f"{server.url}/admin/payments?limit=100", headers=ADMIN).json()["data"]
        types = {e["type"] for e in history if e["outcome"] == "applied"}
        assert {"checkout.session.completed", "invoice.paid", "charge.refunded", "payment_intent.succeeded"} <= types
        portal = httpx.post(f"{server.url}/user/billing-portal", headers=bearer(key))
        assert portal.status_code == 200 and portal.json()["url"].startswith("https://")


def reconcile(tmp_path: Path, env: dict[str, str]) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in GATEWAY_ENV}
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "payments", "reconcile"],
        env={**clean, **env}, cwd=tmp_path, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return done.stdout


def test_twelve_deliveries_of_one_event_across_two_processes_grant_once(tmp_path: Path, fake: FakeStripe) -> None:
    with ExitStack() as stack:
        cluster = Cluster(tmp_path, stack, **stripe_env(fake.url))
        a, b = cluster.start(2)
        account = httpx.post(f"{a.url}/auth/register", json={"email": "twelve@example.com"}).json()
        session = checkout(a, account["api_key"], kind="credits", amount_usd="40")
        fake.call(fake.complete_checkout(session))  # no webhook URL yet: logged, not delivered
        completed = next(e for e in fake.events if e["type"] == "checkout.session.completed")

        async def deliver_everywhere() -> list[httpx.Response]:
            payload, header = signed(completed)
            headers = {"stripe-signature": header, "content-type": "application/json"}
            async with httpx.AsyncClient(timeout=30) as client:
                return list(await asyncio.gather(*(
                    client.post(f"{(a if n % 2 else b).url}/stripe/webhook", content=payload, headers=headers)
                    for n in range(12)
                )))  # fmt: skip

        answers = asyncio.run(deliver_everywhere())
        assert [r.status_code for r in answers] == [200] * 12
        outcomes = sorted(r.json()["outcome"] for r in answers)
        assert outcomes == ["applied"] + ["duplicate"] * 11
        credits, reserved, ledger = cluster.books(account["user_id"])
        assert credits == 38_000_000_000 and reserved == 0 and ledger == credits  # $40 less 5%
        forged = event("checkout.session.completed", completed["data"]["object"])
        payload, header = signed(forged, secret="whsec_someone_else")
        refused = httpx.post(f"{b.url}/stripe/webhook", content=payload, headers={"stripe-signature": header})
        assert refused.status_code == 400
