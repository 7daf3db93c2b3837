"""`POST /v1/chat/completions` as a raw ASGI handler (see `gateway.asgi` for why).

HTTP only: read the request, run the gateway call (`services.chat`), write the answer —
JSON, or SSE events as they arrive.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import aclosing

from starlette.types import Receive, Scope, Send

from gateway.asgi import BODY, REQUEST_ID, header, send_error
from gateway.errors import GatewayError, ServiceUnavailable
from gateway.runtime import Runtime
from gateway.services.chat import start_call
from gateway.services.chat_request import parse_chat_request

_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class ChatEndpoint:
    def __init__(self, runtime: Callable[[], Runtime | None]) -> None:
        self._runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        runtime = self._runtime()
        try:
            if runtime is None:
                raise ServiceUnavailable("the gateway is starting")
            principal = await runtime.auth.authenticate(header(scope, b"authorization"))
            request = parse_chat_request(scope[BODY])
            call = await start_call(
                runtime.chat, principal=principal, request=request, request_id=scope[REQUEST_ID]
            )
            reply = await call.send()
            streaming = request.stream and reply.content_type.startswith("text/event-stream")
            body = b"" if streaming else await call.complete(reply)
        except GatewayError as error:
            await send_error(send, error)
            return
        if streaming:
            await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
            async with aclosing(call.relay(reply)) as pieces:
                async for piece in pieces:
                    await send({"type": "http.response.body", "body": piece, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
