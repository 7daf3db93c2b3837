"""The upstream interface the gateway call is written against."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal, Protocol


class StreamBroken(Exception):
    """The upstream stopped mid-body: the connection was cut, or it went silent too long."""

    def __init__(self, reason: Literal["cut", "timeout"]) -> None:
        self.reason = reason
        super().__init__(f"upstream stream {reason}")


class UpstreamReply(Protocol):
    status: int
    content_type: str
    retry_after: str | None

    async def read(self, limit: int | None = None) -> bytes:
        """The whole body (or its first `limit` bytes); raises StreamBroken."""

    def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives; raises StreamBroken."""

    def close(self) -> None: ...


class Upstream(Protocol):
    async def chat(self, body: bytes) -> UpstreamReply:
        """POST /chat/completions; raises UpstreamTimeout or UpstreamError before a reply."""

    async def models(self) -> Any:
        """GET /models, parsed; raises UpstreamTimeout or UpstreamError."""

    async def close(self) -> None: ...
