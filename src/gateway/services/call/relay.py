"""Relaying a streamed answer (SSE) while metering it.

Events pass through as they arrive. The upstream is always asked for usage; when its usage
chunk arrives the call's hold is settled (committed) before that chunk — carrying `cost` — and the
final `[DONE]` go out, so a balance read after the stream already shows the charge. Clients
that did not ask for usage never see that chunk, nor the `"usage": null` the upstream then
adds to every other one. A stream the client dropped is still read to its end and billed in
full; one the upstream cut is billed by the delivered-usage rule, as is one that ends without
usage or `[DONE]` after every choice finished — which completed, and ends normally.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Awaitable
from typing import Any

import orjson

from gateway.errors import UpstreamError
from gateway.services.billing import estimate
from gateway.services.billing.money import credits_text
from gateway.services.call.ending import CallEnd
from gateway.services.call.lenient_json import loads_object
from gateway.services.call.sse import DONE, SseSplitter, data_of, error_event, with_data, without_null_usage
from gateway.services.call.usage import client_usage, usage_from
from gateway.upstream.base import StreamBroken, UpstreamReply


def _frame(chunk: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def _worth_parsing(payload: bytes) -> bool:
    """Only usage and error chunks change what the gateway does; content chunks pass through
    unparsed. (Inside JSON strings quotes are escaped, so these keys cannot be faked by text.)"""
    if b'"error"' in payload:
        return True
    return b'"usage"' in payload and b'"usage":null' not in payload and b'"usage": null' not in payload


class _Relay:
    """The state of one relayed stream: what the client has received, and the events to send."""

    def __init__(self, books: CallEnd) -> None:
        self.books = books
        self.upstream_error = False
        self.done_sent = False
        self._delivered = estimate.DeliveredText()
        self._unread: list[bytes] = []  # passed-through data events, read only if ever needed
        self._finished: set[int] = set()  # indexes of the choices given a finish_reason
        self._last: dict[str, Any] = {}  # the last passed-through chunk read
        # The upstream adds `"usage": null` to every chunk when asked for usage, which the
        # gateway always does; a client that did not ask gets chunks as they would have been.
        self._hide_usage = not books.request.wants_usage

    def _read(self, chunk: dict[str, Any]) -> None:
        choices = chunk.get("choices")
        self._delivered.add_choices(choices, "delta")
        for choice in choices if isinstance(choices, list) else ():
            if isinstance(choice, dict) and choice.get("finish_reason") is not None:
                index = choice.get("index", 0)
                if isinstance(index, int):
                    self._finished.add(index)

    def _read_unread(self) -> None:
        for event in self._unread:
            chunk = loads_object(data_of(event) or b"")
            if chunk is not None:
                self._read(chunk)
                self._last = chunk
        self._unread.clear()

    def delivered_tokens(self) -> int:
        self._read_unread()
        return self._delivered.tokens

    def _all_choices_finished(self) -> bool:
        self._read_unread()
        return self._finished.issuperset(range(self.books.request.n))

    async def on_event(self, event: bytes) -> bytes:
        """The bytes to send for one upstream event (possibly none)."""
        if event.startswith(b"data: {") and b"\n" not in event:  # the usual event: one line of JSON
            content = self._content(event)
            if content is not None:
                self._unread.append(content)
                return content + b"\n\n"
        payload = data_of(event)
        if payload == b"[DONE]":
            return await self._on_done(event + b"\n\n")
        if self._hide_usage and payload is not None:
            bare = without_null_usage(payload)
            if len(bare) != len(payload):
                payload, event = bare, with_data(event, bare)
        chunk = None
        if payload is not None and _worth_parsing(payload):
            chunk = loads_object(payload)
        elif payload is not None:
            self._unread.append(event)
        if chunk is None:
            return event + b"\n\n"  # content, comments, keep-alives: as they came
        return await self._on_parsed(chunk, event)

    def _content(self, event: bytes) -> bytes | None:
        """A one-line event as it goes out unparsed — content, the usual case — or None if
        it needs more (a usage or error chunk, or a `"usage": null` in another form to hide).
        The result is the same as the general path's, with fewer copies."""
        if not self._hide_usage:
            return None if _worth_parsing(event) else event
        # `,"usage":null` cannot occur inside a JSON string (its quotes would be escaped), so
        # it goes from the whole event.
        event = event.replace(b',"usage":null', b"")
        return None if b'"usage"' in event or b'"error"' in event else event

    async def _on_parsed(self, chunk: dict[str, Any], event: bytes) -> bytes:
        if "error" in chunk:
            self.upstream_error = True
        self._read(chunk)
        reported = usage_from(chunk.get("usage"))
        if reported is None or self.books.ended:
            return event + b"\n\n"
        settlement = await self.books.settle(reported, outcome="completed", source="upstream")
        if self.books.request.wants_usage:
            chunk["usage"] = client_usage(chunk["usage"], settlement.charged)
        elif chunk.get("choices"):
            del chunk["usage"]
        else:
            # The usage-only chunk the client did not ask for goes whole: an event left
            # without data would be read as an empty JSON message by some SDKs.
            return b""
        return with_data(event, orjson.dumps(chunk)) + b"\n\n"

    async def _on_done(self, done: bytes) -> bytes:
        self.done_sent = True
        if self.books.ended:
            return done
        # The upstream finished without reporting usage: bill by the delivered-usage rule.
        tokens = self.delivered_tokens()
        settlement = await self.books.settle_delivered(tokens, outcome="completed")
        if not self.books.request.wants_usage:
            return done
        usage = client_usage(self.books.estimated_usage(tokens), settlement.charged)
        base: dict[str, Any] = {k: self._last[k] for k in ("id", "object", "created", "model") if k in self._last}
        return _frame({**base, "choices": [], "usage": usage}) + done

    async def on_end(self, reason: str | None) -> bytes:
        """The upstream body ended (reason None) or broke (reason given)."""
        if self.books.ended:
            return b"" if self.done_sent or reason else DONE
        if reason is None and not self.upstream_error and self._all_choices_finished():
            # Every choice finished: the upstream completed and only left out [DONE].
            return await self._on_done(DONE)
        reason = reason or ("upstream_error" if self.upstream_error else "cut")
        tokens = self.delivered_tokens()
        if tokens == 0:
            await self.books.release(reason)
            return error_event(
                UpstreamError("the upstream provider ended the stream before any answer; nothing was charged")
            )
        settlement = await self.books.settle_delivered(tokens, outcome=reason)
        return error_event(
            UpstreamError(
                "the upstream provider ended the stream early; charged "
                f"{credits_text(settlement.charged)} credits for what was delivered"
            )
        )


class RelayedStream:
    """The bytes to send, as they come (an async iterator of one relayed stream).

    `aclose()` always ends the call and closes the upstream reply — after the stream ended, in
    the middle of it, or before it started (the client went before the response's first
    byte, which an async generator's own `finally` would never see) — so a caller needs only
    `async with aclosing(stream)`.
    """

    def __init__(self, books: CallEnd, reply: UpstreamReply) -> None:
        self._relay = _Relay(books)
        self._reply = reply
        self._pieces = self._relayed()

    def __aiter__(self) -> RelayedStream:
        return self

    def __anext__(self) -> Awaitable[bytes]:
        return self._pieces.__anext__()

    async def aclose(self) -> None:
        try:
            await self._pieces.aclose()
        finally:
            self._reply.close()
            if not self._relay.books.ended:  # stopped early (client gone, shutdown): bill what was delivered
                with contextlib.suppress(Exception):
                    await self._relay.on_end("aborted")

    async def _relayed(self) -> AsyncGenerator[bytes]:
        relay = self._relay
        splitter = SseSplitter()
        ending: str | None = None
        first = True
        try:
            async for piece in self._reply.chunks():
                # Everything one upstream read produced goes out in one write.
                out = b"".join([await relay.on_event(event) for event in splitter.feed(piece)])
                if out:
                    if first:
                        first = False
                        relay.books.first_piece()
                    yield out
        except StreamBroken as broken:
            ending = broken.reason
        out = await relay.on_end(ending)
        if out:
            yield out
