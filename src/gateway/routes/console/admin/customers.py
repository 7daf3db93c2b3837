"""Admin: finding customers, and one customer's page — profile, balance, keys, ledger — with
its actions (credit or debit, assign a plan, set limits, suspend or reactivate), each through
the service its JSON admin route calls."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from gateway.deps import PageAfter, RuntimeDep
from gateway.errors import Forbidden, GatewayError, InvalidRequest
from gateway.routes.console.web import AdminViewer, ConsoleRoute, checked_form, redirect, render, validated
from gateway.runtime import Runtime
from gateway.schemas.admin import AddCreditsIn, SetLimitsIn
from gateway.schemas.common import LimitsIn
from gateway.schemas.plans import AssignPlanIn
from gateway.services.accounts import profile
from gateway.services.accounts import status as account_status
from gateway.services.billing import balances
from gateway.services.billing import credits as billing_credits
from gateway.services.billing.money import Nanos
from gateway.services.console.sessions import Viewer
from gateway.services.keys import manage
from gateway.services.limits import overrides
from gateway.services.plans import periods
from gateway.services.reports import usage as reports
from gateway.services.reports.customers import SPEND_WINDOW, customers_search

router = APIRouter(prefix="/console/admin", route_class=ConsoleRoute, include_in_schema=False)
PAGE = 25
LEDGER_ROWS = 20
KEYS_SHOWN = 100
UserId = Annotated[str, Path(max_length=100)]
Fields = dict[str, str]
# The rate-limit windows, as the API's own schema names them.
LIMIT_FIELDS = tuple(LimitsIn.model_fields)
DONE = {
    "credited": "Credits added.",
    "debited": "Credits taken away.",
    "plan": "Plan assigned: its limits apply at once.",
    "limits": "Limits saved: they apply at once, on every gateway process.",
    "unchanged": "Nothing changed: every limit is as it was.",
    "suspended": "Account suspended: its keys and console sessions stopped working.",
    "active": "Account reactivated: its keys work again.",
}


@router.get("/customers")
async def customer_list(
    request: Request,
    viewer: AdminViewer,
    runtime: RuntimeDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    after: PageAfter = None,
) -> Response:
    found = await customers_search(runtime.db, query=q, limit=PAGE + 1, after=after)
    rows = list(found[:PAGE])
    next_url = None
    if len(found) > PAGE:
        next_url = "/console/admin/customers?" + urlencode({"q": q or "", "after": rows[-1].id})
    return render(request, "admin/customers.html", viewer=viewer, rows=rows, q=q or "", next_url=next_url)


@router.get("/customers/{user_id}")
async def customer_page(
    request: Request, user_id: UserId, viewer: AdminViewer, runtime: RuntimeDep, done: str | None = None
) -> Response:
    return await _page(request, viewer, runtime, user_id, done=DONE.get(done or ""))


async def _page(
    request: Request,
    viewer: Viewer,
    runtime: Runtime,
    user_id: str,
    *,
    status: int = 200,
    error: str | None = None,
    done: str | None = None,
    form: Fields | None = None,
) -> Response:
    user = await profile.profile(runtime.db, user_id=user_id)
    now = time.time()
    plan = await runtime.plans.get(periods.plan_in_force(user.plan_id, user.plan_expires_at, now=now))
    limits = [
        {"name": name, "plan": plan.limits.get(name), "overridden": name in user.limit_overrides,
         "override": user.limit_overrides.get(name)}
        for name in LIMIT_FIELDS
    ]  # fmt: skip
    return render(
        request, "admin/customer.html", viewer=viewer, status=status, error=error, done=done,
        user=user, plan=plan, plans=await runtime.plans.all(), limits=limits, form=form or {},
        paid_until=periods.paid_until(user.plan_expires_at, now=now),
        balance=await balances.balance_of(runtime.db, user_id=user_id),
        spent=await reports.totals(runtime.db, user_id=user_id, since=now - SPEND_WINDOW),
        keys=await manage.list_keys(runtime.db, user_id=user_id, limit=KEYS_SHOWN, after=None),
        ledger=await balances.ledger_page(runtime.db, user_id=user_id, limit=LEDGER_ROWS, before=None),
    )  # fmt: skip


Action = Callable[[Fields], Awaitable[str]]


async def _act(
    request: Request, viewer: Viewer, runtime: Runtime, user_id: str, *, what: str, action: Action
) -> Response:
    """Run one of the page's forms: back to the page with a fixed notice, or the page again
    with the refusal in place and the fields as they were typed."""
    fields = await checked_form(request, viewer, runtime)
    try:
        done = await action(fields)
    except GatewayError as exc:
        return await _page(
            request, viewer, runtime, user_id, status=exc.status, error=f"{what}: {exc.message}", form=fields
        )
    return redirect(f"/console/admin/customers/{quote(user_id, safe='')}?done={done}")


@router.post("/customers/{user_id}/credits")
async def change_credits(request: Request, user_id: UserId, viewer: AdminViewer, runtime: RuntimeDep) -> Response:
    async def credit(fields: Fields) -> str:
        reference = fields.get("reference", "").strip()
        payload = validated(AddCreditsIn, {
            "user_id": user_id, "credits": fields.get("amount", "").strip(), "reason": fields.get("reason", "").strip(),
            **({"reference": reference} if reference else {}),
        })  # fmt: skip
        amount = _signed(payload.credits, fields.get("direction", ""))
        await billing_credits.admin_credit(
            runtime.db, pepper=runtime.pepper, auditor=runtime.auditor, user_id=user_id, api_key=None,
            amount=amount, reason=payload.reason, reference=payload.reference,
        )  # fmt: skip
        return "credited" if amount > 0 else "debited"

    return await _act(request, viewer, runtime, user_id, what="Credits not changed", action=credit)


def _signed(amount: Nanos, direction: str) -> Nanos:
    """The amount typed (without a sign) as a credit or, negated, a debit."""
    if direction not in ("credit", "debit"):
        raise InvalidRequest("choose Credit or Debit", param="direction")
    if amount < 0:
        raise InvalidRequest("enter the amount without a sign: choose Debit to take credits away", param="credits")
    return Nanos(-amount) if direction == "debit" else amount


@router.post("/customers/{user_id}/plan")
async def assign_plan(request: Request, user_id: UserId, viewer: AdminViewer, runtime: RuntimeDep) -> Response:
    async def assign(fields: Fields) -> str:
        payload = validated(AssignPlanIn, {
            "user_id": user_id, "plan_id": fields.get("plan_id", ""),
            "duration_months": fields.get("months", "").strip() or "1",
        })  # fmt: skip
        await periods.assign(
            runtime.db, runtime.plans, user_id=user_id, plan_id=payload.plan_id, months=payload.duration_months,
            auditor=runtime.auditor, auth=runtime.auth,
        )  # fmt: skip
        return "plan"

    return await _act(request, viewer, runtime, user_id, what="Plan not assigned", action=assign)


@router.post("/customers/{user_id}/limits")
async def set_limits(request: Request, user_id: UserId, viewer: AdminViewer, runtime: RuntimeDep) -> Response:
    async def save(fields: Fields) -> str:
        # Only the windows whose value was changed are sent, as the API's "fields sent change":
        # a window left as shown keeps following the plan (or its earlier override).
        changed = {
            name: fields.get(name, "").strip() or None
            for name in LIMIT_FIELDS
            if fields.get(name, "").strip() != fields.get(f"shown_{name}", "").strip()
        }
        if not changed:
            return "unchanged"
        payload = validated(SetLimitsIn, {"user_id": user_id, "rate_limits": changed})
        limits = {name: getattr(payload.rate_limits, name) for name in payload.rate_limits.model_fields_set}
        await overrides.set_limits(
            runtime.db, pepper=runtime.pepper, auth=runtime.auth, auditor=runtime.auditor,
            user_id=user_id, api_key=None, key_id=None, limits=limits,
        )  # fmt: skip
        return "limits"

    return await _act(request, viewer, runtime, user_id, what="Limits not saved", action=save)


@router.post("/customers/{user_id}/status")
async def set_status(request: Request, user_id: UserId, viewer: AdminViewer, runtime: RuntimeDep) -> Response:
    async def change(fields: Fields) -> str:
        wanted = fields.get("status", "")
        if wanted == "suspended" and viewer.user_id == user_id:
            raise Forbidden("you are signed in with this account's key: suspending it would lock you out")
        await account_status.set_status(
            runtime.db, user_id=user_id, status=wanted, reason=fields.get("status_reason", "").strip()[:500] or None,
            auth=runtime.auth, auditor=runtime.auditor,
        )  # fmt: skip
        return wanted

    return await _act(request, viewer, runtime, user_id, what="Status not changed", action=change)
