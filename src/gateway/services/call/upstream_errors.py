"""How an upstream's refusal is shown to the customer (SPEC: Errors). Nothing is charged.

The reseller's own problems with the upstream (its key refused, its funds exhausted) are
never shown as the customer's auth or credit problem: they are a 502.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from gateway.errors import (
    GatewayError,
    RateLimited,
    RequestTooLarge,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamTimeout,
)

# Anything shaped like a secret key is cut out of upstream messages before they are shown.
# Not `\b`: `_` is a word character, so a key glued to a word (`bad_sk-…`) must match too.
_SECRET_LIKE = re.compile(r"(?<![A-Za-z0-9])(?:sk|gw|rk|pk|key)[-_][A-Za-z0-9_\-*.]{6,}", re.IGNORECASE)
_MAX_MESSAGE = 500
_MAX_FIELD = 100


def _error_object(body: bytes) -> dict[str, Any]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    error = document.get("error") if isinstance(document, dict) else None
    return error if isinstance(error, dict) else {}


def _shown(error: dict[str, Any], name: str, limit: int) -> str | None:
    """A string field of the upstream's error, fit to show; None when absent or not text."""
    value = error.get(name)
    if not isinstance(value, str) or not value.strip():
        return None
    # Scrubbed before it is cut, so a cut cannot leave a secret too short to be recognised.
    return _SECRET_LIKE.sub("[redacted]", value.strip())[:limit]


def upstream_message(body: bytes) -> str | None:
    return _shown(_error_object(body), "message", _MAX_MESSAGE)


def _refusal(body: bytes) -> UpstreamBadRequest:
    error = _error_object(body)
    return UpstreamBadRequest(
        _shown(error, "message", _MAX_MESSAGE) or "the upstream provider refused this request",
        error_type=_shown(error, "type", _MAX_FIELD),
        code=_shown(error, "code", _MAX_FIELD),
        param=_shown(error, "param", _MAX_FIELD),
    )


def _retry_after_seconds(value: str | None) -> int:
    try:
        return max(1, int(float(value))) if value else 1
    except ValueError:
        return 1


def error_for_status(status: int, body: bytes, retry_after: str | None) -> GatewayError:
    if status in (400, 422):
        return _refusal(body)
    if status == 413:
        return RequestTooLarge("the upstream provider refused this request as too large")
    if status == 429:
        seconds = _retry_after_seconds(retry_after)
        return RateLimited(f"the upstream provider is rate limiting; retry after {seconds}s", retry_after=seconds)
    if status in (408, 504):
        return UpstreamTimeout()
    if status in (401, 402, 403):
        return UpstreamError("the upstream provider refused the gateway's request; nothing was charged")
    return UpstreamError(f"the upstream provider failed (HTTP {status}); nothing was charged")
