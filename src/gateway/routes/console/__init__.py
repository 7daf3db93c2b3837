"""The web console: server-rendered pages for customers and admins, on the same services as
the API (no rule is written twice). `web` holds what every page shares; `admin/` the pages
only admins reach."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.errors import NotFound
from gateway.routes.console import billing, keys, limits, overview, signin, signup, usage
from gateway.routes.console.admin import customers, models, operations, plans
from gateway.routes.console.web import AdminViewer, AnyViewer, ConsoleRoute

_unknown = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@_unknown.get("/console/admin/{rest:path}")
async def unknown_admin_page(request: Request, viewer: AdminViewer) -> Response:
    raise NotFound(f"there is no console page at {request.url.path}")


@_unknown.get("/console/{rest:path}")
async def unknown_page(request: Request, viewer: AnyViewer) -> Response:
    raise NotFound(f"there is no console page at {request.url.path}")


def routers() -> list[APIRouter]:
    pages = [signin, signup, overview, keys, usage, billing, limits, customers, plans, models, operations]
    return [*(page.router for page in pages), _unknown]
