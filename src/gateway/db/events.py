"""Events every gateway process must hear at once: a key was revoked, the catalog changed.

In-process (one gateway) there is nobody else to tell. With Redis they travel by pub/sub;
a process that may have missed some (Redis was down, its subscription dropped) is told to
resynchronise instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

import redis.asyncio as aioredis

from gateway.db.redis_link import FAILURES, RedisLink

log = logging.getLogger("gateway.events")
Handler = Callable[[str], Awaitable[None]]
Resync = Callable[[], Awaitable[None]]


class EventBus(Protocol):
    def subscribe(self, kind: str, handler: Handler) -> None: ...

    def on_resync(self, handler: Resync) -> None: ...

    async def publish(self, kind: str, data: str) -> None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class LocalBus:
    """One process: whoever changes something has already applied it locally."""

    def subscribe(self, kind: str, handler: Handler) -> None:
        pass

    def on_resync(self, handler: Resync) -> None:
        pass

    async def publish(self, kind: str, data: str) -> None:
        pass

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass


class RedisBus:
    def __init__(self, link: RedisLink) -> None:
        self._link = link
        self._channel = link.key("events")
        self._handlers: dict[str, list[Handler]] = {}
        self._resync: list[Resync] = []
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        # Its own connection: a subscription blocks reading, so it gets a longer timeout.
        self._client = aioredis.Redis.from_url(
            link.url, socket_connect_timeout=0.25, socket_timeout=5, health_check_interval=2
        )

    def subscribe(self, kind: str, handler: Handler) -> None:
        self._handlers.setdefault(kind, []).append(handler)

    def on_resync(self, handler: Resync) -> None:
        self._resync.append(handler)

    async def publish(self, kind: str, data: str) -> None:
        await self._link.run(lambda client: client.publish(self._channel, f"{kind} {data}"), None)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="redis-events")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=2)
        # Closing the pool also drops the subscription's connection, wherever it was.
        await self._client.aclose()

    async def _listen(self) -> None:
        first = True
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                self.connected.set()
                if not first:
                    await self._resynchronise()
                first = False
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        await self._dispatch(message["data"])
            except FAILURES as exc:
                # Not on cancellation: redis-py's PubSub.aclose can hang when cancelled mid-read.
                self.connected.clear()
                self._link.failed(exc)
                first = False
                with contextlib.suppress(*FAILURES):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py
                await asyncio.sleep(0.5)

    async def _dispatch(self, raw: bytes | str) -> None:
        text = raw.decode() if isinstance(raw, bytes) else raw
        kind, _, data = text.partition(" ")
        for handler in self._handlers.get(kind, ()):
            try:
                await handler(data)
            except Exception:
                log.exception("handling a %s event failed", kind)

    async def _resynchronise(self) -> None:
        for handler in self._resync:
            try:
                await handler()
            except Exception:
                log.exception("resynchronising after a lost subscription failed")
