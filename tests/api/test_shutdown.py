"""A shutdown's end of the grace: what still runs is cut, and its books end like any call's —
a stream charged for what it delivered (and told why it stops), a call still waiting for
the upstream released in full (a 503) — before the runtime closes the database."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import orjson
from starlette.types import Message

from gateway.services.operations.draining import Drain
from tests.support import Gateway

GatewayFactory = Callable[..., AbstractAsyncContextManager[Gateway]]


def _call(api_key: str, **body: Any) -> tuple[dict[str, Any], Any]:
    raw = orjson.dumps({"messages": [{"role": "user", "content": "Hello"}], **body})
    scope = {
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
            (b"content-length", str(len(raw)).encode()),
            (b"authorization", f"Bearer {api_key}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("gateway.test", 80),
    }
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": raw, "more_body": False}
        await asyncio.Event().wait()  # the client stays
        raise AssertionError("unreachable")

    return scope, receive


class Client:
    """What a client receives, and when the answer's first content has arrived."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.content = asyncio.Event()

    async def send(self, message: Message) -> None:
        self.messages.append(message)
        if b'"content"' in message.get("body", b""):
            self.content.set()

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.response.body")


def _drain(gateway: Gateway) -> Drain:
    drain: Drain = gateway.app.api.state.drain
    return drain


async def _books(gateway: Gateway, user_id: str) -> tuple[int, int, int, list[tuple[str, int]]]:
    """(credits, reserved, Σ ledger, [(outcome, cost) of each usage row])."""
    async with gateway.runtime.db.read() as tx:
        balance = await tx.fetchrow("SELECT credits, reserved FROM balances WHERE user_id = $1", user_id)
        rows = await tx.fetchall("SELECT outcome, cost FROM usage_records WHERE user_id = $1", user_id)
        held = await tx.fetchval("SELECT COUNT(*) FROM reservations")
    assert balance is not None and held == 0
    total = await gateway.ledger_total(user_id)
    return balance["credits"], balance["reserved"], total, [(r["outcome"], r["cost"]) for r in rows]


async def _books_held(gateway: Gateway) -> int:
    async with gateway.runtime.db.read() as tx:
        return int(await tx.fetchval("SELECT COUNT(*) FROM reservations"))


async def test_a_stream_past_the_grace_is_cut_told_why_and_charged_for_what_it_delivered(
    gateway_factory: GatewayFactory,
) -> None:
    async with gateway_factory(shutdown_grace_seconds=0.2) as gateway:
        account = await gateway.customer("1")
        client = Client()
        scope, receive = _call(account["api_key"], model="sim/stall-stream", stream=True)
        task = asyncio.create_task(gateway.app(scope, receive, client.send))
        await client.content.wait()  # half the answer came, then the upstream stalls
        _drain(gateway).begin()  # SIGTERM
        await asyncio.wait_for(task, 5)  # ends normally, 0.2 s later
        assert client.messages[0]["status"] == 200
        last = client.messages[-1]
        assert last["type"] == "http.response.body" and not last.get("more_body", False)
        assert b'"code":"shutting_down"' in last["body"] and b"[DONE]" not in client.body
        credits, reserved, total, rows = await _books(gateway, account["user_id"])
        [(outcome, cost)] = rows
        assert outcome == "aborted" and cost > 0 and reserved == 0
        assert credits == 10**9 - cost and total == credits + reserved


async def test_a_call_still_waiting_for_the_upstream_is_released_and_answered_503(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    client = Client()
    scope, receive = _call(account["api_key"], model="sim/timeout")
    task = asyncio.create_task(gateway.app(scope, receive, client.send))
    for _ in range(500):  # until its hold is placed and it waits for the upstream (which never answers)
        if await _books_held(gateway):
            break
        await asyncio.sleep(0.01)
    assert _drain(gateway).cut() == 1
    await asyncio.wait_for(task, 5)
    assert client.messages[0]["status"] == 503
    assert dict(client.messages[0]["headers"])[b"retry-after"] == b"1"
    assert orjson.loads(client.body)["error"]["code"] == "shutting_down"
    credits, reserved, total, rows = await _books(gateway, account["user_id"])
    assert rows == [("aborted", 0)] and (credits, reserved, total) == (10**9, 0, 10**9)


async def test_what_the_server_gave_up_on_ends_its_books_before_the_runtime_closes(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    client = Client()
    async with gateway_factory() as gateway:  # grace 30 s: the server stops waiting first
        account = await gateway.customer("1")
        scope, receive = _call(account["api_key"], model="sim/stall-stream", stream=True)
        task = asyncio.create_task(gateway.app(scope, receive, client.send))
        await client.content.wait()
    assert task.done() and not task.cancelled()  # the lifespan's end cut it and waited for it
    db = sqlite3.connect(tmp_path / "gateway.db")
    try:
        (credits, reserved) = db.execute(
            "SELECT credits, reserved FROM balances WHERE user_id = ?", (account["user_id"],)
        ).fetchone()
        (outcome, cost) = db.execute("SELECT outcome, cost FROM usage_records").fetchone()
        (total,) = db.execute("SELECT SUM(amount) FROM ledger WHERE user_id = ?", (account["user_id"],)).fetchone()
        (held,) = db.execute("SELECT COUNT(*) FROM reservations").fetchone()
    finally:
        db.close()
    assert (outcome, reserved, held) == ("aborted", 0, 0) and cost > 0
    assert credits == 10**9 - cost == total
