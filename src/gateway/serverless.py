"""The app as a serverless function (Vercel, `VERCEL=1`): what a process that may be frozen
between requests needs on top of the app.

Once its response is out, a function's process may be frozen until its next request (or
never woken again): its background tasks — the heartbeat, the catalog warm-up, the plan
grants, auto top-up's job — do not run in between. Nothing a request needs waits on them:
the catalog is fetched when a request needs it, rate-limit corrections are made before the
response ends (`RateLimiter(finish_inline=True)`), and the periodic work is done by the
cron routes (`routes/cron.py`). One thing is left, and done here: after a pause, this
process's heartbeat is stale, so another instance (or the release-holds cron) would take
it for dead and release the hold its next request places. A request after a pause first
proves the process alive.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.runtime import Runtime
from gateway.services.billing import sweeping

log = logging.getLogger("gateway")


class ServerlessApp:
    def __init__(self, app: ASGIApp, runtime: Callable[[], Runtime | None]) -> None:
        self.app = app
        self._runtime = runtime
        self._proved_at = 0.0  # wall clock, like the heartbeats other processes compare
        self._proving = asyncio.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            runtime = self._runtime()
            if runtime is not None:
                await self._prove_alive(runtime)
        await self.app(scope, receive, send)

    async def _prove_alive(self, runtime: Runtime) -> None:
        every = runtime.settings.instance_heartbeat_seconds
        if time.time() - self._proved_at < every:
            return
        async with self._proving:  # requests woken together write one heartbeat
            if time.time() - self._proved_at < every:
                return
            try:
                await sweeping.heartbeat(runtime.db, instance_id=runtime.instance_id)
            except Exception:
                log.warning("heartbeat before a request failed; the request goes on", exc_info=True)
                return
            self._proved_at = time.time()
