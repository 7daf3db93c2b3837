"""Customer routes (Bearer key): balance, profile, account, plan, limits and usage.
The whole router requires a key; every route shows the caller's own data only."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from gateway.deps import ConfirmationQuery, CurrentKey, IdCursor, PageAfter, PageLimit, RuntimeDep, current_key
from gateway.routes.base import GatewayRoute
from gateway.routes.openapi import errors
from gateway.routes.responses import ok
from gateway.schemas.accounts import (
    AccountClosedOut,
    BalanceOut,
    DeleteAccountIn,
    LimitsOut,
    MonitorOut,
    ProfileIn,
    ProfileOut,
)
from gateway.schemas.common import ListOf, confirm, credits, page_of
from gateway.schemas.plans import EntitlementsOut, FeatureOut, KeysUsed, PlanOut, PlanUsageOut, UserPlanOut
from gateway.schemas.usage import EnvironmentUsageOut, LedgerEntryOut, TotalsOut, UsageEntryOut, WindowOut
from gateway.services.accounts import profile
from gateway.services.billing import balances
from gateway.services.plans import periods
from gateway.services.reports import usage as reports

router = APIRouter(
    prefix="/user",
    route_class=GatewayRoute,
    tags=["customer"],
    dependencies=[Depends(current_key)],
    responses=errors(401, 403),
)


@router.get("/balance", response_model=BalanceOut)
async def balance(principal: CurrentKey, runtime: RuntimeDep) -> Response:
    found = await balances.balance_of(runtime.db, user_id=principal.user_id)
    return ok(BalanceOut(
        user_id=principal.user_id,
        api_key=principal.mask,
        credits=credits(found.credits),
        reserved=credits(found.reserved),
        status=principal.user_status,
    ))  # fmt: skip


@router.get("/profile", response_model=ProfileOut)
async def get_profile(principal: CurrentKey, runtime: RuntimeDep) -> Response:
    return ok(ProfileOut.of(await profile.profile(runtime.db, user_id=principal.user_id)))


@router.put("/profile", response_model=ProfileOut, responses=errors(409))
async def put_profile(payload: ProfileIn, principal: CurrentKey, runtime: RuntimeDep) -> Response:
    user = await profile.update_profile(
        runtime.db, user_id=principal.user_id, email=payload.email, username=payload.username, auditor=runtime.auditor
    )
    return ok(ProfileOut.of(user))


@router.delete("/account", response_model=AccountClosedOut)
async def delete_account(
    principal: CurrentKey,
    runtime: RuntimeDep,
    payload: DeleteAccountIn | None = None,
    confirmation: ConfirmationQuery = None,
) -> Response:
    """Close the account (confirmation `DELETE_ACCOUNT`): every key stops working at once."""
    confirm("DELETE_ACCOUNT", query=confirmation, body=payload, to="close this account")
    await profile.delete_account(runtime.db, user_id=principal.user_id, auth=runtime.auth, auditor=runtime.auditor)
    return ok(AccountClosedOut(user_id=principal.user_id, status="deleted"))


@router.get("/plan", response_model=UserPlanOut)
async def my_plan(principal: CurrentKey, runtime: RuntimeDep) -> Response:
    plan = await runtime.plans.of(principal)
    user = await profile.profile(runtime.db, user_id=principal.user_id)
    return ok(UserPlanOut(
        **PlanOut.values(plan),
        started_at=user.plan_started_at,
        expires_at=periods.paid_until(user.plan_expires_at, now=time.time()),
    ))  # fmt: skip


@router.get("/plan/usage", response_model=PlanUsageOut)
async def my_plan_usage(principal: CurrentKey, runtime: RuntimeDep) -> Response:
    plan = await runtime.plans.of(principal)
    found = await reports.plan_usage(runtime.db, principal=principal, plan=plan)
    return ok(PlanUsageOut(
        plan_id=plan.id,
        period_start=found["period_start"],
        **TotalsOut.values(found["totals"]),
        included_credits=credits(plan.included_credits),
        api_keys=KeysUsed(**found["api_keys"]),
        limits=[WindowOut(**w) for w in await reports.windows(runtime.limiter, principal, plan)],
    ))  # fmt: skip


@router.get("/plan/entitlements", response_model=EntitlementsOut | FeatureOut)
async def my_entitlements(
    principal: CurrentKey, runtime: RuntimeDep, feature: Annotated[str | None, Query(max_length=64)] = None
) -> Response:
    """Everything the plan entitles you to, or (`?feature=streaming`) whether it has one feature."""
    plan = await runtime.plans.of(principal)
    if feature is not None:
        return ok(FeatureOut(plan_id=plan.id, feature=feature, enabled=bool(plan.features.get(feature, False))))
    return ok(EntitlementsOut(
        plan_id=plan.id,
        features=plan.features,
        allowed_models=list(plan.allowed_models),
        max_tokens_per_request=plan.max_tokens_per_request,
        max_api_keys=plan.max_api_keys,
        max_concurrent_requests=plan.max_concurrent_requests,
    ))  # fmt: skip


@router.get("/limit", response_model=LimitsOut)
async def my_limits(principal: CurrentKey, runtime: RuntimeDep) -> Response:
    plan = await runtime.plans.of(principal)
    return ok(LimitsOut(
        plan_id=plan.id,
        max_concurrent_requests=plan.max_concurrent_requests,
        limits=[WindowOut(**w) for w in await reports.windows(runtime.limiter, principal, plan)],
    ))  # fmt: skip


@router.get("/monitor", response_model=MonitorOut)
async def my_monitor(principal: CurrentKey, runtime: RuntimeDep) -> Response:
    plan = await runtime.plans.of(principal)
    found = await balances.balance_of(runtime.db, user_id=principal.user_id)
    today = await reports.totals(runtime.db, user_id=principal.user_id, since=time.time() - reports.DAY)
    return ok(MonitorOut(
        user_id=principal.user_id,
        credits=credits(found.credits),
        reserved=credits(found.reserved),
        status=principal.user_status,
        plan_id=plan.id,
        last_24h=TotalsOut.of(today),
        limits=[WindowOut(**w) for w in await reports.windows(runtime.limiter, principal, plan)],
    ))  # fmt: skip


@router.get("/usage", response_model=ListOf[UsageEntryOut])
async def my_usage(
    principal: CurrentKey,
    runtime: RuntimeDep,
    limit: PageLimit = 20,
    after: PageAfter = None,
) -> Response:
    found = await reports.usage_page(runtime.db, user_id=principal.user_id, limit=limit + 1, before=after)
    return ok(page_of([UsageEntryOut.of(r) for r in found], limit=limit))


@router.get("/transactions", response_model=ListOf[LedgerEntryOut])
async def my_transactions(
    principal: CurrentKey,
    runtime: RuntimeDep,
    limit: PageLimit = 20,
    after: IdCursor = None,
) -> Response:
    found = await balances.ledger_page(runtime.db, user_id=principal.user_id, limit=limit + 1, before=after)
    return ok(page_of([LedgerEntryOut.of(r) for r in found], limit=limit))


@router.get("/environment-usage", response_model=ListOf[EnvironmentUsageOut])
async def my_environment_usage(principal: CurrentKey, runtime: RuntimeDep) -> Response:
    grouped = await reports.grouped(runtime.db, by="environment", user_id=principal.user_id)
    data = [EnvironmentUsageOut(environment_tag=name, **TotalsOut.values(totals)) for name, totals in grouped]
    return ok(ListOf[EnvironmentUsageOut](data=data))
