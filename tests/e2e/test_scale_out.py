"""Several real gateway processes on one PostgreSQL (direct and through PgBouncer) and Redis."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
import pytest

from gateway.db.migrations import migrations_for
from tests.e2e.cluster import Cluster, private_redis
from tests.e2e.processes import Process
from tests.support import ADMIN, bearer

pytestmark = pytest.mark.e2e
HELLO = {"model": "sim/gpt-small", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 20}
HELLO_COST = 13_350  # nano-credits: 9 prompt + 20 completion tokens of sim/gpt-small


def split_traffic(a: Process, b: Process, api_key: str, count: int) -> list[int]:
    """`count` simultaneous requests, alternating between two processes; their statuses."""

    async def fire() -> list[int]:
        async with httpx.AsyncClient(timeout=30) as client:

            async def one(process: Process) -> int:
                response = await client.post(f"{process.url}/v1/chat/completions", json=HELLO, headers=bearer(api_key))
                return response.status_code

            return list(await asyncio.gather(*(one(a if n % 2 else b) for n in range(count))))

    return asyncio.run(fire())


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with ExitStack() as stack:
        yield Cluster(tmp_path, stack)


def test_processes_started_together_migrate_once(cluster: Cluster) -> None:
    processes = cluster.start(3)  # all at once on an empty database
    assert all(httpx.get(f"{p.url}/health").json()["database"] == "postgres" for p in processes)

    async def versions() -> list[int]:
        conn = await asyncpg.connect(cluster.direct_url)
        try:
            return [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")]
        finally:
            await conn.close()

    assert asyncio.run(versions()) == [m.version for m in migrations_for("postgres")]


def test_no_overdraft_with_traffic_split_across_two_processes(cluster: Cluster) -> None:
    cluster.upstream(token_delay_ms=20)  # answers take ~0.4 s: every request overlaps
    a, b = cluster.start(2)
    account = cluster.customer(a, "0", "split@example.com")
    # what one request holds: its body's bytes + 3 prompt tokens, and 20 output tokens
    body_bytes = len(httpx.Request("POST", "http://x", json=HELLO).content)
    reservation = (body_bytes + 3) * 150 + 20 * 600
    affordable = 4
    funded = affordable * reservation + reservation // 2
    topped = httpx.post(
        f"{a.url}/admin/add_credits",
        json={"user_id": account["user_id"], "credits": str(Decimal(funded) / 10**9), "reason": "e2e"},
        headers=ADMIN,
    )
    assert topped.status_code == 200

    statuses = split_traffic(a, b, account["api_key"], 60)
    assert statuses.count(200) == affordable
    assert statuses.count(402) == 60 - affordable
    credits, reserved, total = cluster.books(account["user_id"])
    assert reserved == 0
    assert credits == funded - affordable * HELLO_COST >= 0
    assert total == credits + reserved


def test_rate_windows_hold_across_two_processes(cluster: Cluster) -> None:
    cluster.upstream(token_delay_ms=0)
    a, b = cluster.start(2)
    account = cluster.customer(a, "1", "windows@example.com")
    limits = {"user_id": account["user_id"], "rate_limits": {"requests_per_minute": 23}}
    assert httpx.post(f"{a.url}/admin/limit", json=limits, headers=ADMIN).status_code == 200

    statuses = split_traffic(a, b, account["api_key"], 60)
    assert statuses.count(200) == 23 and statuses.count(429) == 37


def test_a_key_revoked_through_one_process_is_refused_by_the_other_within_a_second(cluster: Cluster) -> None:
    a, b = cluster.start(2)
    account = cluster.customer(a, "1", "revoke@example.com")
    key = bearer(account["api_key"])
    assert httpx.post(f"{b.url}/v1/chat/completions", json=HELLO, headers=key).status_code == 200  # cached in b
    started = time.monotonic()
    deleted = httpx.delete(
        f"{a.url}/user/api-keys/{account['key_id']}", params={"confirmation": "DELETE_KEY"}, headers=key
    )
    assert deleted.status_code == 200
    while httpx.post(f"{b.url}/v1/chat/completions", json=HELLO, headers=key).status_code != 401:
        assert time.monotonic() - started < 1.0, "the other process still accepts the revoked key"
        time.sleep(0.01)
    elapsed = time.monotonic() - started
    print(f"revocation seen by the other process after {elapsed * 1000:.0f} ms")


def test_a_catalog_refresh_through_one_process_is_seen_by_the_other(cluster: Cluster) -> None:
    upstream = cluster.upstream(token_delay_ms=0)
    a, b = cluster.start(2)
    account = cluster.customer(a, "1", "catalog@example.com")
    key = bearer(account["api_key"])
    before = httpx.post(f"{b.url}/v1/chat/completions", json=HELLO, headers=key).json()["usage"]["cost"]
    assert Decimal(str(before)) == Decimal("0.00001335")
    pricing = {"prompt": "0.000001", "completion": "0.000001"}
    httpx.post(f"{upstream.url}/_simulator/prices", json={"model": "sim/gpt-small", "pricing": pricing})
    assert httpx.post(f"{a.url}/admin/refresh-models", headers=ADMIN).status_code == 200
    deadline = time.monotonic() + 1.0
    while True:
        cost = httpx.post(f"{b.url}/v1/chat/completions", json=HELLO, headers=key).json()["usage"]["cost"]
        if Decimal(str(cost)) == Decimal("0.000029"):
            break
        assert time.monotonic() < deadline, "the other process does not see the refresh"
        time.sleep(0.02)


def test_a_killed_process_holds_are_released_by_the_survivors(cluster: Cluster) -> None:
    cluster.upstream(token_delay_ms=100)
    doomed, survivor, other = cluster.start(3)
    victim = cluster.customer(doomed, "1", "victim@example.com")
    patient = cluster.customer(survivor, "1", "patient@example.com")

    def stream(process: Process, account: dict[str, str], tokens: int, arrived: threading.Event) -> None:
        body = {**HELLO, "stream": True, "messages": [{"role": "user", "content": f"[[tokens={tokens}]]"}]}
        body.pop("max_tokens")
        try:
            with httpx.stream(
                "POST",
                f"{process.url}/v1/chat/completions",
                json=body,
                headers=bearer(account["api_key"]),
                timeout=60,
            ) as response:
                for _ in response.iter_bytes():
                    arrived.set()
        except httpx.HTTPError:
            arrived.set()  # the process died under this stream: expected for the victim

    victim_started = [threading.Event() for _ in range(3)]
    patient_started = threading.Event()
    threads = [threading.Thread(target=stream, args=(doomed, victim, 200, e)) for e in victim_started]
    threads.append(threading.Thread(target=stream, args=(survivor, patient, 100, patient_started)))
    for thread in threads:
        thread.start()
    assert all(e.wait(10) for e in victim_started) and patient_started.wait(10)
    assert cluster.books(victim["user_id"])[1] > 0 and cluster.books(patient["user_id"])[1] > 0

    doomed.stop(signal.SIGKILL)
    killed_at = time.monotonic()
    while cluster.books(victim["user_id"])[1] > 0:
        assert time.monotonic() - killed_at < 60, "the dead process's holds were not released"
        time.sleep(0.2)
    released_after = time.monotonic() - killed_at
    # nothing lost, nothing minted: the victim's answers never completed, so nothing was charged
    assert cluster.books(victim["user_id"]) == (10**9, 0, 10**9)
    # the survivor's long request is still running and still holds its reservation
    assert threads[-1].is_alive() and cluster.books(patient["user_id"])[1] > 0
    threads[-1].join(30)
    credits, reserved, total = cluster.books(patient["user_id"])
    assert reserved == 0 and credits < 10**9 and total == credits
    assert httpx.get(f"{other.url}/health").status_code == 200
    print(f"holds of the killed process released after {released_after:.1f} s")


def test_redis_outage_degrades_and_recovers(tmp_path: Path) -> None:
    with ExitStack() as stack:
        redis_url, redis_process = stack.enter_context(private_redis())
        cluster = Cluster(tmp_path, stack, REDIS_URL=redis_url)
        (gateway,) = cluster.start(1)
        account = cluster.customer(gateway, "1", "outage@example.com")
        key = bearer(account["api_key"])
        assert httpx.get(f"{gateway.url}/health").json()["redis"] == "ok"
        port = redis_url.rsplit(":", 1)[1].split("/")[0]
        redis_process.terminate()
        redis_process.wait(10)
        for _ in range(5):  # money never depends on Redis: requests keep being served
            assert httpx.post(f"{gateway.url}/v1/chat/completions", json=HELLO, headers=key).status_code == 200
        assert httpx.post(f"{gateway.url}/auth/register", json={"email": "x@example.com"}).status_code == 201
        deadline = time.monotonic() + 5
        while httpx.get(f"{gateway.url}/health").json()["status"] != "degraded":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        with private_redis(int(port)):
            deadline = time.monotonic() + 10
            while httpx.get(f"{gateway.url}/health").json()["status"] != "ok":
                assert time.monotonic() < deadline, "the gateway did not notice Redis came back"
                time.sleep(0.1)
            assert httpx.post(f"{gateway.url}/v1/chat/completions", json=HELLO, headers=key).status_code == 200
        assert "Redis is unreachable" in gateway.output()
        assert "Redis is reachable again" in gateway.output()
