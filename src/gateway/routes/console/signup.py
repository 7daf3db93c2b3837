"""Opening an account from the console: the same registration as POST /auth/register (and
its per-address throttle), then signed in with the new key, which is shown this once."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.deps import RuntimeDep, caller
from gateway.errors import Forbidden, GatewayError
from gateway.routes.console.signin import PRE_SESSION_COOKIE, pre_session_token_valid, with_pre_session
from gateway.routes.console.web import (
    ConsoleRoute,
    cookie_token,
    form_fields,
    render,
    same_origin,
    set_session_cookie,
    validated,
)
from gateway.schemas.accounts import RegisterIn
from gateway.services.accounts import signup

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/console/sign-up")
async def sign_up_form(request: Request, runtime: RuntimeDep) -> Response:
    return _form(request, runtime)


def _form(request: Request, runtime: RuntimeDep, *, error: GatewayError | None = None, email: str = "") -> Response:
    return with_pre_session(
        request, runtime, "sign_up.html", status=error.status if error else 200,
        error=error.message if error else None, email=email, headers=error.headers if error else {},
    )  # fmt: skip


@router.post("/console/sign-up")
async def sign_up(request: Request, runtime: RuntimeDep) -> Response:
    fields = await form_fields(request)
    email = fields.get("email", "")
    try:
        if not same_origin(request) or not pre_session_token_valid(request, fields):
            raise Forbidden("this form expired or came from another site: try again")
        runtime.throttle.hit(scope="register", client=caller(request.scope, runtime).ip)
        payload = validated(RegisterIn, {"email": email, "username": fields.get("username") or None})
        created = await signup.register(
            runtime.db, email=payload.email, username=payload.username, environment="live",
            signup_credits=runtime.signup_credits, pepper=runtime.pepper,
        )  # fmt: skip
    except GatewayError as exc:
        return _form(request, runtime, error=exc, email=email)
    await runtime.console.sign_out(cookie_token(request))
    token, viewer = await runtime.console.sign_in(created.api_key)
    response = render(request, "welcome.html", viewer=viewer, status=201, secret=created, account=created.user)
    set_session_cookie(response, request, runtime, token)
    response.delete_cookie(PRE_SESSION_COOKIE, path="/console")
    return response
