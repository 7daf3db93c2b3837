"""Admin: the plans, every field of each, with forms to create and edit them (the plan book's
create and update, as POST /admin/plans and PUT /admin/plans/{id} call them)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from gateway.deps import RuntimeDep
from gateway.errors import GatewayError, InvalidRequest
from gateway.routes.console.web import AdminViewer, ConsoleRoute, checked_form, form_list, redirect, render, validated
from gateway.runtime import Runtime
from gateway.schemas.common import LimitsIn
from gateway.schemas.plans import NewPlanIn, PlanChanges, PlanOut
from gateway.services.console.sessions import Viewer

router = APIRouter(prefix="/console/admin", route_class=ConsoleRoute, include_in_schema=False)
PlanId = Annotated[str, Path(max_length=64)]
LIMIT_FIELDS = tuple(LimitsIn.model_fields)  # the rate-limit windows, as the API names them
COUNTS = (*LIMIT_FIELDS, "max_tokens_per_request", "max_api_keys", "max_concurrent_requests")
DONE = {"created": "Plan created.", "updated": "Plan saved: every gateway process uses it at once."}
# What a new plan starts from (the plan book's own defaults, written out so the form shows them).
NEW_PLAN = {"price_per_month": "0", "included_credits": "0", "allowed_models": "*", "features": "streaming = true"}


@router.get("/plans")
async def plans_page(request: Request, viewer: AdminViewer, runtime: RuntimeDep, done: str | None = None) -> Response:
    return await _page(request, viewer, runtime, done=DONE.get(done or ""))


async def _page(
    request: Request,
    viewer: Viewer,
    runtime: Runtime,
    *,
    status: int = 200,
    error: str | None = None,
    done: str | None = None,
    editing: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    plans = sorted(await runtime.plans.all(), key=lambda p: (p.price_per_month, p.id))
    values = {
        plan.id: form if editing == plan.id and form is not None else plan_values(PlanOut.of(plan)) for plan in plans
    }
    new_plan = form if editing is None and form is not None else NEW_PLAN
    return render(
        request, "admin/plans.html", viewer=viewer, status=status, error=error, done=done,
        plans=plans, values=values, new_plan=new_plan, editing=editing, creating=editing is None and form is not None,
        limit_fields=LIMIT_FIELDS,
    )  # fmt: skip


def plan_values(plan: PlanOut) -> dict[str, str]:
    """A plan as the form's text: credits as plain decimals, empty for no limit or none."""
    counts = {name: getattr(plan, name) for name in COUNTS}
    return {
        "name": plan.name,
        "price_per_month": format(plan.price_per_month, "f"),
        "included_credits": format(plan.included_credits, "f"),
        "stripe_price_id": plan.stripe_price_id or "",
        "markup": "" if plan.markup is None else format(plan.markup, "f"),
        "allowed_models": "\n".join(plan.allowed_models),
        "features": "\n".join(f"{name} = {'true' if on else 'false'}" for name, on in sorted(plan.features.items())),
        **{name: "" if value is None else str(value) for name, value in counts.items()},
    }


def plan_body(fields: dict[str, str]) -> dict[str, Any]:
    """The form as the API's JSON body: every field sent, an empty one as null (no limit, no
    Stripe price, the gateway's markup)."""
    text = {name: fields.get(name, "").strip() for name in (*COUNTS, "price_per_month", "included_credits",
                                                              "stripe_price_id", "markup")}  # fmt: skip
    return {
        "name": fields.get("name", "").strip(),
        **{name: value or None for name, value in text.items()},
        "allowed_models": form_list(fields.get("allowed_models")) or None,
        "features": _features(fields.get("features", "")),
    }


def _features(text: str) -> dict[str, str]:
    """`name = true` (or `false`; a bare name is true), one a line or comma; pydantic reads
    the values as booleans."""
    found: dict[str, str] = {}
    for item in form_list(text):
        name, sep, value = item.partition("=") if "=" in item else item.partition(":")
        if not name.strip():
            raise InvalidRequest("features: write one feature a line, as name = true or name = false")
        found[name.strip()] = value.strip() if sep else "true"
    return found


@router.post("/plans")
async def create_plan(request: Request, viewer: AdminViewer, runtime: RuntimeDep) -> Response:
    fields = await checked_form(request, viewer, runtime)
    try:
        payload = validated(NewPlanIn, {"id": fields.get("id", "").strip(), **plan_body(fields)})
        plan = await runtime.plans.create(payload.id, payload.name, payload.given())
    except GatewayError as exc:
        return await _page(
            request, viewer, runtime, status=exc.status, error=f"Plan not created: {exc.message}", form=fields
        )
    return redirect(f"/console/admin/plans?done=created#plan-{quote(plan.id, safe='')}")


@router.post("/plans/{plan_id}")
async def update_plan(request: Request, plan_id: PlanId, viewer: AdminViewer, runtime: RuntimeDep) -> Response:
    fields = await checked_form(request, viewer, runtime)
    try:
        payload = validated(PlanChanges, plan_body(fields))
        await runtime.plans.update(plan_id, payload.given())
    except GatewayError as exc:
        return await _page(
            request, viewer, runtime, status=exc.status, error=f"Plan {plan_id} not saved: {exc.message}",
            editing=plan_id, form=fields,
        )  # fmt: skip
    return redirect(f"/console/admin/plans?done=updated#plan-{quote(plan_id, safe='')}")
