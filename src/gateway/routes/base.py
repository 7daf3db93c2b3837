"""What every JSON route shares: bodies read with exact decimals, no number too long or
too far from 1 to convert cheaply (every field's own bound is in `schemas`), and the
/admin routers' guard."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.routing import APIRoute

from gateway.bounds import MAX_NUMBER_TEXT
from gateway.deps import current_admin
from gateway.routes.openapi import errors


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


NUL_REFUSED = "the text sent contains a NUL character, which is not allowed"


def _holds_nul(value: Any) -> bool:
    """PostgreSQL's text cannot hold a NUL (a 500 there, stored on SQLite): refused alike on
    every backend, wherever it hides in a body."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


class _DecimalJsonRequest(Request):
    """Reads JSON numbers from their decimal text, so 0.1 arrives as Decimal('0.1')."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body(), parse_float=_number, parse_int=_integer)
            if _holds_nul(self._json):
                raise HTTPException(400, NUL_REFUSED)
        return self._json


class GatewayRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def decimal_handler(request: Request) -> Response:
            if "\x00" in request.scope["path"] or b"%00" in request.scope["query_string"]:
                raise HTTPException(400, NUL_REFUSED)
            return await handler(_DecimalJsonRequest(request.scope, request.receive))

        return decimal_handler


def admin_router() -> APIRouter:
    """Routes under /admin: the admin key (or an admin user's key) only."""
    return APIRouter(
        prefix="/admin",
        route_class=GatewayRoute,
        tags=["admin"],
        dependencies=[Depends(current_admin)],
        responses=errors(401, 403),
    )
