"""Browser tests' machinery: Chromium driven through Playwright's sync API, pages that fail the
test on any script error or console error, and screenshots of a page at two widths."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Error, Page, Response, sync_playwright

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")  # Debian's package; `playwright install` can't run
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
PHONE: dict[str, Any] = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots" / "console"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
_FAILED_LOAD = "Failed to load resource"
_owners: WeakKeyDictionary[BrowserContext, Pages] = WeakKeyDictionary()  # for shoot(): which Pages opened a page


class Chromium:
    """Playwright and its browser, for a whole test session.

    The sync API marks its event loop as running in the main thread for as long as Playwright
    lives (between calls too), so no other test could run a loop of its own there. `park` lifts
    the mark after each browser test and `resume` restores it before the next."""

    def __init__(self) -> None:
        self._playwright = sync_playwright().start()
        self._loop = asyncio.get_running_loop()
        try:
            self.browser = self._playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
            )
        except BaseException:
            self._playwright.stop()
            raise

    def resume(self) -> None:
        asyncio._set_running_loop(self._loop)  # private, but the only switch asyncio has for this

    def park(self) -> None:
        asyncio._set_running_loop(None)

    def close(self) -> None:
        self.resume()
        try:
            self.browser.close()
        finally:
            self._playwright.stop()
            self.park()


@contextmanager
def launched() -> Iterator[Chromium]:
    """Chromium for the session; a missing one skips with the reason, or fails under REQUIRE_SERVICES=1."""
    if not os.access(CHROMIUM, os.X_OK):
        message = f"Chromium unavailable: no executable {CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)"
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"{message} (REQUIRE_SERVICES=1)", pytrace=False)
        pytest.skip(message)
    chromium = Chromium()
    try:
        yield chromium
    finally:
        chromium.close()


@dataclass(frozen=True)
class BrowserError:
    page: str  # the page's URL when it happened
    kind: str  # "console" or "pageerror"
    text: str
    source: str = ""  # what the console message is about (a resource's URL)

    def __str__(self) -> str:
        about = f" [{self.source}]" if self.source and self.source != self.page else ""
        return f"{self.kind} on {self.page or 'about:blank'}: {self.text}{about}"


class Pages:
    """Opens pages, each in a browser context of its own, and keeps every error their scripts
    throw (`pageerror`) and every console message of type "error", to fail the test with.

    A page's own HTTP status is the test's to assert (`page.goto` returns the response), so the
    console's "Failed to load resource" about a document is not counted; about anything the page
    loads (a stylesheet, a script, an image, a fetch, the favicon) it is."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self._contexts: list[BrowserContext] = []
        self._errors: list[BrowserError] = []
        self._documents: set[str] = set()
        self._allowed: list[re.Pattern[str]] = []
        self._reported = 0

    def new(self, *, phone: bool = False, base_url: str | None = None) -> Page:
        """A fresh page: desktop (1280x800) or phone (390x844, mobile, touch)."""
        context = self.browser.new_context(**(PHONE if phone else DESKTOP), base_url=base_url)
        self._contexts.append(context)
        _owners[context] = self
        context.on("page", self._watch)  # also pages the page opens (target=_blank, window.open)
        return context.new_page()

    def allow(self, pattern: str) -> None:
        """Ignore errors whose text or resource URL matches `pattern` (a regex): ones a test expects."""
        self._allowed.append(re.compile(pattern))

    @property
    def errors(self) -> list[BrowserError]:
        return [e for e in self._errors if not self._ignored(e)]

    def take_errors(self) -> list[BrowserError]:
        """The errors so far, which then no longer fail the test: for a test that expects some."""
        found = self.errors
        self._errors.clear()
        self._reported = 0
        return found

    def unreported(self) -> list[BrowserError]:
        found = self.errors[self._reported :]
        self._reported += len(found)
        return found

    def check(self) -> None:
        """Fail the test on errors not reported yet."""
        found = self.unreported()
        if found:
            listed = "\n".join(f"  {error}" for error in found)
            pytest.fail(f"the browser reported {len(found)} error(s):\n{listed}", pytrace=False)

    def close(self) -> None:
        for context in self._contexts:
            with suppress(Error):
                context.close()
        self._contexts.clear()

    def _watch(self, page: Page) -> None:
        page.on("console", lambda message: self._on_console(page, message))
        page.on("pageerror", lambda error: self._errors.append(BrowserError(page.url, "pageerror", _described(error))))
        page.on("response", self._on_response)

    def _on_console(self, page: Page, message: ConsoleMessage) -> None:
        if message.type == "error":
            self._errors.append(BrowserError(page.url, "console", message.text, message.location.get("url", "")))

    def _on_response(self, response: Response) -> None:
        if response.request.resource_type == "document":
            self._documents.add(response.url)

    def _ignored(self, error: BrowserError) -> bool:
        if error.text.startswith(_FAILED_LOAD) and error.source in self._documents:
            return True
        return any(p.search(error.text) or p.search(error.source) for p in self._allowed)


def _described(error: Error) -> str:
    return error.stack or f"{error.name}: {error.message}"


def shoot(page: Page, name: str, *, replay: Callable[[Page], None] | None = None) -> tuple[Path, Path]:
    """Full-page screenshots to screenshots/console/<name>-desktop.png and <name>-phone.png.

    The desktop one is of `page` as it stands (a desktop page from the `page` fixture or
    `pages.new()`). The phone one re-renders `page.url` (a GET) in a phone-sized context holding
    the same cookies, and must land on the same URL; a state reached otherwise (a form's answer
    to a POST, a click) is reproduced by `replay(phone_page)`, run after that GET. The phone page
    is watched like any other: its errors fail the test too."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"screenshot name {name!r}: lower-case letters, digits, - and _ only")
    owner = _owners.get(page.context)
    if owner is None:
        raise ValueError("shoot() takes a page opened by the `pages` fixture (or `page`)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    desktop, phone = SCREENSHOTS / f"{name}-desktop.png", SCREENSHOTS / f"{name}-phone.png"
    page.wait_for_load_state("load")
    page.screenshot(path=desktop, full_page=True, animations="disabled")
    small = owner.new(phone=True)
    small.context.add_cookies(page.context.cookies())  # type: ignore[arg-type]  # a Cookie is a SetCookieParam
    small.goto(page.url, wait_until="load")
    if replay is not None:
        replay(small)
        small.wait_for_load_state("load")
    elif small.url != page.url:
        raise AssertionError(f"at phone width {page.url} led to {small.url}: pass replay= to get there")
    small.screenshot(path=phone, full_page=True, animations="disabled")
    return desktop, phone
