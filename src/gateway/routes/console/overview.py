"""The customer's first page: balance, plan, spend and a chart of daily spend by model."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.deps import RuntimeDep
from gateway.routes.console.web import ConsoleRoute, Customer, render
from gateway.services.billing import balances
from gateway.services.plans import periods

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)


@router.get("")
async def overview(request: Request, viewer: Customer, runtime: RuntimeDep) -> Response:
    assert viewer.principal is not None  # noqa: S101 - Customer guarantees it
    principal = viewer.principal
    balance = await balances.balance_of(runtime.db, user_id=principal.user_id)
    plan = await runtime.plans.of(principal)
    return render(
        request, "overview.html", viewer=viewer, balance=balance, plan=plan,
        renews_at=periods.paid_until(principal.plan_expires_at, now=time.time()),
    )  # fmt: skip
