"""Server-sent events as bytes: cutting a stream into events, and reading an event's data."""

from __future__ import annotations

DONE = b"data: [DONE]\n\n"


class SseSplitter:
    """Cuts a byte stream into complete SSE events (without their blank-line terminator)."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        data = self._buffer + chunk
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
            if data.endswith(b"\r"):  # the rest of a CRLF is still on its way
                self._buffer = data
                return []
        *events, self._buffer = data.split(b"\n\n")
        return [e for e in events if e]

    def rest(self) -> bytes:
        return self._buffer.strip()


def data_of(event: bytes) -> bytes | None:
    """The event's data payload; None for comments and events without data."""
    if event.startswith(b"data:") and b"\n" not in event:
        return event[5:].lstrip(b" ")
    lines = [line[5:].lstrip(b" ") for line in event.split(b"\n") if line.startswith(b"data:")]
    return b"\n".join(lines) if lines else None
