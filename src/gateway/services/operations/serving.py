"""How `python -m gateway serve` runs the app: how many worker processes a configuration can
keep every guarantee with, how long the server itself waits at a shutdown, and its exit status.
"""

from __future__ import annotations

import logging
import math
import os
import signal
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from gateway.settings import Settings

APP = "gateway.main:app"
METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"
log = logging.getLogger("gateway.serve")

MAX_WORKERS = 64
# uvicorn's own limit comes this long after the app's grace: the app cuts what still runs
# at SHUTDOWN_GRACE_SECONDS (each cut stream ends with an error event and is charged for
# what it delivered); the server's cut, without last words, is only a backstop.
SERVER_BACKSTOP_SECONDS = 5

SQLITE_ONE_PROCESS = (
    "--workers {n}: SQLite serves one gateway process. Its writes are grouped by one process "
    "(group commit), and rate-limit windows, caches and key revocations live in that process's "
    "memory, so {n} processes would each allow a customer's full rate limits and could keep using "
    "a revoked key. Run one process, or use PostgreSQL and Redis (DATABASE_URL=postgresql://…, "
    "REDIS_URL=redis://…; see the README's scale-out section)."
)
NO_REDIS = (
    "--workers {n} needs REDIS_URL: without Redis each process keeps its own rate-limit windows "
    "and register and sign-in throttles ({n} processes would allow {n} times a customer's limits), "
    "and learns of a revoked key only when its key cache expires. Set REDIS_URL=redis://…, or run "
    "one process."
)


def workers_refusal(settings: Settings, workers: int) -> str | None:
    """Why this configuration cannot run `workers` processes with every guarantee (None: it can)."""
    if not 1 <= workers <= MAX_WORKERS:
        return f"--workers must be from 1 to {MAX_WORKERS}, not {workers}"
    if workers == 1:
        return None
    if settings.database_url.startswith("sqlite:"):
        return SQLITE_ONE_PROCESS.format(n=workers)
    if settings.redis_url is None:
        return NO_REDIS.format(n=workers)
    return None


def server_shutdown_limit(settings: Settings) -> int:
    """uvicorn's `timeout_graceful_shutdown` (whole seconds): a little past the app's own grace."""
    return math.ceil(settings.shutdown_grace_seconds + SERVER_BACKSTOP_SECONDS)


def exit_zero_once_stopped() -> None:
    """uvicorn re-raises the signal that stopped it once its graceful shutdown is done, with
    the handler that was there before it: by default the process then dies "killed by
    SIGTERM" (status 143) even after a clean drain, which supervisors may count as a crash.
    With this handler in place first, a SIGTERM ends the process with status 0 — the drain
    done — or, if it comes before the server took over the signal (while starting), at once."""

    def stop(number: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)


class _Workers(Multiprocess):
    """uvicorn's supervisor of worker processes, which also lets go of the listening socket
    when told to stop. The workers close their copies at once, but the supervisor's kept the
    port open: new connections then waited in its backlog, never served, until every worker
    had drained — instead of being refused, so that clients and load balancers go elsewhere."""

    def terminate_all(self) -> None:
        for sock in self.sockets:
            sock.close()
        super().terminate_all()


def fresh_metrics_dir(workers: int, environ: dict[str, str] | None = None) -> int:
    """prometheus-client's files of an earlier run in PROMETHEUS_MULTIPROC_DIR would add that
    run's counts to this one's: the serve command, parent of this run's processes, starts the
    directory empty (one serve command per directory). Without the directory, several workers
    each count alone: said once. Returns how many old files were removed."""
    folder = (os.environ if environ is None else environ).get(METRICS_DIR)
    if not folder:
        if workers > 1:
            log.warning("%d workers without %s: each scrape sees one worker's metrics", workers, METRICS_DIR)
        return 0
    stale = list(Path(folder).glob("*.db")) if Path(folder).is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


def run(settings: Settings, *, host: str, port: int, workers: int, access_log: bool) -> None:
    """Serve the app (`APP`, imported by each process) until SIGTERM has drained it."""
    fresh_metrics_dir(workers)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "proxy_headers": False,  # the gateway decides which forwarded headers to believe (TRUSTED_PROXIES)
        "access_log": access_log,
        "timeout_graceful_shutdown": server_shutdown_limit(settings),
    }
    exit_zero_once_stopped()
    if workers == 1:
        uvicorn.run(APP, **options)
        return
    config = uvicorn.Config(APP, workers=workers, **options)
    _Workers(config, sockets=[config.bind_socket()]).run()
