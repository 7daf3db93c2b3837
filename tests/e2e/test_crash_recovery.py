"""A gateway process killed mid-request loses and mints nothing: its holds are released."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import gateway_process, simulator_process
from tests.e2e.test_openai_sdk import base_env, customer

pytestmark = pytest.mark.e2e


def books(db_path: Path, user_id: str) -> tuple[int, int, int]:
    db = sqlite3.connect(db_path)
    try:
        credits, reserved = db.execute(
            "SELECT credits, reserved FROM balances WHERE user_id = ?", (user_id,)
        ).fetchone()
        (total,) = db.execute("SELECT SUM(amount) FROM ledger WHERE user_id = ?", (user_id,)).fetchone()
        return credits, reserved, total
    finally:
        db.close()


def test_sigkill_mid_stream_then_restart_releases_the_hold(tmp_path: Path) -> None:
    db_path = tmp_path / "e2e.db"
    env = base_env(tmp_path, INSTANCE_HEARTBEAT_SECONDS="0.5", INSTANCE_STALE_SECONDS="2")
    with simulator_process(tmp_path, token_delay_ms=200) as upstream:
        env["UPSTREAM_BASE_URL"] = f"{upstream.url}/v1"
        with gateway_process(tmp_path, name="first", **env) as first:
            account = customer(first, "1")
            started = threading.Event()

            def stream() -> None:
                try:
                    with httpx.stream(
                        "POST",
                        f"{first.url}/v1/chat/completions",
                        json={
                            "model": "sim/gpt-small",
                            "messages": [{"role": "user", "content": "Hi"}],
                            "stream": True,
                        },
                        headers={"authorization": f"Bearer {account['api_key']}"},
                        timeout=30,
                    ) as response:
                        for _ in response.iter_bytes():
                            started.set()
                except httpx.HTTPError:
                    pass  # the server died under us: expected

            reader = threading.Thread(target=stream, daemon=True)
            reader.start()
            assert started.wait(10)
            credits, reserved, total = books(db_path, account["user_id"])
            assert reserved > 0 and credits + reserved == total == 10**9
            first.stop(signal.SIGKILL)
            reader.join(10)
        # the process is gone; its hold is still on the books
        assert books(db_path, account["user_id"])[1] > 0
        with gateway_process(tmp_path, name="second", **env):
            deadline = time.monotonic() + 15
            while books(db_path, account["user_id"])[1] and time.monotonic() < deadline:
                time.sleep(0.2)
            assert books(db_path, account["user_id"]) == (10**9, 0, 10**9)
