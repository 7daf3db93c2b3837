"""The simulator as an in-process upstream: same answers as its HTTP server, no sockets."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from gateway.errors import UpstreamError, UpstreamTimeout
from gateway.simulator import engine
from gateway.upstream.base import StreamBroken


class SimulatedReply:
    def __init__(self, answer: engine.SimAnswer, timeout: float) -> None:
        self._answer = answer
        self._timeout = timeout
        self.status = answer.status
        self.content_type = "text/event-stream" if answer.stream else "application/json"
        self.retry_after = answer.headers.get("retry-after")

    async def read(self, limit: int | None = None) -> bytes:
        if self._answer.cut_after is not None:
            raise StreamBroken("cut")
        return self._answer.body[:limit] if limit is not None else self._answer.body

    async def chunks(self) -> AsyncIterator[bytes]:
        answer = self._answer
        if not answer.stream:
            yield await self.read()
            return
        for position, event in enumerate(answer.events):
            if position == answer.cut_after:
                raise StreamBroken("cut")
            if position == answer.stall_after:
                await asyncio.sleep(self._timeout)
                raise StreamBroken("timeout")
            yield b"data: " + event + b"\n\n"

    def close(self) -> None:
        pass


class SimulatedUpstream:
    def __init__(self, *, timeout: float) -> None:
        self._timeout = timeout
        self._ids = itertools.count(1)

    async def chat(self, body: bytes) -> SimulatedReply:
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise UpstreamError("the simulator could not read the request") from exc
        # The gateway's catalog already decided the model exists (for test keys, the live one).
        answer = engine.answer(
            document, completion_id=f"chatcmpl-sim{next(self._ids)}", created=int(time.time()), any_model=True
        )
        if answer.hang:
            await asyncio.sleep(self._timeout)
            raise UpstreamTimeout()
        return SimulatedReply(answer, self._timeout)

    async def models(self) -> Any:
        return engine.catalog()

    async def close(self) -> None:
        pass
