"""`POST /v1/chat/completions` as a raw ASGI handler (see `gateway.asgi` for why).

HTTP only: read the request, run the gateway call (`services.call.chat`), write the answer —
JSON, or SSE events as they arrive.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import aclosing

from starlette.types import Receive, Scope, Send

from gateway import deps
from gateway.asgi import BODY, NOTE, REQUEST_ID, header, send_error
from gateway.errors import GatewayError, InternalError, ServiceUnavailable
from gateway.runtime import Runtime
from gateway.services.call.chat import chat_completion
from gateway.services.call.sse import error_event
from gateway.services.keys.allowlist import Caller
from gateway.services.operations.draining import Drain, ShuttingDown

log = logging.getLogger("gateway.chat")
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


_CUT = ShuttingDown(
    "the gateway is restarting and cut this stream at the end of its shutdown grace; only what was delivered is charged"
)


def _raw(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.encode(), value.encode()) for name, value in headers.items()]


class ChatEndpoint:
    def __init__(self, runtime: Callable[[], Runtime | None], drain: Drain) -> None:
        self._runtime = runtime
        self._drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        runtime = self._runtime()
        if runtime is None:
            await send_error(send, ServiceUnavailable("the gateway is starting"))
            return

        def caller() -> Caller:
            return deps.caller(scope, runtime)

        try:
            answer = await chat_completion(
                runtime,
                authorization=header(scope, b"authorization"),
                raw=scope[BODY],
                request_id=scope[REQUEST_ID],
                caller=caller,
                note=scope.get(NOTE),
            )
        except GatewayError as error:
            await send_error(send, error)
            return
        rate = _raw(answer.rate_headers)
        if answer.events is not None:
            try:
                async with aclosing(answer.events) as pieces:  # closed (so its hold ends) whatever happens
                    await send({"type": "http.response.start", "status": 200, "headers": [*_SSE_HEADERS, *rate]})
                    async for piece in pieces:
                        await send({"type": "http.response.body", "body": piece, "more_body": True})
            except asyncio.CancelledError:
                if not self._drain.was_cut(asyncio.current_task()):
                    raise
                # Still running at the end of the shutdown grace: its books are already ended
                # (charged for what was delivered, by `aclose`); the client learns why it stops.
                await send({"type": "http.response.body", "body": error_event(_CUT)})
                return
            except Exception:
                # Headers are gone: the stream still ends properly, with an error event.
                log.exception("a stream failed after it started")
                await send({"type": "http.response.body", "body": error_event(InternalError())})
                return
            await send({"type": "http.response.body", "body": b""})
            return
        body = answer.body
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *rate]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
