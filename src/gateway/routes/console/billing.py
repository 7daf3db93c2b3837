"""The customer's Billing page: the balance, buying credits and plans (Stripe Checkout), the
billing portal, auto top-up and the ledger. Every action calls the service the JSON payment
routes call (routes/payments.py); a refusal is shown next to the form it came from."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from gateway.deps import IdCursor, RuntimeDep, payments
from gateway.errors import GatewayError
from gateway.routes.console.web import ConsoleRoute, Customer, checked_form, redirect, render, validated
from gateway.runtime import Runtime
from gateway.schemas.payments import AutoTopUpIn, CheckoutIn
from gateway.services.billing import balances
from gateway.services.billing.money import credits_text
from gateway.services.console.sessions import Viewer
from gateway.services.keys.authenticate import Principal
from gateway.services.payments import checkout as buying
from gateway.services.payments.config import CENTS_PER_USD, MAX_USD, MIN_USD, usd
from gateway.services.payments.setup import PaymentParts
from gateway.services.plans.book import FREE_PLAN, PlanRow

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)
PAGE = "/console/billing"
LEDGER_ROWS = 20
# What a redirect back to the page may say: fixed texts chosen by a code, never query text.
DONE = {"auto-topup": "Auto top-up settings saved."}
# Stripe Checkout sends the buyer back with ?checkout=… (through `/`, see signin.root).
RETURNS = {
    "success": "Payment received: credits appear as soon as Stripe confirms it.",
    "cancelled": "Checkout cancelled: nothing was charged.",
}
KINDS = {
    "signup": "Sign-up credits",
    "usage": "Usage",
    "topup": "Credits added",
    "adjustment": "Adjustment",
    "plan_credits": "Plan credits",
    "stripe_topup": "Top-up",
    "stripe_auto_topup": "Auto top-up",
    "stripe_refund": "Refund",
    "stripe_dispute": "Dispute",
    "stripe_dispute_won": "Dispute won",
}
LIMITS = {
    "requests_per_minute": "requests a minute",
    "requests_per_hour": "requests an hour",
    "requests_per_day": "requests a day",
    "tokens_per_minute": "tokens a minute",
    "tokens_per_hour": "tokens an hour",
    "tokens_per_day": "tokens a day",
}
Code = Annotated[str | None, Query(max_length=20)]
Action = Callable[[dict[str, str], PaymentParts, Principal], Awaitable[Response]]


@router.get("/billing")
async def billing(
    request: Request, viewer: Customer, runtime: RuntimeDep, *, after: IdCursor = None, done: Code = None,
    checkout: Code = None,
) -> Response:  # fmt: skip
    notice = DONE.get(done or "") or RETURNS.get(checkout or "")
    return await _page(request, viewer, runtime, after=after, done=notice)


@router.post("/billing/checkout")
async def buy_credits(request: Request, viewer: Customer, runtime: RuntimeDep) -> Response:
    async def action(fields: dict[str, str], parts: PaymentParts, principal: Principal) -> Response:
        # The schema requires amount_usd when buying credits (the `or` is for the type checker).
        order = validated(CheckoutIn, {
            "kind": "credits", "amount_usd": fields.get("amount_usd", ""), "save_card": "save_card" in fields,
        })  # fmt: skip
        session = await buying.buy_credits(
            runtime.db, parts.config, user_id=principal.user_id, amount_usd=order.amount_usd or Decimal(0),
            save_card=order.save_card, client_key=None,
        )  # fmt: skip
        return redirect(session.url)

    return await _act(request, viewer, runtime, "credits", action)


@router.post("/billing/plan")
async def buy_plan(request: Request, viewer: Customer, runtime: RuntimeDep) -> Response:
    async def action(fields: dict[str, str], parts: PaymentParts, principal: Principal) -> Response:
        order = validated(CheckoutIn, {"kind": "plan", "plan_id": fields.get("plan_id", "")})
        session = await buying.buy_plan(
            runtime.db, parts.config, runtime.plans, user_id=principal.user_id, plan_id=order.plan_id or "",
            client_key=None,
        )  # fmt: skip
        return redirect(session.url)

    return await _act(request, viewer, runtime, "plans", action)


@router.post("/billing/portal")
async def billing_portal(request: Request, viewer: Customer, runtime: RuntimeDep) -> Response:
    async def action(fields: dict[str, str], parts: PaymentParts, principal: Principal) -> Response:
        return redirect(await buying.billing_portal(runtime.db, parts.config, user_id=principal.user_id))

    return await _act(request, viewer, runtime, "portal", action)


@router.post("/billing/auto-topup")
async def auto_topup(request: Request, viewer: Customer, runtime: RuntimeDep) -> Response:
    async def action(fields: dict[str, str], parts: PaymentParts, principal: Principal) -> Response:
        # An empty field keeps its value, as a field left out of PUT /user/auto-topup does.
        wanted = validated(AutoTopUpIn, {
            "enabled": "enabled" in fields, "threshold": fields.get("threshold") or None,
            "amount_usd": fields.get("topup_usd") or None,
        })  # fmt: skip
        await parts.auto_topups.put(
            user_id=principal.user_id, enabled=wanted.enabled, threshold=wanted.threshold,
            amount_usd=wanted.amount_usd,
        )  # fmt: skip
        return redirect(f"{PAGE}?done=auto-topup")

    return await _act(request, viewer, runtime, "auto-topup", action)


async def _act(request: Request, viewer: Viewer, runtime: Runtime, section: str, action: Action) -> Response:
    """A checked form, handed to `action` once payments are on and the key may pay; whatever the
    services refuse is shown on the page, next to `section`, with its status."""
    fields = await checked_form(request, viewer, runtime)
    principal = _principal(viewer)
    try:
        parts = payments(runtime)
        buying.check_billing_key(principal)
    except GatewayError as exc:
        return await _page(request, viewer, runtime, failed="access", problem=exc)
    try:
        return await action(fields, parts, principal)
    except GatewayError as exc:
        return await _page(request, viewer, runtime, failed=section, problem=exc, entered=fields)


async def _page(
    request: Request, viewer: Viewer, runtime: Runtime, *, after: int | None = None, done: str | None = None,
    failed: str | None = None, problem: GatewayError | None = None, entered: Mapping[str, str] | None = None,
) -> Response:  # fmt: skip
    principal = _principal(viewer)
    balance = await balances.balance_of(runtime.db, user_id=principal.user_id)
    rows = await balances.ledger_page(runtime.db, user_id=principal.user_id, limit=LEDGER_ROWS + 1, before=after)
    refusal = _billing_refusal(principal)
    parts = runtime.payments
    settings = await parts.auto_topups.get(user_id=principal.user_id) if parts and not refusal else None
    response = render(
        request, "billing.html", viewer=viewer, status=problem.status if problem else 200, done=done,
        failed=failed, problem=problem, entered=entered or {}, balance=balance, payments_on=parts is not None,
        refusal=refusal, fee=_fee(parts), plans=await runtime.plans.all(), current=await runtime.plans.of(principal),
        free_plan=FREE_PLAN, limits=_limits, auto=settings, auto_usd=usd(settings.amount_cents) if settings else None,
        credits_text=credits_text, kinds=KINDS, ledger=rows[:LEDGER_ROWS], after=after,
        next_url=f"{PAGE}?after={rows[LEDGER_ROWS - 1].id}" if len(rows) > LEDGER_ROWS else None,
    )  # fmt: skip
    for name, value in (problem.headers if problem else {}).items():
        response.headers[name] = value
    return response


def _principal(viewer: Viewer) -> Principal:
    assert viewer.principal is not None  # noqa: S101 - Customer guarantees it
    return viewer.principal


def _billing_refusal(principal: Principal) -> str | None:
    """Why this key may not pay (check_billing_key's own words), or None."""
    try:
        buying.check_billing_key(principal)
    except GatewayError as exc:
        return exc.message
    return None


def _fee(parts: PaymentParts | None) -> dict[str, object] | None:
    """The top-up fee as the settings give it, and what $10 buys after it (the service's rule)."""
    if parts is None:
        return None
    example = 10 * CENTS_PER_USD
    return {
        "percent": f"{(parts.config.fee_rate * 100).normalize():f}%",
        "example_usd": usd(example),
        "example_credits": parts.config.credits_for(example),
        "min_usd": MIN_USD,
        "max_usd": MAX_USD,
    }


def _limits(plan: PlanRow) -> list[str]:
    """A plan's limits in words, for its card ("60 requests a minute", "5 API keys at most")."""
    found = [f"{value:,} {LIMITS[name]}" for name, value in plan.limits.items() if value is not None]
    for value, words in (
        (plan.max_tokens_per_request, "tokens per request at most"),
        (plan.max_concurrent_requests, "requests at once at most"),
        (plan.max_api_keys, "API keys at most"),
    ):
        if value is not None:
            found.append(f"{value:,} {words}")
    return found
