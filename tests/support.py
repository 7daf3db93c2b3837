"""Helpers shared by the test suites: settings, a gateway under test, a fake upstream."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiohttp import web
from asgi_lifespan import LifespanManager

from gateway.app import create_app
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.simulator.server import PRICES, TOKEN_DELAY
from gateway.simulator.server import create_app as create_simulator_app

ADMIN_KEY = "test-admin-key-0123456789abcdefghijklmnopqrstuvwxyz"
SECRET_KEY = "test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"
ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}
GATEWAY_ENV = [name.upper() for name in Settings.model_fields]


def clear_gateway_env() -> None:
    for name in GATEWAY_ENV:
        os.environ.pop(name, None)


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path}/gateway.db",
        "secret_key": SECRET_KEY,
        "admin_api_key": ADMIN_KEY,
        "register_rate_limit": "1000/minute",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def bearer(api_key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {api_key}"}


def json_decimal(response: httpx.Response) -> Any:
    """A response body with numbers read exactly, as a careful client would."""
    import json

    return json.loads(response.content, parse_float=Decimal)


class Gateway:
    """A gateway app under test, driven through its ASGI interface."""

    def __init__(self, app: Any, client: httpx.AsyncClient, settings: Settings) -> None:
        self.app = app
        self.client = client
        self.settings = settings

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.api.state.runtime
        return runtime

    async def register(self, email: str = "ada@example.com", **extra: Any) -> dict[str, Any]:
        response = await self.client.post("/auth/register", json={"email": email, **extra})
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()
        return data

    async def top_up(self, user_id: str, credits: str, reference: str | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {"user_id": user_id, "credits": credits, "reason": "test top-up"}
        if reference:
            payload["reference"] = reference
        response = await self.client.post("/admin/add_credits", json=payload, headers=ADMIN)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    async def customer(
        self, credits: str = "10", email: str = "ada@example.com", plan: str = "enterprise"
    ) -> dict[str, Any]:
        """A registered, topped-up customer; on the enterprise plan unless told otherwise, so
        that tests about money are not about the free plan's rate limits."""
        account = await self.register(email)
        if Decimal(credits):
            await self.top_up(account["user_id"], credits)
        if plan != "free":
            await self.assign_plan(account["user_id"], plan)
        return account

    async def assign_plan(self, user_id: str, plan: str, months: int = 1) -> dict[str, Any]:
        response = await self.client.post(
            "/admin/assign-plan", json={"user_id": user_id, "plan_id": plan, "duration_months": months}, headers=ADMIN
        )
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    async def chat(self, api_key: str, **body: Any) -> httpx.Response:
        body.setdefault("model", "sim/gpt-small")
        body.setdefault("messages", [{"role": "user", "content": "Hello"}])
        return await self.client.post("/v1/chat/completions", json=body, headers=bearer(api_key))

    async def balance(self, api_key: str) -> dict[str, Any]:
        response = await self.client.get("/user/balance", headers=bearer(api_key))
        assert response.status_code == 200, response.text
        data: dict[str, Any] = json_decimal(response)
        return data

    async def ledger_total(self, user_id: str) -> int:
        from gateway.services.billing import balances

        return await balances.ledger_total(self.runtime.db, user_id=user_id)


@asynccontextmanager
async def running_gateway(settings: Settings) -> AsyncIterator[Gateway]:
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield Gateway(app, client, settings)


Answer = Callable[[dict[str, Any]], Awaitable[web.StreamResponse]]


class FakeUpstream:
    """An HTTP-level upstream: the simulator by default, or a scripted answer per test.

    Records every chat request it receives (headers and JSON body).
    """

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.answer: Answer | None = None
        self.catalog_status = 200
        self.catalog: dict[str, Any] | None = None
        self.catalog_calls = 0
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> str:
        simulator = create_simulator_app()
        handlers = {(r.method, r.resource.canonical): r.handler for r in simulator.router.routes() if r.resource}
        simulator_chat = handlers["POST", "/v1/chat/completions"]
        simulator_models = handlers["GET", "/v1/models"]

        async def chat(request: web.Request) -> web.StreamResponse:
            body = orjson.loads(await request.read())
            self.requests.append((dict(request.headers), body))
            if self.answer is not None:
                return await self.answer(body)
            return await simulator_chat(request)

        async def models(request: web.Request) -> web.StreamResponse:
            self.catalog_calls += 1
            if self.catalog_status != 200:
                return web.json_response({"error": {"message": "down"}}, status=self.catalog_status)
            if self.catalog is not None:
                return web.json_response(self.catalog)
            return await simulator_models(request)

        app = web.Application(client_max_size=64 * 1024 * 1024)
        app[TOKEN_DELAY] = 0.0
        app[PRICES] = {}
        app.router.add_get("/v1/models", models)
        app.router.add_post("/v1/chat/completions", chat)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
