"""The container's command, run outside a container (no container engine runs here): the
Dockerfile's ENTRYPOINT script as a real process, with `python` the project's interpreter as
it is the image's — it migrates a fresh database, serves, answers /health/live, and the
Dockerfile's own HEALTHCHECK command passes against it; a bad setting stops it before it serves."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.e2e.processes import Process
from tests.support import ADMIN_KEY, SECRET_KEY, free_port
from tests.unit.test_deploy import healthcheck_command

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "scripts" / "docker-entrypoint.sh"


def image_env(**env: str) -> dict[str, str]:
    """As in the image: `python` on PATH is the one the gateway is installed in."""
    return {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **env}


def healthcheck(port: int) -> int:
    command = [part.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for part in healthcheck_command()]
    return subprocess.run(command, env=image_env(), capture_output=True, timeout=30, check=False).returncode


def test_the_container_command_migrates_serves_and_passes_its_healthcheck(tmp_path: Path) -> None:
    port = free_port()
    database = tmp_path / "gateway.db"
    env = image_env(
        DATABASE_URL=f"sqlite:///{database}", SECRET_KEY=SECRET_KEY, ADMIN_API_KEY=ADMIN_KEY, ENVIRONMENT="production"
    )
    # A later --host/--port wins over the script's 0.0.0.0:8000, as `docker run IMAGE --port N` would.
    args = ["/bin/sh", str(ENTRYPOINT), "--host", "127.0.0.1", "--port", str(port)]
    process = Process(args, env=env, cwd=tmp_path, port=port, log=tmp_path / "container.log")
    try:
        process.wait_ready("/health/live")
        assert "applied: 0001_initial" in process.output()  # `gateway migrate` ran first
        assert database.exists()
        live = httpx.get(f"{process.url}/health/live", timeout=5)
        assert live.status_code == 200, live.text
        assert healthcheck(port) == 0
        registered = httpx.post(f"{process.url}/auth/register", json={"email": "docker@example.com"}, timeout=5)
        assert registered.status_code == 201, registered.text
    finally:
        code = process.stop()
    assert code == 0, process.output()  # SIGTERM (docker stop) ends it cleanly: `exec` made it the server
    assert healthcheck(port) != 0  # and the probe notices a server that is gone


def test_a_bad_setting_stops_the_container_before_it_serves(tmp_path: Path) -> None:
    env = image_env(DATABASE_URL="mysql://db/gateway", SECRET_KEY=SECRET_KEY)
    done = subprocess.run(
        ["/bin/sh", str(ENTRYPOINT), "--port", str(free_port())],
        env={k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")} | env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert done.stderr.startswith("gateway: invalid configuration:"), done.stderr  # named, not a traceback
    assert "DATABASE_URL: must start with sqlite:/// or postgresql://" in done.stderr
    assert "gateway listening" not in done.stdout  # `serve` never started
