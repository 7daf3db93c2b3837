"""A real gateway server for browser tests: uvicorn as the SPEC serves it, on SQLite, paid
through a FakeStripe whose hosted Checkout page a browser can use and whose signed webhooks
reach this server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.processes import Process, gateway_process
from tests.fakes.stripe_api import FakeStripe
from tests.stripe_support import stripe_env
from tests.support import ADMIN, ADMIN_KEY, SECRET_KEY, bearer, free_port


@dataclass(frozen=True)
class LiveGateway:
    process: Process
    stripe: FakeStripe

    @property
    def url(self) -> str:
        return self.process.url

    def register(self, email: str = "ada@example.com", **extra: Any) -> dict[str, Any]:
        """A new customer: the answer carries `api_key` (shown this once) and `user_id`."""
        answer = httpx.post(f"{self.url}/auth/register", json={"email": email, **extra})
        assert answer.status_code == 201, answer.text
        account: dict[str, Any] = answer.json()
        return account

    def credits(self, api_key: str) -> Decimal:
        answer = httpx.get(f"{self.url}/user/balance", headers=bearer(api_key))
        assert answer.status_code == 200, answer.text
        return Decimal(str(answer.json()["credits"]))

    def user_id(self, api_key: str) -> str:
        answer = httpx.get(f"{self.url}/user/balance", headers=bearer(api_key))
        assert answer.status_code == 200, answer.text
        found: str = answer.json()["user_id"]
        return found

    def delete_key(self, api_key: str, key_id: str) -> bool:
        answer = httpx.delete(f"{self.url}/user/api-keys/{key_id}?confirmation=DELETE_KEY", headers=bearer(api_key))
        return answer.status_code == 200

    def checkout(self, api_key: str, **body: Any) -> dict[str, Any]:
        """A Checkout Session opened through the JSON route: `session_id` and `checkout_url`
        (the fake's hosted page), e.g. `checkout(key, kind="credits", amount_usd="10")`."""
        answer = httpx.post(f"{self.url}/user/checkout", json=body, headers=bearer(api_key))
        assert answer.status_code == 201, answer.text
        session: dict[str, Any] = answer.json()
        return session

    def add_credits(self, user_id: str, credits: str, reference: str) -> None:
        body = {"user_id": user_id, "credits": credits, "reason": "browser test", "reference": reference}
        answer = httpx.post(f"{self.url}/admin/add_credits", json=body, headers=ADMIN)
        assert answer.status_code < 300, answer.text


@contextmanager
def serving_gateway(tmp_path: Path, stripe: FakeStripe, *, name: str = "gateway", **env: str) -> Iterator[LiveGateway]:
    """The server, stopped on leaving (even on failure). Its database is `<name>.db` and its log
    `<name>.log` in `tmp_path`; `env` adds to or overrides the settings below. Checkout returns
    the customer to this server (PUBLIC_BASE_URL), and `stripe` delivers webhooks here."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = {
        "DATABASE_URL": f"sqlite:///{tmp_path}/{name}.db",
        "SECRET_KEY": SECRET_KEY,
        "ADMIN_API_KEY": ADMIN_KEY,
        "REGISTER_RATE_LIMIT": "1000/minute",  # each test registers its own customers
        **stripe_env(stripe.url, PUBLIC_BASE_URL=url),
        **env,
    }
    with gateway_process(tmp_path, name, port=port, **settings) as process:
        stripe.webhook_url = f"{url}/stripe/webhook"
        yield LiveGateway(process, stripe)
