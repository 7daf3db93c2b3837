"""Admin: running the gateway — payment webhook events (as GET /admin/payments), the audit
chains' check and a customer's audit entries (as GET /admin/audit/verify), and the system
figures (as GET /admin/monitor and /admin/cache-status) with the live processes."""

from __future__ import annotations

import time
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from gateway.deps import IdCursor, PageAfter, RuntimeDep
from gateway.errors import InvalidRequest
from gateway.routes.console.web import AdminViewer, ConsoleRoute, checked_form, render
from gateway.runtime import Runtime
from gateway.services.audit import chain as audit
from gateway.services.audit.chain import BrokenLink
from gateway.services.billing import sweeping
from gateway.services.console.sessions import Viewer
from gateway.services.payments import history
from gateway.services.reports import usage as reports

router = APIRouter(prefix="/console/admin", route_class=ConsoleRoute, include_in_schema=False)
PAGE = 25
AUDIT_ROWS = 50
UserIdQuery = Annotated[str | None, Query(max_length=100)]


@router.get("/payments")
async def payments_page(
    request: Request, viewer: AdminViewer, runtime: RuntimeDep, after: PageAfter = None
) -> Response:
    found = await history.events_page(runtime.db, limit=PAGE + 1, after=after)
    events = list(found[:PAGE])
    next_url = "/console/admin/payments?" + urlencode({"after": events[-1].id}) if len(found) > PAGE else None
    return render(
        request, "admin/payments.html", viewer=viewer, events=events, next_url=next_url,
        configured=runtime.payments is not None,
    )  # fmt: skip


@router.get("/audit")
async def audit_page(
    request: Request, viewer: AdminViewer, runtime: RuntimeDep, user_id: UserIdQuery = None, before: IdCursor = None
) -> Response:
    return await _audit(request, viewer, runtime, user_id=(user_id or "").strip() or None, before=before)


async def _audit(
    request: Request,
    viewer: Viewer,
    runtime: Runtime,
    *,
    user_id: str | None,
    before: int | None = None,
    verified: tuple[int, BrokenLink | None] | None = None,
) -> Response:
    entries, next_url = [], None
    if user_id is not None:
        found = await reports.audit_page(
            runtime.db, user_id=user_id, limit=AUDIT_ROWS + 1, before=before, key_id=None, action=None,
            since=None, until=None,
        )  # fmt: skip
        entries = list(found[:AUDIT_ROWS])
        if len(found) > AUDIT_ROWS:
            next_url = "/console/admin/audit?" + urlencode({"user_id": user_id, "before": entries[-1].id})
    return render(
        request, "admin/audit.html", viewer=viewer, user_id=user_id or "", entries=entries, next_url=next_url,
        verified=verified,
    )  # fmt: skip


@router.post("/audit/verify")
async def verify(request: Request, viewer: AdminViewer, runtime: RuntimeDep) -> Response:
    # Checking reads only: a read-only admin session may do it too.
    fields = await checked_form(request, viewer, runtime, changes=False)
    user_id = fields.get("user_id", "").strip() or None
    if user_id is not None and len(user_id) > 100:
        raise InvalidRequest("user_id: at most 100 characters")
    verified = await audit.verify(runtime.db, key=runtime.auditor.key, user_id=user_id)
    return await _audit(request, viewer, runtime, user_id=user_id, verified=verified)


@router.get("/system")
async def system_page(request: Request, viewer: AdminViewer, runtime: RuntimeDep) -> Response:
    found, health = await reports.monitor(runtime.db, since=None), runtime.health()
    outcomes = found["outcomes"]
    return render(
        request, "admin/system.html", viewer=viewer, found=found, health=health, outcomes=outcomes,
        errors=sum(t.requests for name, t in outcomes if name != "completed"),
        catalog=runtime.catalog.status(), cached_keys=runtime.auth.cached_keys(),
        processes=await sweeping.processes(runtime.db), this_process=runtime.instance_id, now=time.time(),
        stale_after=runtime.settings.instance_stale_seconds, database=runtime.db.dialect,
    )  # fmt: skip
