"""One access line per request, and what the request tells it on the way.

The ASGI layer puts a `RequestNote` in the request's scope when the request arrives; whoever
learns something writes it there (the chat call: user, key, model, tokens, cost, upstream
time; a key-authenticated route: user and key), and the ASGI layer calls `finished` once the
response has ended — a stream after its last event — which records the request's metrics and
writes the line. Only ids, a masked key, a route template and figures reach the line: never
a path or a query (keys get pasted there), a body, a prompt, a completion or a secret.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from gateway.services.billing.money import credits_text
from gateway.services.operations import metrics

access_log = logging.getLogger("gateway.access")
BOOTSTRAP_ADMIN = "ADMIN_API_KEY"  # how the bootstrap admin shows: its name, never its value
_IN_MESSAGE = ("method", "route", "status")  # a text line says them first, not again as fields


@dataclass(slots=True)
class RequestNote:
    started: float  # time.perf_counter() at arrival
    user_id: str | None = None
    key: str | None = None  # the key's mask (`gw_live_abcd…wxyz`) or BOOTSTRAP_ADMIN
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost: int | None = None  # nano-credits charged
    upstream_seconds: float | None = None  # the forwarded call's time upstream

    def identify(self, *, user_id: str | None, key: str | None) -> None:
        self.user_id, self.key = user_id, key

    def charged(self, *, prompt_tokens: int, completion_tokens: int, cost: int, upstream_seconds: float | None) -> None:
        self.prompt_tokens, self.completion_tokens, self.cost = prompt_tokens, completion_tokens, cost
        self.upstream_seconds = upstream_seconds

    def since_arrival(self) -> float:
        return time.perf_counter() - self.started


def arrived() -> RequestNote:
    metrics.request_started()
    return RequestNote(started=time.perf_counter())


def finished(note: RequestNote, *, request_id: str, method: str, route: str, status: int) -> None:
    """The response has ended: its metrics, then its access line (if INFO is on)."""
    seconds = time.perf_counter() - note.started
    if note.upstream_seconds is not None:
        metrics.added_latency(seconds - note.upstream_seconds)
    metrics.request_answered(route, method, status)
    if not access_log.isEnabledFor(logging.INFO):
        return
    fields: dict[str, Any] = {
        "request_id": request_id,
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": round(seconds * 1000, 2),
        "user_id": note.user_id,
        "key": note.key,
        "model": note.model,
        "prompt_tokens": note.prompt_tokens,
        "completion_tokens": note.completion_tokens,
        "cost": credits_text(note.cost) if note.cost is not None else None,
    }
    access_log.info("%s %s %d", method, route, status, extra={"fields": fields, "in_message": _IN_MESSAGE})
