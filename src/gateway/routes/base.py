"""What every JSON route shares: exact decimal parsing of bodies and input schemas, with
the bounds of `services.bounds` on every number."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Annotated, Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from gateway.bounds import MAX_COUNT, MAX_CREDITS, MAX_NUMBER_TEXT
from gateway.services.billing.money import PLAIN_DECIMAL, parse_credits, plain_decimal


def _out_of_range(text: str) -> HTTPException:
    # HTTPException is the one error FastAPI lets out of body parsing (rendered as a 400 of
    # the gateway's own shape by the app's handler).
    return HTTPException(400, f"a number in the request body is out of range: {text[:40]}")


def _number(text: str) -> Decimal:
    """No field takes a number this long or this far from 1, and converting one to int could
    cost seconds (int(Decimal('1e-99999999')) runs for minutes)."""
    if len(text) > MAX_NUMBER_TEXT:
        raise _out_of_range(text)
    number = Decimal(text)
    if abs(int(number.as_tuple().exponent)) > MAX_NUMBER_TEXT:
        raise _out_of_range(text)
    return number


def _integer(text: str) -> int:
    if len(text) > MAX_NUMBER_TEXT:
        raise _out_of_range(text)
    return int(text)


class _DecimalJsonRequest(Request):
    """Reads JSON numbers from their decimal text, so 0.1 arrives as Decimal('0.1')."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body(), parse_float=_number, parse_int=_integer)
        return self._json


class GatewayRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def decimal_handler(request: Request) -> Response:
            return await handler(_DecimalJsonRequest(request.scope, request.receive))

        return decimal_handler


def _credits(value: object) -> Decimal:
    parse_credits(value)  # raises ValueError with the reason
    return plain_decimal(value)


_CREDITS_SCHEMA = {
    "anyOf": [{"type": "number"}, {"type": "string"}],
    "description": f"credits: plain decimal text, up to 9 decimals, at most {MAX_CREDITS} either way",
}
CreditsIn = Annotated[Decimal, BeforeValidator(_credits), WithJsonSchema(_CREDITS_SCHEMA)]


def _whole_number(value: object) -> object:
    """Before pydantic's int: JSON true is not 1, and text is plain digits ('1_000' is not 1000)."""
    if isinstance(value, bool):
        raise ValueError("must be a whole number, not a boolean")
    if isinstance(value, str) and not PLAIN_DECIMAL.fullmatch(value.strip()):
        raise ValueError("must be a whole number in plain digits")
    return value


WholeNumber = BeforeValidator(_whole_number)
# A request or token limit, a request cap, a per-request or per-plan maximum.
Count = Annotated[int, WholeNumber, Field(ge=1, le=MAX_COUNT)]


class Body(BaseModel):
    """Request bodies refuse unknown fields: a typo in a money call must not pass silently."""

    model_config = ConfigDict(extra="forbid")
