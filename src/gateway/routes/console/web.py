"""What every console page shares: templates, the session cookie, the signed-in viewer, form
bodies with their CSRF check, and errors rendered as pages (never the API's JSON).

Pages are server-rendered HTML; the only script is a small pinned file of our own (copy
buttons, local times). Forms post back to the page they are on and either redirect (a change
that shows nothing new) or re-render the page with the result or the error in place.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl, quote, urlsplit

import jinja2
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from markupsafe import Markup
from pydantic import BaseModel, ValidationError
from starlette.responses import HTMLResponse, RedirectResponse, Response

from gateway.deps import RuntimeDep, caller, get_runtime
from gateway.errors import Forbidden, GatewayError, InternalError, InvalidRequest
from gateway.routes.base import NUL_REFUSED  # PostgreSQL's text cannot hold a NUL
from gateway.runtime import Runtime
from gateway.services.billing.money import to_credits
from gateway.services.console.sessions import Viewer
from gateway.services.keys import allowlist
from gateway.services.keys.authenticate import Principal
from gateway.services.keys.client_ip import allowed

log = logging.getLogger("gateway.console")

COOKIE = "gw_console"
CSRF_FIELD = "csrf_token"
MAX_FORM_FIELDS = 200
SchemaT = TypeVar("SchemaT", bound=BaseModel)

# Every page answers with these: no caching of account pages, no framing, scripts and styles
# from our own origin only.
SECURITY_HEADERS = {
    "cache-control": "no-store",
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


class SignedOut(Exception):
    """No live session: the page sends the browser to the sign-in form."""


def _static_files() -> dict[str, bytes]:
    folder = resources.files(__package__).joinpath("static")
    return {entry.name: entry.read_bytes() for entry in folder.iterdir() if entry.is_file()}


STATIC = _static_files()
# One version for every asset, from their bytes: a deploy changes the URL, so browsers may
# cache each file for a year.
STATIC_VERSION = hashlib.sha256(b"".join(STATIC[name] for name in sorted(STATIC))).hexdigest()[:12]


def static_url(name: str) -> str:
    return f"/console/static/{STATIC_VERSION}/{name}"


def money(nanos: int | None, unit: str = "credits") -> str:
    """Credits with thousands separators, at least two decimals and every one that is there."""
    if nanos is None:
        return "no limit"
    amount = to_credits(nanos)
    places = max(2, -int(amount.as_tuple().exponent))
    return f"{amount:,.{places}f} {unit}"


def usd(amount: Decimal | int | None) -> str:
    return "—" if amount is None else f"${Decimal(amount):,.2f}"


def when(timestamp: float | None) -> Any:
    """A time the browser shows in the viewer's zone (static/console.js); UTC without script."""
    if timestamp is None:
        return "—"
    moment = datetime.fromtimestamp(timestamp, UTC)
    return Markup('<time datetime="{}">{} UTC</time>').format(moment.isoformat(), f"{moment:%Y-%m-%d %H:%M}")


def count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


templates = jinja2.Environment(
    loader=jinja2.PackageLoader("gateway.routes.console", "templates"),
    autoescape=True,  # every value a customer can set (key names, emails) is escaped
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.globals["static"] = static_url
templates.filters.update(money=money, usd=usd, when=when, count=count)


def render(
    request: Request, template: str, *, viewer: Viewer | None, status: int = 200, **context: Any
) -> HTMLResponse:
    html = templates.get_template(template).render(
        request=request, viewer=viewer, path=request.url.path, error=context.pop("error", None), **context
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


def sign_in_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/console/sign-in?next=" + quote(target, safe="")


class ConsoleRoute(APIRoute):
    """Errors become pages: a lost session leads to the sign-in form, anything refused is
    explained on a page with its status, never as JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                if "\x00" in request.url.path or any("\x00" in v for v in request.query_params.values()):
                    raise InvalidRequest(NUL_REFUSED)
                return await handler(request)
            except SignedOut:
                return redirect(sign_in_url(request))
            except RequestValidationError as exc:
                return _error_page(request, InvalidRequest(_first_problem(exc.errors())))
            except GatewayError as exc:
                return _error_page(request, exc)
            except Exception:
                log.exception("console page failed: %s %s", request.method, request.url.path)
                return _error_page(request, InternalError())

        return page_handler


def _error_page(request: Request, error: GatewayError) -> HTMLResponse:
    viewer = request.scope.get("gateway.viewer")
    response = render(request, "error.html", viewer=viewer, status=error.status, problem=error)
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def _first_problem(errors: Any) -> str:
    first = errors[0] if errors else {}
    field = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
    message = str(first.get("msg", "invalid input")).removeprefix("Value error, ")
    if first.get("type") == "extra_forbidden":
        message = "unknown field"
    return f"{field}: {message}" if field else message


def validated(schema: type[SchemaT], data: Mapping[str, Any]) -> SchemaT:
    """A form's fields checked by the API's own schema (one rule, written once)."""
    try:
        return schema.model_validate(dict(data))
    except ValidationError as exc:
        raise InvalidRequest(_first_problem(exc.errors())) from None


def cookie_token(request: Request) -> str | None:
    return request.cookies.get(COOKIE)


async def current_viewer(request: Request, runtime: RuntimeDep) -> Viewer:
    viewer = await runtime.console.resolve(cookie_token(request))
    if viewer is None:
        raise SignedOut()
    if viewer.principal is not None:
        await guard(request, runtime, viewer.principal)
    request.scope["gateway.viewer"] = viewer
    return viewer


async def guard(request: Request, runtime: Runtime, principal: Principal) -> None:
    """A key's allowlists hold in the console too: a session opened with an address-bound key
    works only from those addresses, and a key bound to a customer's web domain (and so
    visible in their pages) cannot open the console at all."""
    where = lambda: caller(request.scope, runtime)  # noqa: E731 - asked only of restricted keys
    await allowlist.guard(runtime.db, runtime.auditor, principal=principal, caller=where)


async def customer_viewer(viewer: Annotated[Viewer, Depends(current_viewer)]) -> Viewer:
    if viewer.principal is None:
        raise Forbidden("signed in with the admin key, which has no account: the admin pages are under /console/admin")
    return viewer


async def admin_viewer(viewer: Annotated[Viewer, Depends(current_viewer)]) -> Viewer:
    if not viewer.is_admin:
        raise Forbidden("the admin pages need the admin key or an admin user's key")
    return viewer


AnyViewer = Annotated[Viewer, Depends(current_viewer)]
Customer = Annotated[Viewer, Depends(customer_viewer)]
AdminViewer = Annotated[Viewer, Depends(admin_viewer)]


def same_origin(request: Request) -> bool:
    """Browsers send Origin on every POST; one from another site is a forged form."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    sent = urlsplit(origin)
    return sent.netloc == request.headers.get("host", "") and sent.scheme in ("http", "https")


async def form_fields(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (the size limit was applied before)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    try:
        pairs = parse_qsl(body, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        raise InvalidRequest("too many form fields") from None
    if any("\x00" in name or "\x00" in value for name, value in pairs):
        raise InvalidRequest(NUL_REFUSED)
    return dict(pairs)


async def checked_form(request: Request, viewer: Viewer, runtime: Runtime, *, changes: bool = True) -> dict[str, str]:
    """The posted fields, once the post is shown to come from our own page (CSRF token and
    Origin) and the session may change things (a test key's may not)."""
    fields = await form_fields(request)
    if not same_origin(request) or not runtime.console.csrf_valid(viewer, fields.pop(CSRF_FIELD, None)):
        raise Forbidden("this form expired or came from another site: reload the page and try again")
    if changes and viewer.read_only:
        raise Forbidden("signed in with a test key, which is read-only: sign in with a live key to make changes")
    return fields


def set_session_cookie(response: Response, request: Request, runtime: Runtime, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=math.ceil(runtime.settings.console_session_hours * 3600),  # never 0: that deletes it
        path="/console",
        httponly=True,
        samesite="lax",  # strict would sign people out when Stripe's Checkout sends them back
        secure=is_https(request, runtime),
    )


def clear_session_cookie(response: Response, request: Request, runtime: Runtime) -> None:
    response.delete_cookie(COOKIE, path="/console", httponly=True, samesite="lax", secure=is_https(request, runtime))


def is_https(request: Request, runtime: Runtime) -> bool:
    """Served over https, directly or behind a trusted proxy that says so."""
    if request.url.scheme == "https":
        return True
    proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    peer = request.client.host if request.client else None
    return proto == "https" and peer is not None and allowed(peer, runtime.trusted_proxies)


def runtime_of(request: Request) -> Runtime:
    return get_runtime(request)


def form_list(text: str | None) -> list[str]:
    """One entry per line or comma (allowlists, model lists)."""
    if not text:
        return []
    return [item.strip() for item in text.replace(",", "\n").splitlines() if item.strip()]
