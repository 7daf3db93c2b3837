"""The browser harness itself, without the console: buying credits through the fake's hosted
Checkout page and its signed webhook, screenshots at two widths, and errors caught."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from tests.browser.harness import SCREENSHOTS, Pages, shoot
from tests.browser.servers import LiveGateway
from tests.fakes.stripe_api import FakeStripe

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def sent_back(page: Page, button: str, url: str) -> None:
    """Click `button` on the hosted page and check the browser is sent on to `url`: answered by a
    303 to it, which the browser follows. What the gateway then shows there (for now a redirect
    to the console) is for the console's own tests; its errors would still fail this one."""
    hosted = page.url
    with page.expect_request(url) as sent:
        page.get_by_role("button", name=button).click()
    form = sent.value.redirected_from
    assert form is not None and form.method == "POST" and form.url == f"{hosted}/{button.lower()}"
    page.wait_for_url(lambda now: now.startswith(url.split("?", maxsplit=1)[0]))


def test_credits_bought_through_the_hosted_checkout(live_gateway: LiveGateway, page: Page) -> None:
    key = live_gateway.register("buyer@example.com")["api_key"]
    before = live_gateway.credits(key)
    session = live_gateway.checkout(key, kind="credits", amount_usd="10")

    page.goto(session["checkout_url"])
    expect(page.locator("#total")).to_have_text("$10.00")
    page.context.add_cookies([{"name": "seen", "value": "1", "url": page.url}])
    desktop, phone = shoot(page, "harness-fake-checkout")
    assert page.context.browser is not None  # the phone re-render had the same cookies:
    assert [c["name"] for c in page.context.browser.contexts[-1].cookies()] == ["seen"]
    assert desktop == SCREENSHOTS / "harness-fake-checkout-desktop.png" and phone.name.endswith("-phone.png")
    assert desktop.stat().st_size > 0 and phone.stat().st_size > 0

    back = f"{live_gateway.url}/?checkout=success&session_id={session['session_id']}"
    sent_back(page, "Pay", back)
    # The signed checkout.session.completed was delivered before the browser was sent back.
    assert live_gateway.credits(key) == before + Decimal("9.5")  # $10 less the 5% fee
    assert [d.event_type for d in live_gateway.stripe.deliveries if d.ok][:1] == ["checkout.session.completed"]


def test_cancel_goes_back_without_paying(live_gateway: LiveGateway, page: Page) -> None:
    key = live_gateway.register("undecided@example.com")["api_key"]
    session = live_gateway.checkout(key, kind="credits", amount_usd="5")
    page.goto(session["checkout_url"])
    sent_back(page, "Cancel", f"{live_gateway.url}/?checkout=cancelled")
    assert live_gateway.credits(key) == 0 and live_gateway.stripe.deliveries == []


def test_errors_are_caught_but_not_a_documents_own_status(pages: Pages, fake_stripe: FakeStripe) -> None:
    page = pages.new()
    missing = page.goto(f"{fake_stripe.url}/c/pay/cs_test_none")  # a 404: this page's own status
    assert missing is not None and missing.status == 404
    page.set_content(
        f'<link rel="icon" href="data:,"><img src="{fake_stripe.url}/v1/missing.png">'
        "<script>console.error('logged on purpose'); console.warn('a warning is fine'); null.boom;</script>"
    )
    deadline = time.monotonic() + 5
    while len(pages.errors) < 3 and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    found = sorted(f"{e.kind}: {e.text.splitlines()[0]}" for e in pages.take_errors())
    assert found == [
        "console: Failed to load resource: the server responded with a status of 401 (Unauthorized)",
        "console: logged on purpose",
        "pageerror: TypeError: Cannot read properties of null (reading 'boom')",
    ]

    pages.allow("expected here")
    phone = pages.new(phone=True)
    phone.set_content("<script>console.error('expected here')</script>")
    assert pages.errors == []
