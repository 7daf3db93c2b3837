"""How an upstream's refusal is shown to the customer (SPEC: Errors). Nothing is charged.

The reseller's own problems with the upstream (its key refused, its funds exhausted) are
never shown as the customer's auth or credit problem: they are a 502.
"""

from __future__ import annotations

import re

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
_SECRET_LIKE = re.compile(r"\b(?:sk|gw|rk|pk|key)[-_][A-Za-z0-9_\-*.]{6,}", re.IGNORECASE)
_MAX_MESSAGE = 500


def upstream_message(body: bytes) -> str | None:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    error = document.get("error") if isinstance(document, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if not isinstance(message, str) or not message.strip():
        return None
    return _SECRET_LIKE.sub("[redacted]", message.strip())[:_MAX_MESSAGE]


def _retry_after_seconds(value: str | None) -> int:
    try:
        return max(1, int(float(value))) if value else 1
    except ValueError:
        return 1


def error_for_status(status: int, body: bytes, retry_after: str | None) -> GatewayError:
    if status in (400, 422):
        message = upstream_message(body) or "the upstream provider refused this request"
        return UpstreamBadRequest(message)
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
