"""JSON success responses. Credits are `Decimal`s written as exact JSON numbers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from starlette.responses import JSONResponse

from gateway.services.billing.money import Nanos, to_credits


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(format(value, "f").encode())
    raise TypeError(f"cannot serialise {type(value).__name__}")


class GatewayJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=_default)


def ok(content: Any, status_code: int = 200) -> GatewayJSONResponse:
    return GatewayJSONResponse(content, status_code=status_code)


def credits(nanos: Nanos | int) -> Decimal:
    return to_credits(nanos)


def page(items: list[Any], *, limit: int) -> GatewayJSONResponse:
    """A list page from `limit + 1` fetched items: `has_more` says whether another exists."""
    return ok({"object": "list", "data": items[:limit], "has_more": len(items) > limit})
