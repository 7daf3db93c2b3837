"""Admin: operations (to be written)."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.routes.console.web import ConsoleRoute

router = APIRouter(prefix="/console/admin", route_class=ConsoleRoute, include_in_schema=False)
