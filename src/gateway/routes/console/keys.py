"""The customer's Keys pages: the list (with the create form), one key's page (edit, rotate,
delete). Each action calls the service routes/keys.py calls; a new or rotated secret is shown
once, in the answer to the post (never in a URL or a redirect)."""

from __future__ import annotations

import time
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from gateway.deps import RuntimeDep
from gateway.errors import GatewayError, NotFound
from gateway.routes.console import key_forms
from gateway.routes.console.web import ConsoleRoute, Customer, checked_form, redirect, render, validated
from gateway.runtime import Runtime
from gateway.schemas.keys import KeyUpdateIn, NewKeyIn
from gateway.services.console.sessions import Viewer
from gateway.services.keys import manage
from gateway.services.keys.authenticate import Principal
from gateway.services.keys.format import ENVIRONMENTS
from gateway.services.keys.manage import Created
from gateway.services.reports import usage as reports

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

PAGE = 20
KeyId = Annotated[str, Path(max_length=100)]
After = Annotated[str | None, Query(max_length=100)]
Done = Annotated[str | None, Query(max_length=20)]
# The only notices a redirect may ask for: the query string names one, never says it.
DONE = {"saved": "Key saved.", "deleted": "Key deleted: it no longer works anywhere."}


def _principal(viewer: Viewer) -> Principal:
    assert viewer.principal is not None  # noqa: S101 - Customer guarantees it
    return viewer.principal


@router.get("/keys")
async def keys_page(request: Request, viewer: Customer, runtime: RuntimeDep, after: After = None,
                    done: Done = None) -> Response:  # fmt: skip
    return await _list_page(request, viewer, runtime, after=after, done=DONE.get(done or ""))


async def _list_page(
    request: Request,
    viewer: Viewer,
    runtime: Runtime,
    *,
    after: str | None = None,
    status: int = 200,
    created: Created | None = None,
    form: dict[str, str] | None = None,
    **notices: str | None,
) -> Response:
    principal = _principal(viewer)
    found = await manage.list_keys(runtime.db, user_id=principal.user_id, limit=PAGE + 1, after=after)
    usage = await reports.keys_usage(runtime.db, user_id=principal.user_id)
    shown = found[:PAGE]
    next_url = f"/console/keys?after={quote(shown[-1].id, safe='')}" if len(found) > PAGE else None
    return render(
        request, "keys.html", viewer=viewer, status=status, lines=key_forms.lines(shown, usage, now=time.time()),
        next_url=next_url, first_page=after is None, created=created, form=form or {"environment_tag": "live"},
        open_create=form is not None, **_form_choices(), **notices,
    )  # fmt: skip


def _form_choices() -> dict[str, Any]:
    return {"environments": ENVIRONMENTS, "rate_fields": key_forms.RATE_FIELDS}


@router.post("/keys")
async def create_key(request: Request, viewer: Customer, runtime: RuntimeDep) -> Response:
    """As POST /user/api-keys: the plan's key count holds (403 key_limit_reached, in place)."""
    fields = await checked_form(request, viewer, runtime)
    principal = _principal(viewer)
    try:
        payload = validated(NewKeyIn, key_forms.new_key_body(fields))
        plan = await runtime.plans.of(principal)
        created = await manage.create(
            runtime.db,
            user_id=principal.user_id,
            name=payload.key_name,
            environment=payload.environment_tag,
            changes=payload.changes(),
            max_keys=plan.max_api_keys,
            pepper=runtime.pepper,
            auditor=runtime.auditor,
        )
    except GatewayError as exc:
        return await _list_page(request, viewer, runtime, status=exc.status, form=fields, error=exc.message)
    return await _list_page(request, viewer, runtime, created=created, done="Key created.")


@router.get("/keys/{key_id}")
async def key_page(request: Request, key_id: KeyId, viewer: Customer, runtime: RuntimeDep,
                   done: Done = None) -> Response:  # fmt: skip
    return await _key_page(request, viewer, runtime, key_id, done=DONE.get(done or ""))


async def _key_page(
    request: Request,
    viewer: Viewer,
    runtime: Runtime,
    key_id: str,
    *,
    status: int = 200,
    rotated: Created | None = None,
    form: dict[str, str] | None = None,
    **notices: str | None,
) -> Response:
    """One of the viewer's keys; another customer's (or a deleted) key is not found."""
    principal = _principal(viewer)
    usage = await reports.keys_usage(runtime.db, user_id=principal.user_id)
    keys = [found.key for found in usage if found.key.id == key_id]
    if not keys:
        raise NotFound("no such API key: it may have been deleted")
    line = key_forms.lines(keys, usage, now=time.time())[0]
    return render(
        request, "key.html", viewer=viewer, status=status, line=line, rotated=rotated,
        form=form if form is not None else key_forms.form_of(line.key), own_key=key_id == principal.key_id,
        **_form_choices(), **notices,
    )  # fmt: skip


@router.post("/keys/{key_id}")
async def edit_key(request: Request, key_id: KeyId, viewer: Customer, runtime: RuntimeDep) -> Response:
    """As PUT /user/api-keys/{id} with action=update, every setting sent (see key_forms)."""
    fields = await checked_form(request, viewer, runtime)
    principal = _principal(viewer)
    try:
        payload = validated(KeyUpdateIn, key_forms.update_body(fields))
        await manage.update(
            runtime.db, user_id=principal.user_id, key_id=key_id, changes=payload.changes(),
            auth=runtime.auth, auditor=runtime.auditor,
        )  # fmt: skip
    except NotFound:
        raise
    except GatewayError as exc:
        return await _key_page(request, viewer, runtime, key_id, status=exc.status, form=fields, error=exc.message)
    return redirect(f"/console/keys/{quote(key_id, safe='')}?done=saved")


@router.post("/keys/{key_id}/rotate")
async def rotate_key(request: Request, key_id: KeyId, viewer: Customer, runtime: RuntimeDep) -> Response:
    """A new secret for the key, shown once; the old one (and its console sessions) die at once."""
    await checked_form(request, viewer, runtime)
    principal = _principal(viewer)
    rotated = await manage.rotate_for(
        runtime.db, user_id=principal.user_id, key_id=key_id, every=False, environment=None,
        pepper=runtime.pepper, auth=runtime.auth, auditor=runtime.auditor,
    )  # fmt: skip
    return await _key_page(request, viewer, runtime, key_id, rotated=rotated[0], done="Key rotated.")


@router.post("/keys/{key_id}/delete")
async def delete_key(request: Request, key_id: KeyId, viewer: Customer, runtime: RuntimeDep) -> Response:
    """As DELETE /user/api-keys/{id}: the page's confirm dialog and its CSRF token stand for
    the API's DELETE_KEY confirmation."""
    await checked_form(request, viewer, runtime)
    principal = _principal(viewer)
    await manage.delete(
        runtime.db, user_id=principal.user_id, key_id=key_id, auth=runtime.auth, auditor=runtime.auditor
    )
    return redirect("/console/keys?done=deleted")
