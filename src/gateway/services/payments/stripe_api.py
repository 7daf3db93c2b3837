"""Stripe's API as the gateway uses it, through the official SDK (an async httpx client, so
tests fake it at the HTTP level): customers, Checkout and Billing Portal sessions,
off-session PaymentIntents, and the event log. Stripe's errors become the gateway's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import stripe

from gateway.errors import ReferenceConflict, UpstreamError

TIMEOUT_SECONDS = 20.0
RETRIES = 2  # network errors and 5xx, with the same idempotency key


class PaymentProviderError(UpstreamError):
    default_message = "the payment provider could not be reached or refused the request"


class Declined(Exception):
    """The card was declined (or needs the customer present)."""

    def __init__(self, *, message: str, code: str | None, decline_code: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.decline_code = decline_code

    @property
    def reason(self) -> str:
        return declined_because(self.message, self.decline_code or self.code)


def declined_because(message: str, code: str | None) -> str:
    """Why auto top-up was turned off, as `GET /user/auto-topup` says it."""
    return f"the saved card was declined: {message}" + (f" ({code})" if code else "")


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    url: str


def _as_dict(value: Any) -> dict[str, Any]:
    found: dict[str, Any] = value.to_dict() if hasattr(value, "to_dict") else dict(value)
    return found


class StripeApi:
    def __init__(self, *, secret_key: str, api_base: str) -> None:
        self._http = stripe.HTTPXClient(timeout=httpx.Timeout(TIMEOUT_SECONDS, connect=5.0))
        self._client = stripe.StripeClient(
            secret_key, base_addresses={"api": api_base}, http_client=self._http, max_network_retries=RETRIES
        )
        # Events carry `livemode`; one made in the other mode is not for this gateway.
        self.livemode = secret_key.startswith(("sk_live_", "rk_live_"))

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]  # unannotated in stripe-python

    async def create_customer(self, *, user_id: str, email: str) -> str:
        params: dict[str, Any] = {"email": email, "metadata": {"user_id": user_id}}
        found = await self._call(
            self._client.v1.customers.create_async(params=params, options={"idempotency_key": f"gw-customer-{user_id}"})  # type: ignore[arg-type]
        )
        return str(found["id"])

    async def create_checkout(self, params: dict[str, Any], *, idempotency_key: str) -> Session:
        found = await self._call(
            self._client.v1.checkout.sessions.create_async(params=params, options={"idempotency_key": idempotency_key})  # type: ignore[arg-type]
        )
        return Session(str(found["id"]), str(found["url"]))

    async def create_portal(self, *, customer: str, return_url: str) -> str:
        params: dict[str, Any] = {"customer": customer, "return_url": return_url}
        found = await self._call(self._client.v1.billing_portal.sessions.create_async(params=params))  # type: ignore[arg-type]
        return str(found["url"])

    async def payment_method_of(self, payment_intent: str) -> str | None:
        """The card a paid PaymentIntent used (to save it for later top-ups)."""
        found = await self._call(self._client.v1.payment_intents.retrieve_async(payment_intent))
        method = found.get("payment_method") if isinstance(found, dict) else None
        return method if isinstance(method, str) else None

    async def charge_off_session(
        self, *, customer: str, payment_method: str, amount_cents: int, idempotency_key: str, metadata: dict[str, str]
    ) -> str:
        """Charge a saved card with the customer away: its PaymentIntent; raises Declined."""
        params: dict[str, Any] = {
            "amount": amount_cents,
            "currency": "usd",
            "customer": customer,
            "payment_method": payment_method,
            "off_session": True,
            "confirm": True,
            "metadata": metadata,
        }
        found = await self._call(
            self._client.v1.payment_intents.create_async(params=params, options={"idempotency_key": idempotency_key})  # type: ignore[arg-type]
        )
        return str(found["id"])

    async def events_since(self, created_gte: int) -> AsyncIterator[dict[str, Any]]:
        """Every event Stripe could not deliver since `created_gte`, newest first."""
        params: dict[str, Any] = {"created": {"gte": created_gte}, "delivery_success": False, "limit": 100}
        page = await self._call(self._client.v1.events.list_async(params=params))  # type: ignore[arg-type]
        try:
            async for event in page.auto_paging_iter():
                yield _as_dict(event)
        except stripe.StripeError as failed:
            raise PaymentProviderError() from failed

    async def _call(self, request: Any) -> Any:
        try:
            found = await request
        except stripe.CardError as declined:
            raise Declined(
                message=declined.user_message or "the card was declined",
                code=declined.code,
                decline_code=getattr(declined.error, "decline_code", None),
            ) from None
        except stripe.IdempotencyError as reused:
            raise ReferenceConflict("this Idempotency-Key was used for a different request") from reused
        except stripe.StripeError as failed:
            raise PaymentProviderError() from failed
        # A list stays an SDK object (it pages itself); a resource becomes a plain dict.
        return found if isinstance(found, stripe.ListObject) else _as_dict(found)
