"""The `usage` object: reading the upstream's token counts, and what the client is shown."""

from __future__ import annotations

from typing import Any

from gateway.services.billing.money import Nanos, credits_json
from gateway.services.billing.pricing import TokenUsage


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def usage_from(usage: Any) -> TokenUsage | None:
    """The upstream's token counts, if it reported usable ones."""
    if not isinstance(usage, dict):
        return None
    prompt, completion = _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))
    if prompt is None or completion is None:
        return None
    details = usage.get("prompt_tokens_details")
    cached = _count(details.get("cached_tokens")) if isinstance(details, dict) else None
    return TokenUsage(prompt, completion, cached or 0)


def client_usage(usage: dict[str, Any], charged: Nanos) -> dict[str, Any]:
    """The upstream's counts with its cost-like fields replaced by the gateway's `cost`."""
    cleaned = {k: v for k, v in usage.items() if "cost" not in k.lower()}
    cleaned["cost"] = credits_json(charged)
    return cleaned
