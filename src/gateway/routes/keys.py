"""Customer routes for API keys: create, list, change, rotate, delete, usage, audit trail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from gateway.deps import (
    ConfirmationQuery,
    CurrentKey,
    IdCursor,
    PageAfter,
    PageLimit,
    RuntimeDep,
    current_key,
    unix_time,
)
from gateway.routes.base import GatewayRoute
from gateway.routes.openapi import errors
from gateway.routes.responses import ok
from gateway.schemas.common import ListOf, confirm, page_of
from gateway.schemas.keys import (
    DeleteKeyIn,
    KeyDeletedOut,
    KeyOut,
    KeyUpdateIn,
    KeyUsageOut,
    NewKeyIn,
    NewKeyOut,
)
from gateway.schemas.usage import AuditEntryOut
from gateway.services.keys import manage
from gateway.services.keys.format import Environment
from gateway.services.reports import usage as reports

router = APIRouter(
    prefix="/user/api-keys",
    route_class=GatewayRoute,
    tags=["api keys"],
    dependencies=[Depends(current_key)],
    responses=errors(401, 403),
)
KeyId = Annotated[str, Path(max_length=100)]


@router.post("", status_code=201, response_model=NewKeyOut)
async def create_key(payload: NewKeyIn, principal: CurrentKey, runtime: RuntimeDep) -> Response:
    """A new key, shown in full this once (403 `key_limit_reached` past the plan's max keys)."""
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
    return ok(NewKeyOut.with_secret(created.key, created.api_key), status_code=201)


@router.get("", response_model=ListOf[KeyOut])
async def list_keys(
    principal: CurrentKey,
    runtime: RuntimeDep,
    limit: PageLimit = 20,
    after: PageAfter = None,
    environment_tag: Environment | None = None,
) -> Response:
    found = await manage.list_keys(
        runtime.db, user_id=principal.user_id, limit=limit + 1, after=after, environment=environment_tag
    )
    return ok(page_of([KeyOut.of(k) for k in found], limit=limit))


@router.get("/usage", response_model=ListOf[KeyUsageOut])
async def keys_usage(principal: CurrentKey, runtime: RuntimeDep) -> Response:
    found = await reports.keys_usage(runtime.db, user_id=principal.user_id)
    return ok(ListOf[KeyUsageOut](data=[KeyUsageOut.from_usage(k) for k in found]))


@router.get("/audit-logs", response_model=ListOf[AuditEntryOut])
async def audit_logs(
    *,
    principal: CurrentKey,
    runtime: RuntimeDep,
    limit: PageLimit = 20,
    after: IdCursor = None,
    key_id: Annotated[str | None, Query(max_length=100)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    start: Annotated[float | None, unix_time("Unix time, inclusive")] = None,
    end: Annotated[float | None, unix_time("Unix time, exclusive")] = None,
) -> Response:
    found = await reports.audit_page(
        runtime.db, user_id=principal.user_id, limit=limit + 1, before=after, key_id=key_id, action=action,
        since=start, until=end,
    )  # fmt: skip
    return ok(page_of([AuditEntryOut.of(e) for e in found], limit=limit))


@router.put("/{key_id}", response_model=KeyOut | NewKeyOut | ListOf[NewKeyOut], responses=errors(404))
async def change_key(key_id: KeyId, payload: KeyUpdateIn, principal: CurrentKey, runtime: RuntimeDep) -> Response:
    """`update` answers the key; `rotate` the key with its new secret; `bulk_rotate` a list of them."""
    if payload.action == "update":
        key = await manage.update(
            runtime.db, user_id=principal.user_id, key_id=key_id, changes=payload.changes(),
            auth=runtime.auth, auditor=runtime.auditor,
        )  # fmt: skip
        return ok(KeyOut.of(key))
    rotated = await manage.rotate_for(
        runtime.db, user_id=principal.user_id, key_id=key_id, every=payload.action == "bulk_rotate",
        environment=payload.environment_tag, pepper=runtime.pepper, auth=runtime.auth, auditor=runtime.auditor,
    )  # fmt: skip
    shown = [NewKeyOut.with_secret(r.key, r.api_key) for r in rotated]
    if payload.action == "rotate":
        return ok(shown[0])
    return ok(ListOf[NewKeyOut](data=shown))


@router.delete("/{key_id}", response_model=KeyDeletedOut, responses=errors(404))
async def delete_key(
    key_id: KeyId,
    principal: CurrentKey,
    runtime: RuntimeDep,
    payload: DeleteKeyIn | None = None,
    confirmation: ConfirmationQuery = None,
) -> Response:
    """Delete a key (confirmation `DELETE_KEY`, in the body or as `?confirmation=`)."""
    confirm("DELETE_KEY", query=confirmation, body=payload, to="delete this key")
    await manage.delete(
        runtime.db, user_id=principal.user_id, key_id=key_id, auth=runtime.auth, auditor=runtime.auditor
    )
    return ok(KeyDeletedOut(id=key_id, deleted=True))
