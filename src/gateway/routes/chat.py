"""`POST /v1/chat/completions` as a raw ASGI handler (see `gateway.asgi` for why).

HTTP only: read the request, run the gateway call (`services.admission`, `services.chat`),
write the answer — JSON, or SSE events as they arrive. Every answer to an authenticated
request carries the rate-limit headers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import aclosing

from starlette.types import Receive, Scope, Send

from gateway.asgi import BODY, REQUEST_ID, header, header_lines, send_error
from gateway.errors import GatewayError, InternalError, ServiceUnavailable
from gateway.runtime import Runtime
from gateway.services.admission import start_call
from gateway.services.allowlist import Caller
from gateway.services.auth import Principal
from gateway.services.chat import ChatCall
from gateway.services.chat_request import parse_chat_request
from gateway.services.client_ip import client_ip

log = logging.getLogger("gateway.chat")
NO_CALLER = Caller(ip="")
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


def _caller(scope: Scope, runtime: Runtime, principal: Principal) -> Caller:
    """Where the request comes from; only keys with allowlists need to know."""
    if not principal.restricted:
        return NO_CALLER
    peer = scope["client"][0] if scope.get("client") else None
    forwarded = header_lines(scope, b"x-forwarded-for")
    return Caller(
        ip=client_ip(peer, forwarded, runtime.settings.trusted_proxies),
        origin=header(scope, b"origin"),
        referer=header(scope, b"referer"),
    )


def _raw(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.encode(), value.encode()) for name, value in headers.items()]


async def _add_rate_headers(error: GatewayError, runtime: Runtime, principal: Principal, call: ChatCall | None) -> None:
    if any(name.startswith("x-ratelimit-") for name in error.headers):
        return
    if call is not None and call.ticket is not None:
        error.headers.update(call.rate_headers)
        return
    plan = await runtime.plans.get(principal.effective_plan(time.time()))
    error.headers.update(await runtime.limiter.headers(principal, plan))


class ChatEndpoint:
    def __init__(self, runtime: Callable[[], Runtime | None]) -> None:
        self._runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        runtime = self._runtime()
        principal: Principal | None = None
        call: ChatCall | None = None
        try:
            if runtime is None:
                raise ServiceUnavailable("the gateway is starting")
            principal = await runtime.auth.authenticate(header(scope, b"authorization"))
            request = parse_chat_request(scope[BODY])
            call = await start_call(
                runtime.chat,
                principal=principal,
                request=request,
                request_id=scope[REQUEST_ID],
                caller=_caller(scope, runtime, principal),
            )
            reply = await call.send()
            streaming = request.stream and reply.content_type.startswith("text/event-stream")
            body = b"" if streaming else await call.complete(reply)
        except GatewayError as error:
            if principal is not None and runtime is not None:
                await _add_rate_headers(error, runtime, principal, call)
            await send_error(send, error)
            return
        rate = _raw(call.rate_headers)
        if streaming:
            await send({"type": "http.response.start", "status": 200, "headers": [*_SSE_HEADERS, *rate]})
            try:
                async with aclosing(call.relay(reply)) as pieces:
                    async for piece in pieces:
                        await send({"type": "http.response.body", "body": piece, "more_body": True})
            except Exception:
                # Headers are gone: the stream still ends properly, with an error event.
                log.exception("a stream failed after it started")
                await send({"type": "http.response.body", "body": b"data: " + InternalError().body() + b"\n\n"})
                return
            await send({"type": "http.response.body", "body": b""})
            return
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *rate]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
