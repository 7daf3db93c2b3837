"""`python -m gateway serve --workers N`: several processes on PostgreSQL + Redis, each serving
with every guarantee (one balance, shared rate limits), stopped together by SIGTERM; refused,
with the reason, where a guarantee would not hold across processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.e2e.cluster import postgres_database, sync_redis_prefix
from tests.e2e.processes import Process, serving, simulator_process
from tests.services import database_url, need_redis
from tests.support import ADMIN, ADMIN_KEY, GATEWAY_ENV, SECRET_KEY, bearer, free_port, json_decimal

pytestmark = pytest.mark.e2e
HELLO = {"model": "sim/gpt-small", "messages": [{"role": "user", "content": "Hello"}]}
HELLO_COST = 13_350  # nano-credits: 9 prompt + 20 completion tokens of sim/gpt-small


def serve(port: int, workers: int) -> list[str]:
    return [sys.executable, "-m", "gateway", "serve", "--port", str(port), "--workers", str(workers)]


@pytest.fixture
def postgres_and_redis(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of gateways on a database and Redis prefix of their own, whose upstream
    is the simulator process at 10 ms a token ("Hello": 0.2 s)."""
    redis_url = need_redis()
    with (
        postgres_database() as name,
        sync_redis_prefix() as prefix,
        simulator_process(tmp_path, token_delay_ms=10) as upstream,
    ):
        yield {
            "DATABASE_URL": database_url(name),
            "REDIS_URL": redis_url,
            "REDIS_PREFIX": prefix,
            "SECRET_KEY": SECRET_KEY,
            "ADMIN_API_KEY": ADMIN_KEY,
            "UPSTREAM_BASE_URL": f"{upstream.url}/v1",
        }


def customer(server: Process, email: str) -> dict[str, str]:
    account: dict[str, str] = httpx.post(f"{server.url}/auth/register", json={"email": email}).json()
    for path, body in [
        ("/admin/assign-plan", {"user_id": account["user_id"], "plan_id": "enterprise"}),
        ("/admin/add_credits", {"user_id": account["user_id"], "credits": "1", "reason": "e2e"}),
    ]:
        assert httpx.post(server.url + path, json=body, headers=ADMIN).status_code == 200
    return account


def stream(server: Process, api_key: str, events: list[str], first: threading.Event) -> None:
    """A stream of 400 tokens (about 4 s), read to its end."""
    body = {**HELLO, "stream": True, "messages": [{"role": "user", "content": "Hello [[tokens=400]]"}]}
    url = f"{server.url}/v1/chat/completions"
    with httpx.stream("POST", url, json=body, headers=bearer(api_key), timeout=60) as answer:
        for line in answer.iter_lines():
            if line:
                events.append(line)
                first.set()


def _instances(url: str) -> set[str]:
    async def read() -> set[str]:
        conn = await asyncpg.connect(url)
        try:
            return {row["id"] for row in await conn.fetch("SELECT id FROM instances")}
        finally:
            await conn.close()

    return asyncio.run(read())


def _answering_instances(server: Process, want: int, attempts: int = 400) -> set[str]:
    """The processes that answer, each request on a new connection (the kernel hands each to
    whichever worker accepts first)."""
    seen: set[str] = set()
    for _ in range(attempts):
        ready = httpx.get(f"{server.url}/health/ready", timeout=5)
        assert ready.status_code == 200, ready.text
        seen.add(ready.json()["instance_id"])
        if len(seen) >= want:
            break
    return seen


def test_two_workers_serve_with_every_guarantee_and_stop_on_sigterm(
    tmp_path: Path, postgres_and_redis: dict[str, str]
) -> None:
    env = postgres_and_redis
    with serving(tmp_path, "workers", lambda port: serve(port, 2), env) as server:
        answering = _answering_instances(server, want=2)
        assert len(answering) == 2, server.output()
        assert answering == _instances(env["DATABASE_URL"])  # two processes, each on record

        account = customer(server, "workers@example.com")
        key = bearer(account["api_key"])
        paid = [httpx.post(f"{server.url}/v1/chat/completions", json=HELLO, headers=key) for _ in range(20)]
        assert [answer.status_code for answer in paid] == [200] * 20
        balance = json_decimal(httpx.get(f"{server.url}/user/balance", headers=key))
        assert (balance["credits"], balance["reserved"]) == (1 - Decimal(20 * HELLO_COST) / 10**9, 0)

        # One rate limit across both processes (Redis): 25 a minute, 20 already used, leaves 5 —
        # not 5 more on each worker.
        limited = httpx.post(
            f"{server.url}/admin/limit",
            json={"user_id": account["user_id"], "rate_limits": {"requests_per_minute": 25}},
            headers=ADMIN,
        )
        assert limited.status_code == 200, limited.text
        statuses = [
            httpx.post(f"{server.url}/v1/chat/completions", json=HELLO, headers=key).status_code for _ in range(10)
        ]
        assert sorted(statuses) == [200] * 5 + [429] * 5

        # SIGTERM with a stream in flight: new connections are refused at once (not left
        # waiting in the supervisor's backlog), the stream finishes, every worker stops.
        events: list[str] = []
        first = threading.Event()
        streamer = customer(server, "stream@example.com")["api_key"]
        reader = threading.Thread(target=stream, args=(server, streamer, events, first))
        reader.start()
        assert first.wait(15)
        server.popen.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.url}/health/live", timeout=2)
        assert reader.is_alive()  # refused while the stream still runs
        reader.join(30)
        assert events[-1] == "data: [DONE]"
        assert server.popen.wait(40) == 0, server.output()
        assert _instances(env["DATABASE_URL"]) == set()  # both workers shut down cleanly


def _refused(tmp_path: Path, workers: int, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in GATEWAY_ENV}
    return subprocess.run(
        serve(free_port(), workers),
        env={**clean, "SECRET_KEY": SECRET_KEY, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_sqlite_refuses_more_than_one_worker(tmp_path: Path) -> None:
    done = _refused(tmp_path, 2, DATABASE_URL=f"sqlite:///{tmp_path}/gateway.db")
    assert done.returncode == 1
    assert "gateway: --workers 2: SQLite serves one gateway process" in done.stderr
    assert "PostgreSQL and Redis" in done.stderr and "listening" not in done.stdout
    assert not (tmp_path / "gateway.db").exists()  # refused before anything was made


def test_postgresql_without_redis_refuses_more_than_one_worker(tmp_path: Path) -> None:
    done = _refused(tmp_path, 3, DATABASE_URL="postgresql://gateway@127.0.0.1:1/gateway")
    assert done.returncode == 1
    assert "gateway: --workers 3 needs REDIS_URL" in done.stderr and "3 times" in done.stderr
