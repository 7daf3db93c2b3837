#!/usr/bin/env python3
"""Measure what the gateway adds: the same load straight at the simulated upstream and through
the gateway — on each backend — interleaved in one run, so the ratios compare like with like.

    .venv/bin/python scripts/bench.py                              # SQLite only, ~3 min
    .venv/bin/python scripts/bench.py --backends sqlite,postgres   # both backends, ~5 min
    ROUNDS=3 DUR=15 .venv/bin/python scripts/bench.py --out bench-results/run.md

Needs `wrk` (Debian: apt-get install wrk). Each gateway runs pinned to CPU 0 with every check
on (key auth, reservation, settlement, usage and ledger rows); the simulator and wrk share
CPU 1. `postgres` means PostgreSQL + Redis: a throwaway database on BENCH_POSTGRES_URL's
server [postgresql://postgres@127.0.0.1:5432/test] and a key prefix on BENCH_REDIS_URL
[redis://127.0.0.1:6379/0], both removed afterwards. Reported per cell: requests/s, p50/p99
latency, the latency the gateway adds at p50, its CPU ms per request, gateway/direct
throughput. Knobs (environment): ROUNDS [2], DUR seconds per cell [10], WARM seconds of
warm-up [3], CONNS ["1 32"], MODES ["chat stream"].
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "scripts" / "bench_lua"
PYTHON = sys.executable
ADMIN_KEY = "bench-admin-key-" + "x" * 32
SECRET = "bench-secret-key-" + "y" * 32
SUT_CPU, LOAD_CPU = "0", "1"
HZ = os.sysconf("SC_CLK_TCK")
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
ROUNDS = int(os.environ.get("ROUNDS", "2"))
DUR = int(os.environ.get("DUR", "10"))
WARM = int(os.environ.get("WARM", "3"))
CONNS = [int(c) for c in os.environ.get("CONNS", "1 32").split()]
MODES = os.environ.get("MODES", "chat stream").split()


def log(*parts: object) -> None:
    print(time.strftime("%H:%M:%S"), *parts, flush=True)


class Server:
    def __init__(self, name: str, args: list[str], cpu: str, env: dict[str, str], logdir: Path) -> None:
        self.name = name
        self.log = (logdir / f"{name}.log").open("wb")
        self.proc = subprocess.Popen(
            ["taskset", "-c", cpu, *args],
            env={**os.environ, **env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def cpu_seconds(self) -> float:
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(stat[11]) + int(stat[12])) / HZ

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - local URL
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"timeout waiting for {url}")


def post(url: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - local URL
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json", **headers}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        result: dict[str, Any] = json.loads(response.read())
        return result


HIGH = 10**12
BENCH_PLAN = {
    "id": "bench",
    "name": "Benchmark (every limit on, none reached)",
    **{f"{d}_per_{p}": HIGH for d in ("requests", "tokens") for p in ("minute", "hour", "day")},
    "max_concurrent_requests": 100_000,
}


def seed_customer(gateway: str) -> str:
    """A customer on a plan with every rate limit set (all windows are checked and counted on
    each request), none of them low enough to refuse during the run."""
    admin = {"authorization": f"Bearer {ADMIN_KEY}"}
    try:
        post(f"{gateway}/admin/plans", BENCH_PLAN, admin)
    except urllib.error.HTTPError as exists:
        if exists.code != 409:  # shared by several gateways on one database
            raise
    account = post(f"{gateway}/auth/register", {"email": f"bench{time.time_ns()}@example.com"}, {})
    post(f"{gateway}/admin/add_credits", {"user_id": account["user_id"], "credits": "100000", "reason": "bench"}, admin)
    post(f"{gateway}/admin/assign-plan", {"user_id": account["user_id"], "plan_id": "bench"}, admin)
    key: str = account["api_key"]
    return key


@contextmanager
def postgres_and_redis() -> Iterator[dict[str, str]]:
    """A throwaway PostgreSQL database and Redis prefix; removed afterwards."""
    import asyncpg
    import redis

    name, prefix = f"gw_bench_{secrets.token_hex(4)}", f"gwbench:{secrets.token_hex(4)}:"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(POSTGRES_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield {
            "DATABASE_URL": POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}",
            "REDIS_URL": REDIS_URL,
            "REDIS_PREFIX": prefix,
        }
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)


def run_wrk(url: str, mode: str, conns: int, seconds: int, key: str) -> dict[str, Any]:
    script = LUA / ("stream.lua" if mode == "stream" else "chat.lua")
    args = ["taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "10s"]
    args += ["-s", str(script), url]
    done = subprocess.run(args, capture_output=True, text=True, env={**os.environ, "BENCH_KEY": key}, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT_JSON "):
            result: dict[str, Any] = json.loads(line.removeprefix("RESULT_JSON "))
            return result
    raise SystemExit(f"wrk failed:\n{done.stdout}\n{done.stderr}")


def measure(target: str, url: str, *, mode: str, conns: int, key: str, server: Server | None) -> dict[str, Any]:
    run_wrk(url, mode, conns, WARM, key)
    cpu_before = server.cpu_seconds() if server else 0.0
    result = run_wrk(url, mode, conns, DUR, key)
    cpu = (server.cpu_seconds() - cpu_before) if server else 0.0
    requests = max(result["requests"], 1)
    errors = sum(v for k, v in result.items() if k.startswith("err_"))
    row = {
        "target": target,
        "mode": mode,
        "conns": conns,
        "rps": requests / (result["duration_us"] / 1e6),
        "p50": result["lat_p50_us"] / 1000,
        "p99": result["lat_p99_us"] / 1000,
        "cpu_ms": 1000 * cpu / requests if server else None,
        "errors": errors + max(result.get("incomplete", 0), 0),
    }
    log(
        f"{target:16s} {mode:6s} c={conns:<3d} rps={row['rps']:9.1f} p50={row['p50']:.2f}ms "
        f"p99={row['p99']:.2f}ms errors={row['errors']}"
    )
    return row


def report(rows: list[dict[str, Any]], backends: list[str], rss: dict[str, tuple[float, float]], meta: str) -> str:
    lines = [meta, ""]
    header = (
        "| backend | mode | conns | direct rps | gateway rps | gateway/direct | direct p50 | gateway p50 "
        "| added p50 (ms) | gateway p99 | gateway CPU ms/req | errors |"
    )
    lines += [header, "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for backend in backends:
        target = f"gateway-{backend}"
        for mode in MODES:
            for conns in CONNS:
                cell = [r for r in rows if r["mode"] == mode and r["conns"] == conns]
                direct = [r for r in cell if r["target"] == "direct"]
                through = [r for r in cell if r["target"] == target]
                pairs = list(zip(direct, through, strict=True))
                ratio = statistics.median(g["rps"] / d["rps"] for d, g in pairs)
                added = statistics.median(g["p50"] - d["p50"] for d, g in pairs)

                def med(key: str, items: list[dict[str, Any]]) -> float:
                    return statistics.median(r[key] for r in items)

                lines.append(
                    f"| {backend} | {mode} | {conns} | {med('rps', direct):,.0f} "
                    f"| {med('rps', through):,.0f} "
                    f"| {ratio:.3f} | {med('p50', direct):.2f} | {med('p50', through):.2f} | {added:+.2f} "
                    f"| {med('p99', through):.2f} | {med('cpu_ms', through):.3f} "
                    f"| {sum(r['errors'] for r in through)} |"
                )
    lines.append("")
    for backend, (start, end) in rss.items():
        lines.append(f"Gateway RSS ({backend}): {start:.1f} MiB after start, {end:.1f} MiB after the run.")
    lines.append("Medians over rounds; ratios and added latency are taken within each round, then the median.")
    return "\n".join(lines)


def start_gateway(backend: str, port: int, sim_port: int, workdir: Path, stack: ExitStack) -> Server:
    env = {
        "DATABASE_URL": f"sqlite:///{workdir}/bench.db",
        "SECRET_KEY": SECRET,
        "ADMIN_API_KEY": ADMIN_KEY,
        "UPSTREAM_BASE_URL": f"http://127.0.0.1:{sim_port}/v1",
        "REGISTER_RATE_LIMIT": "1000/minute",
        "LOG_LEVEL": "WARNING",
    }
    if backend == "postgres":
        env |= stack.enter_context(postgres_and_redis())
    args = [PYTHON, "-m", "uvicorn", "gateway.main:app", "--no-proxy-headers", "--host", "127.0.0.1"]
    args += ["--port", str(port), "--no-access-log", "--log-level", "warning"]
    server = Server(f"gateway-{backend}", args, SUT_CPU, env, workdir)
    stack.callback(server.stop)
    wait_http(f"http://127.0.0.1:{port}/health")
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    parser.add_argument("--backends", default="sqlite", help="comma-separated: sqlite, postgres")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not set(backends) <= {"sqlite", "postgres"}:
        raise SystemExit("--backends takes sqlite and/or postgres")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    workdir = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, workdir, True)
        sim_port = 18190
        simulator = Server(
            "simulator", [PYTHON, "-m", "gateway.simulator", "--port", str(sim_port)], LOAD_CPU, {}, workdir
        )
        stack.callback(simulator.stop)
        wait_http(f"http://127.0.0.1:{sim_port}/v1/models")
        servers: dict[str, Server | None] = {"direct": None}
        urls = {"direct": f"http://127.0.0.1:{sim_port}/v1/chat/completions"}
        keys = {"direct": "none"}
        for offset, backend in enumerate(backends, start=1):
            port = sim_port + offset
            target = f"gateway-{backend}"
            servers[target] = start_gateway(backend, port, sim_port, workdir, stack)
            urls[target] = f"http://127.0.0.1:{port}/v1/chat/completions"
            keys[target] = seed_customer(f"http://127.0.0.1:{port}")
        rss_start = {t: s.rss_mib() for t, s in servers.items() if s}
        targets = list(urls)
        rows = []
        for round_ in range(ROUNDS):
            log(f"round {round_ + 1}/{ROUNDS}")
            for mode in MODES:
                for conns in CONNS:
                    shift = round_ % len(targets)
                    for target in targets[shift:] + targets[:shift]:
                        server = servers[target]
                        rows.append(
                            measure(target, urls[target], mode=mode, conns=conns, key=keys[target], server=server)
                        )
        rss = {t.removeprefix("gateway-"): (rss_start[t], s.rss_mib()) for t, s in servers.items() if s}
        meta = (
            f"scripts/bench.py: {ROUNDS} rounds x {DUR} s per cell (+{WARM} s warm-up); each gateway on CPU "
            f"{SUT_CPU} (simulator upstream over HTTP), simulator + wrk on CPU {LOAD_CPU}; "
            "targets interleaved; "
            f"{time.strftime('%Y-%m-%d %H:%M')}."
        )
        table = report(rows, backends, rss, meta)
        print("\n" + table)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(table + "\n")


if __name__ == "__main__":
    main()
