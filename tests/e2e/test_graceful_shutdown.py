"""SIGTERM on a real server with paying streams in flight (the upstream is the simulator
process, slowed so that a stream lasts about 2 s): the server stops accepting, every stream
finishes and is billed once, nothing stays held, and the process exits 0 within the grace.
A stream longer than the grace is cut at its end and charged for what it delivered.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.cluster import postgres_database, sync_redis_prefix
from tests.e2e.processes import Process, gateway_args, serving, simulator_process
from tests.services import database_url, need_redis
from tests.support import ADMIN, ADMIN_KEY, SECRET_KEY, bearer, json_decimal

pytestmark = pytest.mark.e2e
STREAMS = 20
TOKEN_DELAY_MS = 100  # 20 tokens: a stream of about 2 s
HELLO_COST = 13_350  # nano-credits: sim/gpt-small, "Hello": 9 prompt + 20 completion tokens
CREDITS = 10**9  # the customer's 1 credit


@dataclass(frozen=True)
class Books:
    credits: int
    reserved: int
    ledger: int  # Σ of the user's ledger rows
    usage: list[tuple[str, int, int]]  # (outcome, cost, completion tokens) of each usage row
    holds: int  # reservation rows left, of anyone


Reader = Callable[[str], Books]


def _sqlite_books(path: Path) -> Reader:
    def read(user_id: str) -> Books:
        db = sqlite3.connect(path)
        try:
            credits, reserved = db.execute(
                "SELECT credits, reserved FROM balances WHERE user_id = ?", (user_id,)
            ).fetchone()
            (ledger,) = db.execute("SELECT SUM(amount) FROM ledger WHERE user_id = ?", (user_id,)).fetchone()
            usage = db.execute(
                "SELECT outcome, cost, completion_tokens FROM usage_records WHERE user_id = ?", (user_id,)
            ).fetchall()
            (holds,) = db.execute("SELECT COUNT(*) FROM reservations").fetchone()
        finally:
            db.close()
        return Books(credits, reserved, ledger, [tuple(row) for row in usage], holds)

    return read


def _postgres_books(url: str) -> Reader:
    async def fetch(user_id: str) -> Books:
        conn = await asyncpg.connect(url)
        try:
            row = await conn.fetchrow("SELECT credits, reserved FROM balances WHERE user_id = $1", user_id)
            ledger = await conn.fetchval("SELECT SUM(amount) FROM ledger WHERE user_id = $1", user_id)
            usage = await conn.fetch(
                "SELECT outcome, cost, completion_tokens FROM usage_records WHERE user_id = $1", user_id
            )
            holds = await conn.fetchval("SELECT COUNT(*) FROM reservations")
        finally:
            await conn.close()
        rows = [(r["outcome"], r["cost"], r["completion_tokens"]) for r in usage]
        return Books(row["credits"], row["reserved"], ledger, rows, holds)

    return lambda user_id: asyncio.run(fetch(user_id))


@contextmanager
def backend(kind: str, tmp_path: Path) -> Iterator[tuple[dict[str, str], Reader]]:
    """The gateway's environment for one backend, and how to read its books."""
    if kind == "sqlite":
        yield {"DATABASE_URL": f"sqlite:///{tmp_path}/e2e.db"}, _sqlite_books(tmp_path / "e2e.db")
        return
    redis_url = need_redis()
    with postgres_database() as name, sync_redis_prefix() as prefix:
        url = database_url(name)
        yield {"DATABASE_URL": url, "REDIS_URL": redis_url, "REDIS_PREFIX": prefix}, _postgres_books(url)


def serve_args(port: int) -> list[str]:
    return [sys.executable, "-m", "gateway", "serve", "--port", str(port)]


def customer(server: Process) -> dict[str, Any]:
    """A customer with 1 credit, on the enterprise plan (20 concurrent streams are within it)."""
    account: dict[str, Any] = httpx.post(f"{server.url}/auth/register", json={"email": "drain@example.com"}).json()
    for path, body in [
        ("/admin/assign-plan", {"user_id": account["user_id"], "plan_id": "enterprise"}),
        ("/admin/add_credits", {"user_id": account["user_id"], "credits": "1", "reason": "e2e"}),
    ]:
        answer = httpx.post(server.url + path, json=body, headers=ADMIN)
        assert answer.status_code == 200, answer.text
    return account


class Stream(threading.Thread):
    """One streamed completion read line by line; `first` is set at its first event."""

    def __init__(self, server: Process, api_key: str, content: str = "Hello") -> None:
        super().__init__(daemon=True)
        self.url = f"{server.url}/v1/chat/completions"
        self.api_key = api_key
        self.body = {"model": "sim/gpt-small", "stream": True, "messages": [{"role": "user", "content": content}]}
        self.events: list[str] = []
        self.first = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with httpx.stream("POST", self.url, json=self.body, headers=bearer(self.api_key), timeout=60) as answer:
                assert answer.status_code == 200, answer.read()
                for line in answer.iter_lines():
                    if line:
                        self.events.append(line)
                        self.first.set()
        except BaseException as exc:  # reported by the test
            self.error = exc

    @property
    def completed(self) -> bool:
        return (
            self.error is None
            and self.events[-1] == "data: [DONE]"
            and any('"finish_reason":"stop"' in event for event in self.events)
            and not any('"error"' in event for event in self.events)
        )


def refused_soon(server: Process, seconds: float = 3) -> bool:
    """Whether new connections are refused within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{server.url}/health/live", timeout=0.5)
        except httpx.ConnectError:
            return True
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_sigterm_lets_twenty_streams_finish_and_bills_each_once(tmp_path: Path, kind: str) -> None:
    grace = 30
    with ExitStack() as stack:
        upstream = stack.enter_context(simulator_process(tmp_path, token_delay_ms=TOKEN_DELAY_MS))
        env, books = stack.enter_context(backend(kind, tmp_path))
        env |= {
            "SECRET_KEY": SECRET_KEY,
            "ADMIN_API_KEY": ADMIN_KEY,
            "UPSTREAM_BASE_URL": f"{upstream.url}/v1",
            "SHUTDOWN_GRACE_SECONDS": str(grace),
        }
        with serving(tmp_path, "gateway", serve_args, env) as server:
            account = customer(server)
            streams = [Stream(server, account["api_key"]) for _ in range(STREAMS)]
            for stream in streams:
                stream.start()
            for stream in streams:
                assert stream.first.wait(15), stream.error
            server.popen.send_signal(signal.SIGTERM)
            stopped = time.monotonic()
            assert refused_soon(server), "new connections were still accepted after SIGTERM"
            assert any(stream.is_alive() for stream in streams)  # refused while streams still run
            for stream in streams:
                stream.join(grace)
            assert [stream.error for stream in streams] == [None] * STREAMS
            assert all(stream.completed for stream in streams), [s.events[-2:] for s in streams if not s.completed]
            assert server.popen.wait(grace) == 0, server.output()
            assert time.monotonic() - stopped < grace
            assert "cutting" not in server.output()  # nothing needed the end of the grace

        found = books(account["user_id"])  # as the stopped process left them: nothing for a sweep
        assert found.usage == [("completed", HELLO_COST, 20)] * STREAMS
        assert (found.credits, found.reserved, found.holds) == (CREDITS - STREAMS * HELLO_COST, 0, 0)
        assert found.ledger == found.credits + found.reserved
        with serving(tmp_path, "restarted", serve_args, env) as again:
            balance = json_decimal(httpx.get(f"{again.url}/user/balance", headers=bearer(account["api_key"])))
        assert (balance["credits"], balance["reserved"]) == (1 - Decimal(STREAMS * HELLO_COST) / CREDITS, 0)


@pytest.mark.parametrize(
    ("command", "exits"),
    [(serve_args, {0}), (gateway_args, {0, -signal.SIGTERM})],
    ids=["python -m gateway serve", "uvicorn gateway.main:app"],
)
def test_a_stream_longer_than_the_grace_is_cut_and_charged_for_what_it_delivered(
    tmp_path: Path, command: Callable[[int], list[str]], exits: set[int]
) -> None:
    """The grace holds whatever the serve command: the uvicorn command has no graceful timeout
    of its own here, so the app cuts. (uvicorn re-raises SIGTERM once it is done: 143.)"""
    grace = 2
    with ExitStack() as stack:
        upstream = stack.enter_context(simulator_process(tmp_path, token_delay_ms=TOKEN_DELAY_MS))
        env, books = stack.enter_context(backend("sqlite", tmp_path))
        env |= {
            "SECRET_KEY": SECRET_KEY,
            "ADMIN_API_KEY": ADMIN_KEY,
            "UPSTREAM_BASE_URL": f"{upstream.url}/v1",
            "SHUTDOWN_GRACE_SECONDS": str(grace),
        }
        with serving(tmp_path, "gateway", command, env) as server:
            account = customer(server)
            stream = Stream(server, account["api_key"], content="Hello [[tokens=200]]")  # about 20 s
            stream.start()
            assert stream.first.wait(15), stream.error
            server.popen.send_signal(signal.SIGTERM)
            stopped = time.monotonic()
            stream.join(grace + 5)
            assert not stream.is_alive() and stream.error is None
            assert '"code":"shutting_down"' in stream.events[-1] and "data: [DONE]" not in stream.events
            assert server.popen.wait(grace + 5) in exits, server.output()
            assert time.monotonic() - stopped < grace + 2
            delivered = sum('"content"' in event for event in stream.events)
            assert 5 < delivered < 100
        found = books(account["user_id"])
    [(outcome, cost, completion_tokens)] = found.usage
    assert outcome == "aborted" and cost > 0
    assert delivered <= completion_tokens < 200  # what was delivered (delivered-usage rule), not the whole answer
    assert (found.credits, found.reserved, found.holds) == (CREDITS - cost, 0, 0)
    assert found.ledger == found.credits + found.reserved
