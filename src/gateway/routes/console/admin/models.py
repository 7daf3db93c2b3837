"""Admin: the model catalog with the gateway's own prices (as GET /models shows them), the
models left out for want of a price, the cache's age, and a refresh from the upstream (as
POST /admin/refresh-models does)."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.deps import RuntimeDep
from gateway.errors import GatewayError
from gateway.routes.console.web import AdminViewer, ConsoleRoute, checked_form, redirect, render
from gateway.runtime import Runtime
from gateway.schemas.catalog import ModelOut
from gateway.services.console.sessions import Viewer

router = APIRouter(prefix="/console/admin", route_class=ConsoleRoute, include_in_schema=False)
DONE = {"refreshed": "Catalog refreshed from the upstream: every gateway process uses it now."}


@router.get("/models")
async def models_page(request: Request, viewer: AdminViewer, runtime: RuntimeDep, done: str | None = None) -> Response:
    return await _page(request, viewer, runtime, done=DONE.get(done or ""))


async def _page(
    request: Request, viewer: Viewer, runtime: Runtime, *, status: int = 200, error: str | None = None,
    done: str | None = None,
) -> Response:  # fmt: skip
    models: list[ModelOut] = []
    try:
        catalog = await runtime.catalog.current()
        models = [ModelOut.of(m) for m in sorted(catalog.models.values(), key=lambda m: m.id)]
    except GatewayError as exc:  # no catalog at all and the upstream refused: said in place
        error, status = error or f"The catalog could not be loaded: {exc.message}", max(status, exc.status)
    return render(
        request, "admin/models.html", viewer=viewer, status=status, error=error, done=done,
        models=models, catalog=runtime.catalog.status(), plain=plain,
    )  # fmt: skip


def plain(amount: Decimal | None) -> str:
    """A price as exact decimal text, with thousands separators and at least two decimals
    (the catalog's prices are normalised: 1E+1, 0.15)."""
    if amount is None:
        return "—"
    places = max(2, -int(amount.normalize().as_tuple().exponent))
    return f"{amount:,.{places}f}"


@router.post("/models/refresh")
async def refresh(request: Request, viewer: AdminViewer, runtime: RuntimeDep) -> Response:
    await checked_form(request, viewer, runtime)
    try:
        await runtime.catalog.refresh()
    except GatewayError as exc:
        error = f"Refresh failed (the cached catalog stays): {exc.message}"
        return await _page(request, viewer, runtime, status=exc.status, error=error)
    return redirect("/console/admin/models?done=refreshed")
