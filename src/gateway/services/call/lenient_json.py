"""Reading upstream JSON as Python's `json` reads it, so that it can be written back as sent.

vLLM-based providers put `NaN`, `Infinity` and `-Infinity` in logprobs. orjson (the fast
path) refuses them; such a document is read by `json` instead, each of those constants kept
as an `orjson.Fragment` of its own text, so `orjson.dumps` writes it back unchanged (a float
NaN would be written as `null`).
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def _verbatim(constant: str) -> orjson.Fragment:
    return orjson.Fragment(constant.encode())


def loads(raw: bytes) -> Any:
    """The document; ValueError when it is not JSON, or could not be written back."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    try:
        document = json.loads(raw, parse_constant=_verbatim)
        # What `json` alone accepts besides the constants (a lone surrogate, an integer
        # beyond 64 bits) orjson cannot write back: better refused here than after billing.
        orjson.dumps(document)
    except (ValueError, TypeError, RecursionError) as exc:
        raise ValueError("not JSON the gateway can relay") from exc
    return document


def loads_object(raw: bytes) -> dict[str, Any] | None:
    """The document if it is a JSON object, else None."""
    try:
        document = loads(raw)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None
