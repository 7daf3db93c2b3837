"""What every JSON route shares: exact decimal parsing of bodies and input schemas."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import AfterValidator, BaseModel, ConfigDict, WithJsonSchema

from gateway.services.money import parse_credits


class _DecimalJsonRequest(Request):
    """Reads JSON numbers from their decimal text, so 0.1 arrives as Decimal('0.1')."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body(), parse_float=Decimal)
        return self._json


class GatewayRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def decimal_handler(request: Request) -> Response:
            return await handler(_DecimalJsonRequest(request.scope, request.receive))

        return decimal_handler


def _at_most_nine_decimals(value: Decimal) -> Decimal:
    parse_credits(value)  # raises ValueError with the reason
    return value


CreditsIn = Annotated[
    Decimal,
    AfterValidator(_at_most_nine_decimals),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string"}], "description": "credits, up to 9 decimals"}),
]


class Body(BaseModel):
    """Request bodies refuse unknown fields: a typo in a money call must not pass silently."""

    model_config = ConfigDict(extra="forbid")
