"""The outermost ASGI app: request ids, body limits (size, JSON nesting), and the fast lane
for chat completions.

Written as a plain ASGI class (no BaseHTTPMiddleware) so streams pass through untouched.
`POST /v1/chat/completions` goes straight to its raw handler: FastAPI's routing and
validation cost more per request than the gateway's own bookkeeping, and that route's body
is passed through to the upstream anyway. Everything else is served by FastAPI.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.bounds import MAX_JSON_DEPTH, nesting_exceeds
from gateway.errors import GatewayError, InternalError, InvalidRequest, MethodNotAllowed, RequestTooLarge
from gateway.ids import random_hex
from gateway.services.operations import access
from gateway.services.operations.draining import Drain, ShuttingDown

log = logging.getLogger("gateway.http")

CHAT_PATH = "/v1/chat/completions"
REQUEST_ID = "gateway.request_id"
BODY = "gateway.body"
NOTE = "gateway.note"  # the request's `access.RequestNote`, filled by whoever learns something
OTHER_ROUTE = "other"  # a path no route matched: never the raw path (ids, pasted keys)
_VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def header_lines(scope: Scope, name: bytes) -> list[str]:
    """Every line of a header that may be repeated, in order."""
    return [value.decode("latin-1") for key, value in scope["headers"] if key == name]


def _request_id(scope: Scope) -> str:
    for key, value in scope["headers"]:
        if key == b"x-request-id" and _VALID_REQUEST_ID.fullmatch(value):
            return str(value.decode())
    return f"req_{random_hex(24)}"


async def send_error(send: Send, error: GatewayError) -> None:
    body = error.body()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(name.lower().encode(), value.encode()) for name, value in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None if the client went away; 413 past `limit`."""
    declared = header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge(f"the request body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge(f"the request body is larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class GatewayApp:
    def __init__(
        self,
        *,
        api: ASGIApp,
        chat: Callable[[Scope, Receive, Send], Awaitable[None]],
        max_body_bytes: int,
        drain: Drain,
    ) -> None:
        self.api = api
        self.chat = chat
        self.max_body_bytes = max_body_bytes
        self.drain = drain  # every request in flight, so a shutdown can wait for it (or cut it)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.api(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope[REQUEST_ID] = request_id
        scope[NOTE] = note = access.arrived()
        started = False
        status = 499  # nginx's "client closed request": the client left before any answer
        id_header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        task = self.drain.enter()
        try:
            await self._dispatch(scope, receive, send_with_id)
        except GatewayError as error:
            if not started:
                await send_error(send_with_id, error)
        except asyncio.CancelledError:
            if not self.drain.was_cut(task):
                raise
            # Cut at the end of the shutdown grace: a 503 if nothing was sent yet; else the
            # response ends unfinished (the server closes the connection), never passing as whole.
            if not started:
                await send_error(send_with_id, ShuttingDown())
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if not started:
                await send_error(send_with_id, InternalError())
        finally:
            self.drain.leave(task)
            # After the response's last byte (a stream's too): its metrics and access line.
            route = CHAT_PATH if scope["path"] == CHAT_PATH else route_template(scope)
            access.finished(note, request_id=request_id, method=scope["method"], route=route, status=status)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(scope, receive, self.max_body_bytes)
        if body is None:
            return
        if nesting_exceeds(body):
            # Refused before anything is held or counted: the chat body may be re-serialised
            # for the upstream (orjson writes at most 254 levels), and json.loads recurses.
            raise InvalidRequest(f"the request body nests more than {MAX_JSON_DEPTH} levels deep")
        scope[BODY] = body
        if scope["path"] == CHAT_PATH:
            if scope["method"] != "POST":
                raise MethodNotAllowed(f"{CHAT_PATH} accepts POST only", headers={"allow": "POST"})
            await self.chat(scope, receive, send)
        else:
            await self.api(scope, _replay(body, receive), send)


def route_template(scope: Scope) -> str:
    """The path of the route that served the request (`/user/api-keys/{key_id}`), as the
    router left it in the scope; `other` when none matched."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else OTHER_ROUTE


def _replay(body: bytes, receive: Receive) -> Receive:
    """Hand the already-read body to the app once, then pass through (e.g. disconnects)."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
