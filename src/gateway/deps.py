"""Dependency aliases for routes: the running gateway, the calling key, the admin."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request
from starlette.types import Scope

from gateway.asgi import NOTE, header, header_lines
from gateway.bounds import MAX_ROW_ID, MAX_TIMESTAMP
from gateway.errors import ServiceUnavailable
from gateway.runtime import Runtime
from gateway.services.keys import allowlist
from gateway.services.keys.allowlist import Caller
from gateway.services.keys.authenticate import Admin, Principal
from gateway.services.operations.access import BOOTSTRAP_ADMIN
from gateway.services.payments.checkout import check_billing_key
from gateway.services.payments.setup import PaymentParts


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime | None = getattr(request.app.state, "runtime", None)
    if runtime is None:
        raise ServiceUnavailable("the gateway is starting")
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def caller(scope: Scope, runtime: Runtime) -> Caller:
    """Where a request comes from (its client address, Origin and Referer): the one reading of
    it, for the routes here and the raw chat handler alike."""
    return allowlist.caller_of(
        peer=scope["client"][0] if scope.get("client") else None,
        forwarded_for=header_lines(scope, b"x-forwarded-for"),
        origin=header(scope, b"origin"),
        referer=header(scope, b"referer"),
        trusted_proxies=runtime.trusted_proxies,
    )


def client_address(request: Request, runtime: RuntimeDep) -> str:
    return caller(request.scope, runtime).ip


async def _guarded(principal: Principal, request: Request, runtime: Runtime) -> Principal:
    """A key's allowlists hold on every route it can call, not only on `/v1/*`."""
    await allowlist.guard(
        runtime.db, runtime.auditor, principal=principal, caller=lambda: caller(request.scope, runtime)
    )
    return principal


def _noted(request: Request, principal: Principal | None) -> None:
    """Who called, for the request's access line (the bootstrap admin: no user, no mask)."""
    note = request.scope.get(NOTE)
    if note is not None:
        if principal is None:
            note.identify(user_id=None, key=BOOTSTRAP_ADMIN)
        else:
            note.identify(user_id=principal.user_id, key=principal.mask)


async def current_key(request: Request, runtime: RuntimeDep) -> Principal:
    principal = await runtime.auth.authenticate(request.headers.get("authorization"))
    _noted(request, principal)
    return await _guarded(principal, request, runtime)


async def current_admin(request: Request, runtime: RuntimeDep) -> Admin:
    admin = await runtime.auth.authenticate_admin(request.headers.get("authorization"))
    _noted(request, admin.principal)
    if admin.principal is not None:
        await _guarded(admin.principal, request, runtime)
    return admin


CurrentKey = Annotated[Principal, Depends(current_key)]
ClientAddress = Annotated[str, Depends(client_address)]
PageLimit = Annotated[int, Query(ge=1, le=100, description="items per page")]
PageAfter = Annotated[str | None, Query(max_length=100, description="cursor: the last id of the previous page")]
ConfirmationQuery = Annotated[str | None, Query(max_length=50)]
IdCursor = Annotated[int | None, Query(ge=0, le=MAX_ROW_ID, description="cursor: the last id of the previous page")]


def unix_time(description: str) -> Any:
    """A Unix time query parameter: finite, from 1970 to the year 9999."""
    return Query(ge=0, le=MAX_TIMESTAMP, allow_inf_nan=False, description=description)


def payments(runtime: RuntimeDep) -> PaymentParts:
    """Stripe's parts, or 503 when payments are not configured."""
    if runtime.payments is None:
        raise ServiceUnavailable("payments are not configured on this gateway (STRIPE_SECRET_KEY is unset)")
    return runtime.payments


PaymentsDep = Annotated[PaymentParts, Depends(payments)]


async def billing_key(principal: Annotated[Principal, Depends(current_key)]) -> Principal:
    check_billing_key(principal)
    return principal


BillingKey = Annotated[Principal, Depends(billing_key)]
