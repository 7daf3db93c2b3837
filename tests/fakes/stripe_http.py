"""The fake's HTTP face: routes, the bearer-key check, idempotency keys, injected outages, and
Stripe's error body for anything refused; every request is recorded for tests to inspect."""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.fakes import stripe_requests as api
from tests.fakes.stripe_store import API_VERSION, Store
from tests.fakes.stripe_wire import StripeFakeError, as_list, decode_form, new_id

log = logging.getLogger(__name__)
Handler = Callable[..., dict[str, Any]]

_TABLE: list[tuple[str, str, Handler]] = [
    ("POST", r"/v1/customers", api.create_customer),
    ("GET", r"/v1/customers/([^/]+)", api.retrieve("customer")),
    ("POST", r"/v1/customers/([^/]+)", api.update_customer),
    ("POST", r"/v1/checkout/sessions", api.create_checkout_session),
    ("GET", r"/v1/checkout/sessions/([^/]+)", api.retrieve("checkout.session")),
    ("POST", r"/v1/billing_portal/sessions", api.create_portal_session),
    ("POST", r"/v1/payment_intents", api.create_payment_intent),
    ("GET", r"/v1/payment_intents/([^/]+)", api.retrieve("payment_intent")),
    ("GET", r"/v1/payment_methods/([^/]+)", api.retrieve("payment_method")),
    ("GET", r"/v1/subscriptions/([^/]+)", api.retrieve("subscription")),
    ("POST", r"/v1/subscriptions/([^/]+)", api.update_subscription),
    ("DELETE", r"/v1/subscriptions/([^/]+)", api.cancel_subscription),
    ("GET", r"/v1/invoices/([^/]+)", api.retrieve("invoice")),
    ("GET", r"/v1/charges/([^/]+)", api.retrieve("charge")),
    ("GET", r"/v1/prices/([^/]+)", api.retrieve("price")),
    ("GET", r"/v1/events", api.list_events),
    ("GET", r"/v1/events/([^/]+)", api.retrieve_event),
]
ROUTES = [(method, re.compile(pattern), handler) for method, pattern, handler in _TABLE]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    params: dict[str, Any]
    headers: dict[str, str]

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("Idempotency-Key")


@dataclass(frozen=True)
class _Saved:
    fingerprint: tuple[Any, ...]
    status: int
    body: dict[str, Any]


@dataclass
class _Outage:
    status: int
    method: str | None
    path: str
    times: int


class StripeHttp:
    """Serves the API over `store`; hands the events each request caused to `on_events`."""

    def __init__(self, store: Store, *, api_key: str | None, on_events: Callable[[list[dict[str, Any]]], None]) -> None:
        self.store = store
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self._on_events = on_events
        self._saved: dict[tuple[str, str], _Saved] = {}
        self._outages: list[_Outage] = []

    def fail_next(self, status: int, *, method: str | None, path: str, times: int) -> None:
        self._outages.append(_Outage(status, method, path, times))

    async def handle(self, request: web.Request) -> web.Response:
        request_id = new_id("req", 14)
        raw = await request.text() if request.method == "POST" else request.query_string
        pairs = parse_qsl(raw, keep_blank_values=True)
        replayed = False
        try:
            params = decode_form(pairs)
            self.requests.append(RecordedRequest(request.method, request.path, params, dict(request.headers)))
            key = self._authenticate(request.headers.get("Authorization", ""))
            self._maybe_fail(request.method, request.path)
            status, body, replayed = self._run(request, params, pairs, key, request_id)
        except StripeFakeError as error:
            status, body = error.status, error.body()
        except Exception as crash:  # a bug in the fake: say so in the answer the test will see
            log.exception("FakeStripe crashed on %s %s", request.method, request.path)
            status, body = 500, StripeFakeError(500, f"FakeStripe crashed: {crash!r}", error_type="api_error").body()
        finally:
            events = self.store.take_outbox()
            if events:
                self._on_events(events)
        headers = {"Request-Id": request_id, "Stripe-Version": API_VERSION}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return web.json_response(body, status=status, headers=headers)

    def _authenticate(self, header: str) -> str:
        scheme, _, key = header.partition(" ")
        if not key:
            raise StripeFakeError(
                401,
                "You did not provide an API key. You need to provide your API key in the Authorization header, "
                "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            )
        if scheme.lower() != "bearer" or not key.startswith("sk_test_") or (self.api_key and key != self.api_key):
            masked = key[:8] + "*" * max(len(key) - 12, 0) + key[-4:]
            raise StripeFakeError(401, f"Invalid API Key provided: {masked}")
        return key

    def _maybe_fail(self, method: str, path: str) -> None:
        for outage in self._outages:
            if outage.times > 0 and outage.method in (None, method) and path.startswith(outage.path):
                outage.times -= 1
                if outage.status == 429:
                    raise StripeFakeError(429, "Too many requests hit the API too quickly.", code="rate_limit")
                raise StripeFakeError(outage.status, "An unknown error occurred", error_type="api_error")

    def _run(
        self, request: web.Request, params: dict[str, Any], pairs: list[tuple[str, str]], key: str, request_id: str
    ) -> tuple[int, dict[str, Any], bool]:
        """Route the request, or replay the answer saved under its idempotency key."""
        idempotency_key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
        fingerprint = (request.method, request.path, tuple(sorted(pairs)))
        saved = self._saved.get((key, idempotency_key)) if idempotency_key else None
        if saved is not None:
            if saved.fingerprint != fingerprint:
                message = (
                    "Keys for idempotent requests can only be used with the same parameters they were first used "
                    f"with. Try using a key other than '{idempotency_key}' if you meant to execute a different "
                    "request."
                )
                raise StripeFakeError(400, message, error_type="idempotency_error")
            return saved.status, copy.deepcopy(saved.body), True
        self.store.request = {"id": request_id, "idempotency_key": idempotency_key}
        try:
            status, body = 200, self._route(request.method, request.path, params)
        except StripeFakeError as error:
            status, body = error.status, error.body()
        finally:
            self.store.request = {"id": None, "idempotency_key": None}
        # Stripe keeps the answer of a request that ran (a decline too), not of one refused by validation.
        if idempotency_key and (status < 400 or status == 402):
            self._saved[key, idempotency_key] = _Saved(fingerprint, status, copy.deepcopy(body))
        return status, body, False

    def _route(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        for route_method, pattern, handler in ROUTES:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                found = handler(self.store, params, *match.groups())
                return self.store.expand(found, [str(p) for p in as_list(params, "expand")])
        raise StripeFakeError(404, f"Unrecognized request URL ({method}: {path}).")
