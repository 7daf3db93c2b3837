"""The Billing page: balance, buying credits and plans through (fake) Stripe Checkout, the
billing portal, auto top-up and the ledger; refusals shown in place with their status."""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests.console_support import Console, console_for
from tests.stripe_support import STRIPE_SETTINGS, StripeMock, checkout_completed, deliver, event, stripe_mock
from tests.support import ADMIN, Gateway, bearer

SETTINGS: dict[str, Any] = {**STRIPE_SETTINGS, "topup_fee_rate": "0.05", "public_base_url": "https://gw.example.com"}
PAGE = "/console/billing"


@pytest.fixture
async def paying(gateway_factory: Any) -> AsyncIterator[Gateway]:
    """A gateway with Stripe configured (its API faked by each test's stripe_mock)."""
    async with gateway_factory(**SETTINGS) as gateway:
        yield gateway


@asynccontextmanager
async def signed_in(gateway: Gateway, credits: str = "0") -> AsyncIterator[tuple[Console, dict[str, Any]]]:
    """A new customer (on the enterprise plan, with `credits`) signed in to the console."""
    account = await gateway.customer(credits)
    async with console_for(gateway, account["api_key"]) as console:
        yield console, account


async def paid_checkout(gateway: Gateway, console: Console, stripe: StripeMock, usd: str, **form: str) -> str:
    """Credits bought on the page and paid: Checkout opened, then its signed completion."""
    opened = await console.post(f"{PAGE}/checkout", {"amount_usd": usd, **form})
    assert opened.status_code == 303, opened.text
    session = opened.headers["location"].rsplit("/", 1)[1]
    customer = stripe.sent("/v1/checkout/sessions")[-1]["customer"]
    cents = round(float(usd) * 100)
    completed = checkout_completed(session, customer, cents=cents, payment_intent=f"pi_{session}")
    delivered = await deliver(gateway, event("checkout.session.completed", completed))
    assert delivered.status_code == 200 and delivered.json()["outcome"] == "applied", delivered.text
    return session


def alerts(page: str) -> list[str]:
    return [html.unescape(text) for text in re.findall(r'role="alert">([^<]*)<', page)]


async def test_the_page_shows_balance_fee_plans_and_the_forms(paying: Gateway) -> None:
    plan = {"id": "starter", "name": "Starter", "stripe_price_id": "price_starter", "price_per_month": "20",
            "included_credits": "5", "requests_per_minute": 60}  # fmt: skip
    assert (await paying.client.post("/admin/plans", json=plan, headers=ADMIN)).status_code == 201
    async with signed_in(paying, "12.5") as (console, _):
        page = await console.get(PAGE)
        assert page.status_code == 200, page.text
        text = page.text
        assert "12.50 credits" in text and "0.00 credits reserved" in text
        assert "A top-up fee of 5% is kept: $10.00 buys 9.50 credits." in text
        assert 'action="/console/billing/checkout"' in text and 'name="save_card"' in text
        assert "Starter" in text and "20.00 credits" in text and "60 requests a minute" in text
        assert "Upgrade to Starter" in text  # dearer than the enterprise plan the customer is on
        assert 'Enterprise <span class="badge good">Your plan</span>' in text
        assert "Enterprise</h3>" not in text and "Not sold online" in text  # no Stripe price: no button
        assert "Manage billing" in text and "Auto top-up" in text
        assert "test top-up" in text and "+10.00 credits" not in text and "+12.50 credits" in text


async def test_buying_credits_sends_the_browser_to_checkout_and_the_webhook_credits_the_page(
    paying: Gateway,
) -> None:
    async with signed_in(paying) as (console, account):
        with stripe_mock() as stripe:
            opened = await console.post(f"{PAGE}/checkout", {"amount_usd": "12.50", "save_card": "1"})
            assert opened.status_code == 303, opened.text
            assert opened.headers["location"].startswith("https://checkout.stripe.test/cs_test_")
            (session,) = stripe.sent("/v1/checkout/sessions")
            assert session["line_items[0][price_data][unit_amount]"] == "1250"
            assert session["payment_intent_data[setup_future_usage]"] == "off_session"
            assert session["client_reference_id"] == account["user_id"]
            session_id = opened.headers["location"].rsplit("/", 1)[1]
            assert "11.875" not in (await console.get(PAGE)).text  # nothing until Stripe says it was paid
            completed = checkout_completed(session_id, session["customer"], cents=1250, payment_intent="pi_1")
            assert (await deliver(paying, event("checkout.session.completed", completed))).status_code == 200
        back = await console.client.get(session["success_url"].replace("https://gw.example.com", ""))
        assert back.status_code == 303 and back.headers["location"] == f"{PAGE}?checkout=success"
        page = await console.get(back.headers["location"])
        assert "Payment received: credits appear as soon as Stripe confirms it." in page.text
        assert "11.875 credits" in page.text  # $12.50 less the 5% fee
        assert "+11.875 credits" in page.text and f"stripe:checkout:{session_id}" in page.text
        cancelled = await console.client.get(session["cancel_url"].replace("https://gw.example.com", ""))
        assert cancelled.headers["location"] == f"{PAGE}?checkout=cancelled"
        assert "nothing was charged" in (await console.get(cancelled.headers["location"])).text


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("4.99", "'amount_usd' must be between 5 and 10000 (USD)"),
        ("10000.01", "'amount_usd' must be between 5 and 10000 (USD)"),
        ("12.345", "'amount_usd' must be whole cents (at most 2 decimals)"),
        ("ten", "amount_usd: must be plain decimal text, such as '12.5'"),
        ("", "amount_usd: must be plain decimal text, such as '12.5'"),
    ],
)
async def test_a_bad_amount_is_refused_in_place_before_stripe_is_asked(
    paying: Gateway, amount: str, message: str
) -> None:
    async with signed_in(paying) as (console, _):
        with stripe_mock() as stripe:
            refused = await console.post(f"{PAGE}/checkout", {"amount_usd": amount, "save_card": "1"})
        assert refused.status_code == 400, refused.text
        assert alerts(refused.text) == [message]
        assert f'name="amount_usd" type="number" value="{amount}"' in refused.text  # what was typed is kept
        assert 'name="save_card" type="checkbox" value="1" checked' in refused.text
        assert "Balance" in refused.text and "Ledger" in refused.text  # the billing page itself
        assert stripe.requests == []


async def test_stripe_unreachable_is_a_502_in_place(paying: Gateway) -> None:
    async with signed_in(paying) as (console, _):
        with stripe_mock() as stripe:
            stripe.unreachable = True
            failed = await console.post(f"{PAGE}/checkout", {"amount_usd": "10"})
        assert failed.status_code == 502, failed.text
        assert alerts(failed.text) == ["the payment provider could not be reached or refused the request"]
        assert STRIPE_SETTINGS["stripe_secret_key"] not in failed.text


async def test_choosing_a_plan_opens_a_subscription_checkout(paying: Gateway) -> None:
    plan = {"id": "starter", "name": "Starter", "stripe_price_id": "price_starter", "included_credits": 5}
    assert (await paying.client.post("/admin/plans", json=plan, headers=ADMIN)).status_code == 201
    async with signed_in(paying) as (console, _):
        with stripe_mock() as stripe:
            chosen = await console.post(f"{PAGE}/plan", {"plan_id": "starter"})
            no_price = await console.post(f"{PAGE}/plan", {"plan_id": "pro"})
            unknown = await console.post(f"{PAGE}/plan", {"plan_id": "nope"})
        assert chosen.status_code == 303 and chosen.headers["location"].startswith("https://checkout.stripe.test/")
        (session,) = stripe.sent("/v1/checkout/sessions")
        assert session["mode"] == "subscription" and session["line_items[0][price]"] == "price_starter"
        assert no_price.status_code == 400 and "it has no Stripe price" in alerts(no_price.text)[0]
        assert unknown.status_code == 404 and alerts(unknown.text) == ["no plan 'nope'"]


async def test_the_portal_opens_after_a_first_payment(paying: Gateway) -> None:
    async with signed_in(paying) as (console, _):
        with stripe_mock() as stripe:
            never = await console.post(f"{PAGE}/portal")
            assert never.status_code == 404
            assert alerts(never.text) == ["no payments yet: the billing portal opens after a first purchase"]
            await paid_checkout(paying, console, stripe, "5")
            portal = await console.post(f"{PAGE}/portal")
        assert portal.status_code == 303 and portal.headers["location"].startswith("https://billing.stripe.test/p/")


async def test_auto_topup_is_saved_and_shown_and_a_decline_says_why(paying: Gateway) -> None:
    async with signed_in(paying) as (console, _):
        with stripe_mock() as stripe:
            no_card = await console.post(f"{PAGE}/auto-topup", {"enabled": "1", "threshold": "2", "topup_usd": "10"})
            assert no_card.status_code == 400 and "needs a saved card" in alerts(no_card.text)[0]
            assert "No card saved yet" in no_card.text
            await paid_checkout(paying, console, stripe, "10", save_card="1")
            saved = await console.post(f"{PAGE}/auto-topup", {"enabled": "1", "threshold": "2", "topup_usd": "10"})
            assert saved.status_code == 303 and saved.headers["location"] == f"{PAGE}?done=auto-topup"
            page = (await console.get(saved.headers["location"])).text
            assert "Auto top-up settings saved." in page and "A card is saved." in page
            assert "when credits fall below 2.00 credits, $10.00 is charged" in page
            assert 'id="f-enabled" name="enabled" type="checkbox" value="1" checked' in page
            assert 'name="threshold" type="text" value="2"' in page
            assert 'name="topup_usd" type="text" value="10"' in page
            too_high = await console.post(f"{PAGE}/auto-topup", {"enabled": "1", "threshold": "50", "topup_usd": "10"})
            assert too_high.status_code == 400 and "at most what one top-up buys" in alerts(too_high.text)[0]
            stripe.declining.add(stripe.card)
            # Above the balance (9.50): the job charges at once, and the card is declined.
            turned = await console.post(f"{PAGE}/auto-topup", {"enabled": "1", "threshold": "15", "topup_usd": "20"})
            assert turned.status_code == 303, turned.text
            await until_idle(paying)
        page = (await console.get(PAGE)).text
        assert "Auto top-up was turned off:" in page and "declined" in page
        assert '<span class="badge">Off</span>' in page


async def until_idle(gateway: Gateway) -> None:
    parts = gateway.runtime.payments
    assert parts is not None
    deadline = time.monotonic() + 5
    while not parts.auto_topups.idle:
        assert time.monotonic() < deadline, "the auto top-up job is still busy"
        await asyncio.sleep(0.02)


async def test_a_test_key_session_changes_nothing(paying: Gateway) -> None:
    account = await paying.customer("1")
    made = await paying.client.post(
        "/user/api-keys", json={"key_name": "ci", "environment_tag": "test"}, headers=bearer(account["api_key"])
    )
    assert made.status_code == 201, made.text
    async with console_for(paying, made.json()["api_key"]) as console:
        page = await console.get(PAGE)
        assert page.status_code == 200 and "read-only" in page.text
        assert re.search(r'<button type="submit" disabled>Buy credits</button>', page.text)
        with stripe_mock() as stripe:
            for path, form in [("checkout", {"amount_usd": "10"}), ("plan", {"plan_id": "pro"}), ("portal", {}),
                               ("auto-topup", {"threshold": "1", "topup_usd": "10"})]:  # fmt: skip
                refused = await console.post(f"{PAGE}/{path}", form)
                assert refused.status_code == 403, (path, refused.text)
                assert "signed in with a test key, which is read-only" in refused.text
            forged = await console.post(f"{PAGE}/checkout", {"amount_usd": "10"}, csrf="not-the-token")
            assert forged.status_code == 403
        assert stripe.requests == []


async def test_a_key_with_a_spend_limit_sees_why_it_cannot_pay(paying: Gateway) -> None:
    account = await paying.customer("3")
    made = await paying.client.post(
        "/user/api-keys", json={"key_name": "app", "spend_limit": "1"}, headers=bearer(account["api_key"])
    )
    assert made.status_code == 201, made.text
    async with console_for(paying, made.json()["api_key"]) as console:
        page = await console.get(PAGE)
        assert page.status_code == 200 and "3.00 credits" in page.text and "Ledger" in page.text
        assert "This key cannot pay: billing needs a key without a spend limit" in page.text
        assert 'action="/console/billing/checkout"' not in page.text
        with stripe_mock() as stripe:
            refused = await console.post(f"{PAGE}/checkout", {"amount_usd": "10"})
            portal = await console.post(f"{PAGE}/portal")
        assert stripe.requests == []
    assert refused.status_code == 403 and portal.status_code == 403
    assert alerts(refused.text) == [
        "billing needs a key without a spend limit, request cap or allowlist (keys handed to apps may not pay)"
    ]
    assert "3.00 credits" in refused.text  # the billing page, with the refusal in place


async def test_one_customers_ledger_never_shows_anothers_rows(paying: Gateway) -> None:
    ada = await paying.customer("0", email="ada@example.com")
    bob = await paying.customer("0", email="bob@example.com")
    for n in range(23):
        await paying.top_up(ada["user_id"], "1", reference=f"ada-{n}")
    await paying.top_up(bob["user_id"], "2", reference="bob-secret")
    top_up = {"user_id": bob["user_id"], "credits": "1", "reason": "<script>x</script>", "reference": "bob-html"}
    assert (await paying.client.post("/admin/add_credits", json=top_up, headers=ADMIN)).status_code == 200
    async with console_for(paying, ada["api_key"]) as console:
        first = (await console.get(PAGE)).text
        assert first.count("admin:ada-") == 20 and "admin:ada-22" in first and "bob" not in first
        older = re.search(r'href="(/console/billing\?after=\d+)"', first)
        assert older, "no link to older entries"
        second = (await console.get(older.group(1))).text
        assert second.count("admin:ada-") == 3 and "admin:ada-0<" in second and "Back to the newest" in second
        bob_id = await last_row_of(paying, bob["user_id"])
        beyond = (await console.get(PAGE, after=bob_id + 1)).text
        assert "bob" not in beyond and "&lt;script&gt;" not in beyond
    async with console_for(paying, bob["api_key"]) as console:
        page = (await console.get(PAGE)).text
        assert "admin:bob-secret" in page and "admin:ada-" not in page
        assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>x</script>" not in page


async def last_row_of(gateway: Gateway, user_id: str) -> int:
    async with gateway.runtime.db.read() as tx:
        found = await tx.fetchval("SELECT MAX(id) FROM ledger WHERE user_id = $1", user_id)
    return int(found)


async def test_without_stripe_the_page_shows_balance_and_ledger_with_a_notice(gateway: Gateway) -> None:
    async with signed_in(gateway, "4") as (console, _):
        page = await console.get(PAGE)
        assert page.status_code == 200
        assert "4.00 credits" in page.text and "test top-up" in page.text
        assert "Payments are not configured on this gateway" in page.text
        assert "<form" not in page.text.split("<main", 1)[1]  # no buying, portal or auto top-up forms
        refused = await console.post(f"{PAGE}/checkout", {"amount_usd": "10"})
        assert refused.status_code == 503
        assert alerts(refused.text) == ["payments are not configured on this gateway (STRIPE_SECRET_KEY is unset)"]


async def test_the_page_needs_a_session(paying: Gateway) -> None:
    async with console_for(paying) as console:
        page = await console.get(PAGE, checkout="success")
        assert page.status_code == 303
        assert page.headers["location"] == "/console/sign-in?next=%2Fconsole%2Fbilling%3Fcheckout%3Dsuccess"
        assert (await console.get("/", checkout="<b>")).headers["location"] == "/console"
