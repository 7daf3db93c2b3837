"""Checkout's hosted page, as a customer's browser meets it: a session's `url` opens a page the
fake serves, with a "Pay" and a "Cancel" button (plain forms, no script). Pay completes the
session as `FakeStripe.complete_checkout` does, so the signed webhooks reach the gateway before
the browser is sent on to the session's success_url; Cancel sends it to the cancel_url."""

from __future__ import annotations

import html
from collections.abc import Awaitable
from typing import Any, Protocol

from aiohttp import web

from tests.fakes.stripe_store import Store

PAGE = "/c/pay/{session_id}"  # the path of Stripe's own hosted Checkout URLs


class Complete(Protocol):
    def __call__(self, session_id: str, *, save_card: bool) -> Awaitable[object]: ...


class HostedCheckout:
    """The customer's side of Checkout over `store`; `complete` pays a session and delivers its events."""

    def __init__(self, store: Store, complete: Complete) -> None:
        self.store = store
        self._complete = complete

    def add_routes(self, app: web.Application) -> None:
        """Before the API's catch-all route, which would otherwise answer these paths."""
        app.router.add_get(PAGE, self.show)
        app.router.add_post(PAGE + "/pay", self.pay)
        app.router.add_post(PAGE + "/cancel", self.cancel)

    async def show(self, request: web.Request) -> web.Response:
        session = self._session(request)
        if session is None:
            return _page("Not found", "<p>This Checkout Session does not exist.</p>", status=404)
        if session["status"] != "open":
            return _page("Checkout", f"<p>This Checkout Session is {html.escape(session['status'])}.</p>", status=410)
        return _page("Checkout", _form(session, self.store))

    async def pay(self, request: web.Request) -> web.Response:
        session = self._session(request)
        if session is None or session["status"] != "open":
            return await self.show(request)
        save_card = (await request.post()).get("save_card") == "on"
        await self._complete(session["id"], save_card=save_card)
        # Stripe fills in the template the success_url may carry.
        target = str(session["success_url"]).replace("{CHECKOUT_SESSION_ID}", session["id"])
        raise web.HTTPSeeOther(target)

    async def cancel(self, request: web.Request) -> web.Response:
        session = self._session(request)
        if session is None or session["status"] != "open" or not session["cancel_url"]:
            return await self.show(request)
        raise web.HTTPSeeOther(str(session["cancel_url"]))

    def _session(self, request: web.Request) -> dict[str, Any] | None:
        found = self.store.objects.get(request.match_info["session_id"])
        return found if found is not None and found["object"] == "checkout.session" else None


def _form(session: dict[str, Any], store: Store) -> str:
    action = html.escape(PAGE.format(session_id=session["id"]))
    lines = "".join(
        f"<li>{item.quantity} × {_money(item.price['unit_amount'], item.price['currency'])}{_per(item.price)}</li>"
        for item in store.line_items.get(session["id"], [])
    )
    save = ""
    if session["mode"] == "payment":
        save = '<p><label><input type="checkbox" name="save_card"> Save my card for future payments</label></p>'
    total = _money(session["amount_total"], session["currency"])
    return (
        f'<ul>{lines}</ul><p>Total due today: <strong id="total">{total}</strong></p>'
        f'<form method="post" action="{action}/pay">{save}<button type="submit">Pay</button></form>'
        f'<form method="post" action="{action}/cancel"><button type="submit">Cancel</button></form>'
    )


def _money(cents: int, currency: str) -> str:
    amount = f"{cents // 100}.{cents % 100:02d}"
    return f"${amount}" if currency == "usd" else f"{amount} {currency.upper()}"


def _per(price: dict[str, Any]) -> str:
    recurring = price["recurring"]
    if not recurring:
        return ""
    count = recurring["interval_count"]
    return f" / {recurring['interval']}" if count == 1 else f" / {count} {recurring['interval']}s"


def _page(title: str, body: str, *, status: int = 200) -> web.Response:
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # No favicon request: its 404 would be a console error in every browser test.
        f'<link rel="icon" href="data:,"><title>{html.escape(title)} · FakeStripe</title></head>'
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return web.Response(text=document, status=status, content_type="text/html")
