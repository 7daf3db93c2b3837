"""Real server processes for end-to-end tests, always stopped — even when a test fails."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support import GATEWAY_ENV, free_port


class Process:
    def __init__(self, args: list[str], *, env: dict[str, str], cwd: Path, port: int, log: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log
        clean = {k: v for k, v in os.environ.items() if k not in GATEWAY_ENV}
        self._log = log.open("wb")
        self.popen = subprocess.Popen(
            args,
            env={**clean, **env},
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, path: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"process exited early:\n{self.output()}")
            try:
                if httpx.get(self.url + path, timeout=1).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"not ready after {timeout}s:\n{self.output()}")

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self._log.close()
        return self.popen.returncode


def gateway_args(port: int) -> list[str]:
    """The SPEC's serve command."""
    return [
        sys.executable, "-m", "uvicorn", "gateway.main:app", "--no-proxy-headers",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip


@contextmanager
def gateway_process(tmp_path: Path, name: str = "gateway", *, port: int | None = None, **env: str) -> Iterator[Process]:
    """`port`: one chosen beforehand, for a server that must know its own URL (PUBLIC_BASE_URL)."""
    port = port or free_port()
    process = Process(gateway_args(port), env=env, cwd=tmp_path, port=port, log=tmp_path / f"{name}.log")
    try:
        process.wait_ready("/health")
        yield process
    finally:
        process.stop()


@contextmanager
def serving(
    tmp_path: Path, name: str, args: Callable[[int], list[str]], env: dict[str, str], *, attempts: int = 3
) -> Iterator[Process]:
    """A gateway started with `args(port)` and stopped afterwards, ready once its own
    `/health/ready` answers 200 with its instance id — not merely once something answers on the
    port: when another process takes the port between choosing and binding it, the gateway
    exits and is started again on another."""
    for attempt in range(attempts):
        port = free_port()
        process = Process(args(port), env=env, cwd=tmp_path, port=port, log=tmp_path / f"{name}-{attempt}.log")
        try:
            if _own_ready(process):
                break
        except BaseException:
            process.stop()
            raise
        process.stop()
    else:
        raise RuntimeError(f"{name} did not start in {attempts} attempts:\n{process.output()}")
    try:
        yield process
    finally:
        process.stop()


def _own_ready(process: Process, timeout: float = 60) -> bool:
    """True once the gateway holds its port and answers ready; False if it exited (its port
    was taken)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.1)
        if process.popen.poll() is not None:
            return False
        if not _listens(process.popen.pid, process.port):
            continue  # still starting, or about to exit: someone else answers on that port
        try:
            if httpx.get(process.url + "/health/ready", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
    raise RuntimeError(f"not ready after {timeout}s:\n{process.output()}")


def _listens(pid: int, port: int) -> bool:
    """Whether process `pid` holds the socket listening on `port` (read from Linux's /proc)."""
    held = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                held.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                local_port, state, inode = int(fields[1].rsplit(":", 1)[1], 16), fields[3], fields[9]
                if local_port == port and state == "0A" and f"socket:[{inode}]" in held:  # 0A: LISTEN
                    return True
    return False


@contextmanager
def simulator_process(tmp_path: Path, *, token_delay_ms: int = 0) -> Iterator[Process]:
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "gateway.simulator",
        "--port",
        str(port),
        "--token-delay-ms",
        str(token_delay_ms),
    ]
    process = Process(args, env={}, cwd=tmp_path, port=port, log=tmp_path / "simulator.log")
    try:
        process.wait_ready("/v1/models")
        yield process
    finally:
        process.stop()
