"""Signing in and out of the console, its static files, and `/` (which leads to it)."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from gateway.deps import RuntimeDep, caller
from gateway.errors import Forbidden, GatewayError, NotFound
from gateway.routes.console.web import (
    COOKIE,
    CSRF_FIELD,
    STATIC,
    STATIC_VERSION,
    AnyViewer,
    ConsoleRoute,
    checked_form,
    clear_session_cookie,
    cookie_token,
    form_fields,
    guard,
    is_https,
    redirect,
    render,
    same_origin,
    set_session_cookie,
)
from gateway.services.console.sessions import Viewer

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PRE_SESSION_COOKIE = "gw_console_signin"
_TYPES = {"css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8", "txt": "text/plain; charset=utf-8"}


def _landing(next_url: str | None, *, has_account: bool) -> str:
    """Where to go after signing in: a console page the form came from, never another site."""
    if next_url and next_url.startswith("/console") and not next_url.startswith("/console/sign-"):
        return next_url
    return "/console" if has_account else "/console/admin/customers"


# Stripe Checkout sends buyers back to PUBLIC_BASE_URL/?checkout=success|cancelled (the return
# URLs the payment service gives it): the billing page says what happened.
CHECKOUT_RETURNS = ("success", "cancelled")


@router.get("/")
async def root(request: Request) -> Response:
    returned = request.query_params.get("checkout")
    if returned in CHECKOUT_RETURNS:
        return redirect(f"/console/billing?checkout={returned}")
    return redirect("/console")


@router.get("/console/sign-in")
async def sign_in_form(request: Request, runtime: RuntimeDep, next: str | None = None) -> Response:
    # Shown even to a signed-in browser (with a way back): signing in again replaces the
    # session, so a session planted in this browser by someone else can be got rid of.
    viewer = await runtime.console.resolve(cookie_token(request))
    return _form(request, runtime, next=next, current=viewer)


def _form(
    request: Request,
    runtime: RuntimeDep,
    *,
    next: str | None,
    error: GatewayError | None = None,
    current: Viewer | None = None,
) -> Response:
    return with_pre_session(
        request, runtime, "sign_in.html", status=error.status if error else 200,
        headers=error.headers if error else {}, next=next or "", error=error.message if error else None,
        current=current,
    )  # fmt: skip


def with_pre_session(
    request: Request, runtime: RuntimeDep, template: str, *, status: int, headers: Mapping[str, str], **context: Any
) -> Response:
    """A page with a form used before any session exists (sign-in, sign-up). Such forms are
    protected from forged posts too (login CSRF): their token must match a cookie that only
    our own page could have set."""
    token = secrets.token_urlsafe(24)
    response = render(request, template, viewer=None, status=status, sign_in_csrf=token, **context)
    response.headers.update(headers)
    response.set_cookie(
        PRE_SESSION_COOKIE, token, max_age=3600, path="/console", httponly=True, samesite="strict",
        secure=is_https(request, runtime),
    )  # fmt: skip
    return response


def pre_session_token_valid(request: Request, fields: Mapping[str, str]) -> bool:
    sent, expected = fields.get(CSRF_FIELD, ""), request.cookies.get(PRE_SESSION_COOKIE, "")
    return bool(expected) and hmac.compare_digest(sent.encode(), expected.encode())


@router.post("/console/sign-in")
async def sign_in(request: Request, runtime: RuntimeDep) -> Response:
    fields = await form_fields(request)
    next_url = fields.get("next") or None
    try:
        if not same_origin(request) or not pre_session_token_valid(request, fields):
            raise Forbidden("this sign-in form expired or came from another site: try again")
        runtime.signin_throttle.hit(scope="console-sign-in", client=caller(request.scope, runtime).ip)
        token, viewer = await runtime.console.sign_in(fields.get("api_key", ""))
        if viewer.principal is not None:
            try:
                await guard(request, runtime, viewer.principal)
            except GatewayError:
                await runtime.console.sign_out(token)
                raise
    except GatewayError as exc:
        return _form(request, runtime, next=next_url, error=exc)
    # Whatever session the browser held before is ended, and the new one has a new token:
    # a token planted before sign-in (session fixation) never becomes a signed-in session.
    await runtime.console.sign_out(cookie_token(request))
    response = redirect(_landing(next_url, has_account=viewer.principal is not None))
    set_session_cookie(response, request, runtime, token)
    response.delete_cookie(PRE_SESSION_COOKIE, path="/console")
    return response


@router.post("/console/sign-out")
async def sign_out(request: Request, viewer: AnyViewer, runtime: RuntimeDep) -> Response:
    await checked_form(request, viewer, runtime, changes=False)
    await runtime.console.sign_out(cookie_token(request))
    response = redirect("/console/sign-in")
    clear_session_cookie(response, request, runtime)
    return response


@router.get("/console/static/{version}/{name}")
async def static(version: Annotated[str, Path(max_length=40)], name: Annotated[str, Path(max_length=100)]) -> Response:
    body = STATIC.get(name)
    if body is None or version != STATIC_VERSION:
        raise NotFound("no such file")
    kind = _TYPES.get(name.rpartition(".")[2], "application/octet-stream")
    return Response(
        body,
        media_type=kind,
        headers={"cache-control": "public, max-age=31536000, immutable", "x-content-type-options": "nosniff"},
    )


__all__ = ["COOKIE", "router"]
