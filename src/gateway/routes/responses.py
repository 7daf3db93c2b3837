"""Success answers as JSON: a schema's model (or plain data) with credits — `Decimal`s —
written as exact JSON numbers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from pydantic import BaseModel
from starlette.responses import JSONResponse


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(format(value, "f").encode())
    raise TypeError(f"cannot serialise {type(value).__name__}")


class GatewayJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        if isinstance(content, BaseModel):
            content = content.model_dump()  # Decimals stay Decimals until `_default`
        return orjson.dumps(content, default=_default)


def ok(content: BaseModel | dict[str, Any], status_code: int = 200) -> GatewayJSONResponse:
    return GatewayJSONResponse(content, status_code=status_code)
