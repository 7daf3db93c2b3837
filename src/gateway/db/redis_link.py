"""The shared Redis, used with short timeouts and never for money.

While Redis is unreachable the gateway keeps serving on in-process state (and says so in
/health and the logs); a monitor pings it every second and, when it answers again, tells
every subscriber to resynchronise (they may have missed events).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger("gateway.redis")
T = TypeVar("T")
# How long a Redis connect or command may take before Redis counts as unreachable (and the
# process serves with in-process state until it answers again). Not less: a busy process
# opening dozens of pool connections at once, or answering many requests on one event loop,
# can take a few hundred milliseconds to read a healthy Redis' reply, and a false "unreachable"
# loosens rate limits to one process's count. A Redis really gone costs the requests in flight
# at most this once; the rest fall back at once.
TIMEOUT_SECONDS = 1.0
POOL_SIZE = 64
POOL_WAIT_SECONDS = 2.0
FAILURES = (RedisError, OSError, TimeoutError)


class RedisLink:
    def __init__(self, url: str, *, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        # Requests wait for a free connection (briefly) rather than fail when many are in flight.
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=POOL_SIZE,
            timeout=POOL_WAIT_SECONDS,
            socket_timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
        )
        self.client = aioredis.Redis(connection_pool=pool)
        self.healthy = True
        self.last_error: str | None = None
        self._recovered: list[Callable[[], Awaitable[None]]] = []
        self._monitor: asyncio.Task[None] | None = None

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def on_recover(self, callback: Callable[[], Awaitable[None]]) -> None:
        self._recovered.append(callback)

    async def run(self, operation: Callable[[aioredis.Redis], Awaitable[T]], fallback: T) -> T:
        """`operation(client)`, or `fallback` while Redis is unreachable."""
        if not self.healthy:
            return fallback
        try:
            return await operation(self.client)
        except FAILURES as exc:
            self.failed(exc)
            return fallback

    def failed(self, exc: BaseException) -> None:
        self.last_error = type(exc).__name__
        if self.healthy:
            self.healthy = False
            log.warning("Redis is unreachable (%s): serving with in-process state until it returns", self.last_error)

    async def start(self) -> None:
        try:
            await self.client.ping()
        except FAILURES as exc:
            self.failed(exc)
        self._monitor = asyncio.create_task(self._watch(), name="redis-monitor")

    async def close(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            await asyncio.gather(self._monitor, return_exceptions=True)
        await self.client.aclose(close_connection_pool=True)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            if self.healthy:
                continue
            try:
                await self.client.ping()
            except FAILURES:
                continue
            self.healthy = True
            log.warning("Redis is reachable again: shared state restored")
            for callback in self._recovered:
                try:
                    await callback()
                except Exception:
                    log.exception("resynchronising after Redis returned failed")
