"""Server-sent events as bytes: cutting a stream into events, reading and replacing an
event's data, without parsing the JSON it carries."""

from __future__ import annotations

import re

from gateway.errors import GatewayError

DONE = b"data: [DONE]\n\n"


def error_event(error: GatewayError) -> bytes:
    """An error as the event that ends a stream whose response already started (its status
    and headers are gone): the error's OpenAI-shaped body as the event's data."""
    return b"data: " + error.body() + b"\n\n"


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


def with_data(event: bytes, payload: bytes) -> bytes:
    """The event with `payload` as its data; its other lines (`event:`, `id:`,
    `retry:`, comments) stay, in order, so a rewritten event means what the upstream's meant."""
    data = b"\n".join(b"data: " + line for line in payload.split(b"\n"))
    if event.startswith(b"data:") and b"\n" not in event:
        return data
    lines: list[bytes] = []
    placed = False
    for line in event.split(b"\n"):
        if not line.startswith(b"data:"):
            lines.append(line)
        elif not placed:
            lines.append(data)
            placed = True
    if not placed:
        lines.append(data)
    return b"\n".join(lines)


# A key `"usage"` whose value is null, with what stands before and after it. The opening
# quote must follow `{` or `,`: inside a JSON string every quote is escaped, so text cannot
# fake this, and in valid JSON such a quote opens a key.
_NULL_USAGE = re.compile(rb'([{,])\s*"usage"\s*:\s*null\s*(?:,(\s*)|(}))')


def _joined(match: re.Match[bytes]) -> bytes:
    first, spacing, last = match.group(1) == b"{", match.group(2), match.group(3)
    if first:
        return b"{}" if last else b"{"
    return b"}" if last else b"," + spacing


def without_null_usage(payload: bytes) -> bytes:
    """The JSON object without its `"usage": null` member (any spacing), still valid JSON."""
    if b'"usage"' not in payload:
        return payload
    # The usual form (not the first member, no spaces) goes by a C-speed replace: a member
    # after a comma can always go with its comma. Anything else takes the expression.
    quick = payload.replace(b',"usage":null', b"")
    if b'"usage"' not in quick:
        return quick
    return _NULL_USAGE.sub(_joined, payload)
