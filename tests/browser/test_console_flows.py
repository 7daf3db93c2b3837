"""The console in a real browser (Debian's Chromium) against a real server: a customer signs
up, an admin credits them and assigns a plan, the customer makes a key, uses it with the
`openai` SDK, sees the request in Usage and the chart, rotates and deletes the key, and buys
credits through (a fake of) Stripe's hosted Checkout. Every page is screenshot at desktop and
phone widths into screenshots/console/, and any console or script error fails the test."""

from __future__ import annotations

import re
from decimal import Decimal

import openai
import pytest
from playwright.sync_api import Page, expect

from gateway.routes.console.web import money
from tests.browser.harness import Pages, shoot
from tests.browser.servers import LiveGateway
from tests.support import ADMIN_KEY

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# Every visible form control has a label (its own <label>, or aria-label).
_UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
    .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
    .map(el => el.name || el.id)"""
# The page itself never scrolls sideways (wide tables scroll inside their card).
_SIDEWAYS = "() => document.documentElement.scrollWidth - window.innerWidth"


def usable(page: Page) -> None:
    assert page.evaluate(_UNLABELLED) == [], f"unlabelled fields on {page.url}"


def readable_on_a_phone(pages: Pages, page: Page) -> None:
    """The page as a phone shows it: no sideways scrolling, every field labelled."""
    phone = pages.new(phone=True)
    phone.context.add_cookies(page.context.cookies())  # type: ignore[arg-type]
    phone.goto(page.url)
    assert phone.evaluate(_SIDEWAYS) <= 1, f"{page.url} scrolls sideways on a phone"
    usable(phone)
    phone.close()


def visit(pages: Pages, page: Page, url: str, name: str) -> None:
    answer = page.goto(url)
    assert answer is not None and answer.status == 200, url
    usable(page)
    readable_on_a_phone(pages, page)
    shoot(page, name)


def sign_in(page: Page, base: str, key: str) -> None:
    page.set_default_timeout(10_000)
    page.goto(f"{base}/console/sign-in")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def test_a_customer_and_an_admin_run_an_account_without_curl(live_gateway: LiveGateway, pages: Pages) -> None:
    base = live_gateway.url
    customer = pages.new()
    customer.set_default_timeout(10_000)
    customer.goto(base + "/")
    expect(customer).to_have_url(re.compile(r"/console/sign-in"))
    usable(customer)
    shoot(customer, "sign-in")

    # Sign up: the key is shown once, and the browser is signed in with it.
    customer.get_by_role("link", name="Create one").click()
    shoot(customer, "sign-up")
    customer.get_by_label("Email").fill("ada@example.com")
    customer.get_by_role("button", name="Create the account").click()
    expect(customer.get_by_role("heading", name=re.compile("Welcome"))).to_be_visible()
    first_key = customer.locator("#new-secret").inner_text().strip()
    assert first_key.startswith("gw_live_")
    customer.get_by_role("link", name="Continue to the console").click()
    expect(customer.get_by_role("alert")).to_contain_text("out of credits")
    user_id = live_gateway.user_id(first_key)

    # The admin credits the customer and assigns a plan, from the admin pages.
    admin = pages.new()
    sign_in(admin, base, ADMIN_KEY)
    expect(admin).to_have_url(re.compile(r"/console/admin/customers"))
    admin.get_by_label("Email or user id contains").fill("ada@")
    admin.get_by_role("button", name="Search").click()
    admin.get_by_role("link", name="ada@example.com").click()
    expect(admin.locator("body")).to_contain_text(user_id)
    admin.get_by_label("Amount, in credits").fill("5")
    admin.get_by_label("Reason").first.fill("welcome credit")
    admin.get_by_role("button", name="Apply").click()
    expect(admin.get_by_role("status")).to_be_visible()
    admin.get_by_role("combobox", name=re.compile("^Plan")).select_option("enterprise")
    admin.get_by_role("button", name="Assign").click()
    expect(admin.get_by_role("status")).to_be_visible()
    visit(pages, admin, admin.url.split("?")[0], "admin-customer")
    assert live_gateway.credits(first_key) == Decimal(5)

    # The customer makes a key and uses it with the openai SDK.
    visit(pages, customer, f"{base}/console", "overview-before")
    customer.goto(f"{base}/console/keys")
    customer.get_by_text("Create a key").click()
    customer.get_by_role("textbox", name=re.compile("^Name")).fill("my <laptop>")
    customer.get_by_role("button", name="Create key").click()
    sdk_key = customer.locator("#new-secret").inner_text().strip()
    expect(customer.get_by_role("button", name="Copy")).to_be_visible()
    client = openai.OpenAI(api_key=sdk_key, base_url=f"{base}/v1", max_retries=0)
    reply = client.chat.completions.with_raw_response.create(
        model="sim/gpt-small", messages=[{"role": "user", "content": "Hello"}]
    )
    request_id = reply.headers["x-request-id"]

    # The request appears in Usage and in the chart.
    visit(pages, customer, f"{base}/console/usage", "usage")
    expect(customer.get_by_text(request_id)).to_be_visible()
    expect(customer.get_by_role("cell", name=re.compile("my <laptop>"))).to_be_visible()
    visit(pages, customer, f"{base}/console", "overview")
    assert customer.locator("svg rect").count() >= 1
    expect(customer.locator(".legend")).to_contain_text("sim/gpt-small")

    # Rotate: a new secret, the old one refused; then delete the key.
    visit(pages, customer, f"{base}/console/keys", "keys")
    customer.get_by_role("link", name="my <laptop>").click()
    key_page = customer.url
    visit(pages, customer, key_page, "key")
    customer.once("dialog", lambda dialog: dialog.accept())
    customer.get_by_role("button", name="Rotate key").click()
    rotated = customer.locator("#new-secret").inner_text().strip()
    assert rotated != sdk_key
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="sim/gpt-small", messages=[{"role": "user", "content": "Hi"}])
    customer.goto(key_page)
    customer.once("dialog", lambda dialog: dialog.accept())
    customer.get_by_role("button", name="Delete key").click()
    expect(customer.get_by_role("status")).to_be_visible()
    expect(customer.get_by_role("link", name="my <laptop>")).to_have_count(0)

    # Buy credits through the hosted Checkout and its signed webhook.
    visit(pages, customer, f"{base}/console/billing", "billing")
    before = live_gateway.credits(first_key)
    customer.get_by_label("Amount (USD)").fill("10")
    customer.get_by_role("button", name="Buy credits").click()
    expect(customer.locator("#total")).to_have_text("$10.00")
    customer.get_by_role("button", name="Pay").click()
    expect(customer).to_have_url(re.compile(r"/console/billing\?checkout=success"))
    assert live_gateway.credits(first_key) == before + Decimal("9.5")
    customer.reload()
    expect(customer.locator("body")).to_contain_text(money(int((before + Decimal("9.5")) * 10**9)))
    visit(pages, customer, f"{base}/console/limits", "limits")

    # Every admin page, for the screenshots and the checks.
    for name in ("customers", "plans", "models", "payments", "audit", "system"):
        visit(pages, admin, f"{base}/console/admin/{name}", f"admin-{name}")
        if name == "payments":
            expect(admin.locator("body")).to_contain_text("checkout.session.completed")


def test_a_revoked_keys_session_dies_in_the_browser(live_gateway: LiveGateway, pages: Pages) -> None:
    account = live_gateway.register("bob@example.com")
    page = pages.new()
    sign_in(page, live_gateway.url, account["api_key"])
    expect(page).to_have_url(re.compile(r"/console$"))
    deleted = live_gateway.delete_key(account["api_key"], account["key_id"])
    assert deleted
    page.reload()
    expect(page).to_have_url(re.compile(r"/console/sign-in"))


def test_a_wrong_key_is_explained_on_the_form(live_gateway: LiveGateway, pages: Pages) -> None:
    page = pages.new()
    sign_in(page, live_gateway.url, "gw_live_" + "x" * 43)
    expect(page.get_by_role("alert")).to_contain_text("that key was not accepted")
    shoot(page, "sign-in-refused", replay=lambda phone: sign_in(phone, live_gateway.url, "gw_live_" + "x" * 43))
