"""No secret reaches a log line, as the SPEC serves the gateway (uvicorn's access log on)."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import Process
from tests.support import ADMIN_KEY, SECRET_KEY, free_port

pytestmark = pytest.mark.e2e


def test_keys_in_query_strings_never_reach_the_access_log(tmp_path: Path) -> None:
    port = free_port()
    args = [sys.executable, "-m", "uvicorn", "gateway.main:app", "--no-proxy-headers", "--port", str(port)]
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/logs.db", "SECRET_KEY": SECRET_KEY, "ADMIN_API_KEY": ADMIN_KEY}
    server = Process(args, env=env, cwd=tmp_path, port=port, log=tmp_path / "server.log")
    try:
        server.wait_ready("/health")
        account = httpx.post(f"{server.url}/auth/register", json={"email": "log@example.com"}).json()
        customer_key = account["api_key"]
        refused_admin_key = "not-the-admin-key-but-still-a-secret-0123456789"
        for url in (
            f"/user/balance?api_key={customer_key}",
            f"/admin/monitor?key={ADMIN_KEY}",
            f"/admin/monitor?token={refused_admin_key}&limit=5",
            f"/v1/models?authorization=Bearer%20{customer_key}",
        ):
            httpx.get(server.url + url)
    finally:
        server.stop()
    output = server.output()
    assert "GET /user/balance" in output and "GET /admin/monitor" in output  # the access log is on
    for secret in (customer_key, customer_key[8:], ADMIN_KEY, refused_admin_key):
        assert secret not in output
