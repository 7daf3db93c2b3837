"""The customer's Limits page: each rate-limit window's use against its limit (what GET
/user/limit answers), the plan's other caps, and the keys with rate limits of their own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.deps import RuntimeDep
from gateway.routes.console import key_forms
from gateway.routes.console.web import ConsoleRoute, Customer, render
from gateway.services.keys import manage
from gateway.services.limits.rate_limiter import PERIODS
from gateway.services.reports import usage as reports

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

KEYS_SHOWN = 1000  # keys read for the overrides table; more than any plan's key count
_PERIOD_OF = {seconds: period for period, seconds in PERIODS}


@dataclass(frozen=True, slots=True)
class WindowLine:
    """One window of reports.windows, with what the page shows beside its figures."""

    name: str  # requests_per_minute, …
    scope: str  # "user" (the account: the plan's, or an admin's override) or "key"
    overridden: bool  # an admin set this account's value instead of the plan's
    limit: int
    used: int
    remaining: int
    reset: str

    @property
    def percent(self) -> int:
        """How full the window is, 0 to 100 (a window may be over its limit after a correction)."""
        return min(100, self.used * 100 // self.limit) if self.limit else 100

    @property
    def bar(self) -> int:
        """The meter's width: a sliver for any use at all, so a used window never looks unused."""
        return max(self.percent, 1 if self.used else 0)

    @property
    def label(self) -> str:
        dimension, period = self.name.split("_per_")
        return f"{dimension.capitalize()} per {period}"


def window_lines(found: list[dict[str, Any]], overrides: dict[str, int | None]) -> list[WindowLine]:
    lines = []
    for window in found:
        name = f"{window['dimension']}_per_{_PERIOD_OF[window['window_seconds']]}"
        lines.append(WindowLine(
            name=name, scope=window["scope"], overridden=window["scope"] == "user" and name in overrides,
            limit=window["limit"], used=window["used"], remaining=window["remaining"], reset=window["reset"],
        ))  # fmt: skip
    return lines


@router.get("/limits")
async def limits_page(request: Request, viewer: Customer, runtime: RuntimeDep) -> Response:
    assert viewer.principal is not None  # noqa: S101 - Customer guarantees it
    principal = viewer.principal
    plan = await runtime.plans.of(principal)
    windows = await reports.windows(runtime.limiter, principal, plan)
    used = await reports.plan_usage(runtime.db, principal=principal, plan=plan)
    keys = await manage.list_keys(runtime.db, user_id=principal.user_id, limit=KEYS_SHOWN, after=None)
    overridden = [(key, limits) for key in keys if (limits := key_forms.own_rate_limits(key))]
    return render(
        request, "limits.html", viewer=viewer, plan=plan, windows=window_lines(windows, principal.limit_overrides),
        keys_used=used["api_keys"], key_overrides=overridden,
    )  # fmt: skip
