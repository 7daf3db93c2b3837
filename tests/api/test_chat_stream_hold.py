"""A stream's hold ends when the response never starts: the client went before the first byte
(the server's send raised, or the handler was cancelled). No sweeper is needed."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from starlette.types import Message

from tests.support import Gateway


def _chat_scope(api_key: str, body: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"gateway.test"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", f"Bearer {api_key}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("gateway.test", 80),
    }


def _stream_request(api_key: str) -> tuple[dict[str, Any], Any]:
    body = orjson.dumps({"model": "sim/gpt-small", "messages": [{"role": "user", "content": "Hello"}], "stream": True})
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never says more
        raise AssertionError("unreachable")

    return _chat_scope(api_key, body), receive


async def _books_are_closed(gateway: Gateway, api_key: str) -> None:
    balance = await gateway.balance(api_key)
    assert balance["reserved"] == 0
    assert balance["credits"] == 1  # nothing reached the client: nothing charged
    async with gateway.runtime.db.read() as tx:
        row = await tx.fetchrow("SELECT outcome, cost FROM usage_records")
    assert row is not None and (row["outcome"], row["cost"]) == ("aborted", 0)


async def test_a_stream_whose_response_start_fails_releases_its_hold(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    scope, receive = _stream_request(account["api_key"])

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            raise OSError("the client went away")

    await gateway.app(scope, receive, send)
    await _books_are_closed(gateway, account["api_key"])


async def test_a_stream_cancelled_before_its_response_starts_releases_its_hold(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    scope, receive = _stream_request(account["api_key"])
    starting = asyncio.Event()

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            starting.set()
            await asyncio.Event().wait()  # stuck until cancelled

    task = asyncio.create_task(gateway.app(scope, receive, send))
    await starting.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await _books_are_closed(gateway, account["api_key"])
