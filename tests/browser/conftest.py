"""Fixtures of the browser tests: Chromium for the session, watched pages, and a real gateway
server paid through a fake Stripe. See harness.py and servers.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.harness import Chromium, Pages, launched
from tests.browser.servers import LiveGateway, serving_gateway
from tests.fakes.stripe_api import FakeStripe
from tests.stripe_support import STRIPE_KEY, WEBHOOK_SECRET


@pytest.fixture(scope="session")
def chromium() -> Iterator[Chromium]:
    with launched() as found:
        yield found


@pytest.fixture(scope="session")
def browser(chromium: Chromium) -> Browser:
    """Headless Chromium (CHROMIUM_PATH, by default /usr/bin/chromium), closed when the session ends."""
    return chromium.browser


@pytest.fixture(autouse=True)
def _playwright_loop(request: pytest.FixtureRequest) -> Iterator[None]:
    """Playwright's loop is marked running during a browser test only (see Chromium)."""
    if "chromium" not in request.fixturenames:
        yield
        return
    chromium: Chromium = request.getfixturevalue("chromium")
    chromium.resume()
    try:
        yield
    finally:
        chromium.park()


@pytest.fixture
def pages(browser: Browser) -> Iterator[Pages]:
    """Opens pages (`pages.new(phone=False, base_url=None)`); any error one of them reports fails the test."""
    found = Pages(browser)
    try:
        yield found
    finally:
        found.close()
    found.check()  # what happened after the test's own check (pytest_runtest_call below)


@pytest.fixture
def page(pages: Pages) -> Page:
    """A desktop page (1280x800)."""
    return pages.new()


@pytest.fixture
def phone_page(pages: Pages) -> Page:
    """A phone page (390x844, mobile, touch)."""
    return pages.new(phone=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Browser errors fail the test itself; beside another failure they are shown as a section."""
    pages = getattr(item, "funcargs", {}).get("pages")
    try:
        result = yield
    except BaseException:
        found = pages.unreported() if isinstance(pages, Pages) else []
        if found:
            item.add_report_section("call", "browser errors", "\n".join(map(str, found)))
        raise
    if isinstance(pages, Pages):
        pages.check()
    return result


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    """Stripe's API on a local port, in a thread; sessions' `url`s are its hosted Checkout page."""
    stripe = FakeStripe(webhook_secret=WEBHOOK_SECRET, api_key=STRIPE_KEY)
    with stripe.serving_in_thread():
        yield stripe


@pytest.fixture
def live_gateway_factory(tmp_path: Path, fake_stripe: FakeStripe) -> Iterator[Callable[..., LiveGateway]]:
    """`live_gateway_factory(name="gateway", **env)` starts a server with extra settings (e.g.
    CONSOLE_SIGNIN_RATE_LIMIT="3/minute"); every one started is stopped after the test."""
    with ExitStack() as stack:

        def start(name: str = "gateway", **env: str) -> LiveGateway:
            return stack.enter_context(serving_gateway(tmp_path, fake_stripe, name=name, **env))

        yield start


@pytest.fixture
def live_gateway(live_gateway_factory: Callable[..., LiveGateway]) -> LiveGateway:
    """A server with the default settings."""
    return live_gateway_factory()
