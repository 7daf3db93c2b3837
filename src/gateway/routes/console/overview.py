"""The customer's first page: balance, plan, spend and a chart of daily spend by model."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.deps import RuntimeDep
from gateway.routes.console import charts
from gateway.routes.console.web import ConsoleRoute, Customer, render
from gateway.services.billing import balances
from gateway.services.plans import periods
from gateway.services.reports import spend

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)


@router.get("")
async def overview(request: Request, viewer: Customer, runtime: RuntimeDep) -> Response:
    assert viewer.principal is not None  # noqa: S101 - Customer guarantees it
    principal, now = viewer.principal, time.time()
    balance = await balances.balance_of(runtime.db, user_id=principal.user_id)
    plan = await runtime.plans.of(principal)
    windows = await spend.spend_windows(runtime.db, user_id=principal.user_id, now=now)
    daily = await spend.daily_spend_by_model(runtime.db, user_id=principal.user_id, now=now)
    return render(
        request, "overview.html", viewer=viewer, balance=balance, plan=plan,
        renews_at=periods.paid_until(principal.plan_expires_at, now=now),
        windows=[("Today (UTC)", windows.today), ("Last 7 days", windows.last_7_days),
                 ("Last 30 days", windows.last_30_days)],
        low=balances.runs_low(credits=balance.credits, spent_last_7_days=windows.last_7_days.cost),
        daily=daily, chart=charts.daily_spend_svg(daily) if daily.series else None, legend=charts.legend(daily),
    )  # fmt: skip
