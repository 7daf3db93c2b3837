"""The app factory: FastAPI for the API routes, wrapped by the gateway's own ASGI layer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from gateway.asgi import GatewayApp
from gateway.errors import GatewayError, InternalError, InvalidJson, InvalidRequest, from_status
from gateway.logs import redact_access_logs, use_format
from gateway.routes import accounts, admin, console, cron, health, keys, metrics, payments, plans, public, user
from gateway.routes.chat import ChatEndpoint
from gateway.routes.openapi import finish
from gateway.runtime import Runtime, start_runtime, stop_runtime
from gateway.serverless import ServerlessApp
from gateway.services.operations.draining import Drain, watch_signals
from gateway.services.operations.metrics import process_stopping
from gateway.settings import Settings, load_settings


def _error_response(error: GatewayError) -> Response:
    return Response(
        content=error.body(), status_code=error.status, headers=error.headers, media_type="application/json"
    )


async def _gateway_error(_: Request, exc: Exception) -> Response:
    return _error_response(exc if isinstance(exc, GatewayError) else InternalError())


async def _validation_error(_: Request, exc: Exception) -> Response:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        return _error_response(InvalidJson())
    location = [str(part) for part in first.get("loc", ()) if part != "body"]
    param = ".".join(location) or None
    message = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
    if first.get("type") == "extra_forbidden":
        message = "unknown field"
    return _error_response(InvalidRequest(f"{param}: {message}" if param else message, param=param))


async def _http_error(_: Request, exc: Exception) -> Response:
    if not isinstance(exc, StarletteHTTPException):
        return _error_response(InternalError())
    return _error_response(from_status(exc.status_code, str(exc.detail)))


async def _unexpected(_: Request, exc: Exception) -> Response:
    return _error_response(InternalError())


def create_app(settings: Settings | None = None) -> ASGIApp:
    settings = settings or load_settings()
    redact_access_logs()  # whoever serves the app, no key in a query string reaches a log
    use_format(settings.log_format)  # LOG_FORMAT, for the gateway's lines and the server's
    drain = Drain(grace=settings.shutdown_grace_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await start_runtime(settings)
        app.state.runtime = runtime
        unwatch = watch_signals(drain)  # SIGTERM: not ready any more, and the grace starts
        try:
            yield
        finally:
            unwatch()
            await drain.finish()  # what the server gave up on ends its books before the runtime closes
            app.state.runtime = None
            await stop_runtime(runtime)
            process_stopping()  # multiprocess metrics: this process's live gauges go with it

    api = FastAPI(
        title="Credit-metered OpenAI-compatible gateway",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    api.state.runtime = None
    api.state.drain = drain
    for router in (
        public.router, health.router, plans.public, accounts.router, user.router, keys.router, payments.customer,
        payments.stripe, admin.router, plans.admin, payments.admin, cron.router, metrics.router, *console.routers(),
    ):  # fmt: skip
        api.include_router(router)
    api.add_exception_handler(GatewayError, _gateway_error)
    api.add_exception_handler(RequestValidationError, _validation_error)
    api.add_exception_handler(StarletteHTTPException, _http_error)
    api.add_exception_handler(Exception, _unexpected)

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            schema = get_openapi(title=api.title, version=api.version, routes=api.routes)
            api.openapi_schema = finish(schema)
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override

    def runtime() -> Runtime | None:
        found: Runtime | None = api.state.runtime
        return found

    app: ASGIApp = GatewayApp(
        api=api, chat=ChatEndpoint(runtime, drain), max_body_bytes=settings.max_body_bytes, drain=drain
    )
    if settings.cors_origins:
        app = CORSMiddleware(
            app,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["x-request-id", "retry-after", "x-should-retry"],
            max_age=600,
        )
    if settings.vercel:  # a function frozen between requests: see `serverless`
        app = ServerlessApp(app, runtime)
    return app
