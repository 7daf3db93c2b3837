"""Customer routes for API keys: create, list, change, rotate, delete, usage, audit trail."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import Field

from gateway.deps import CurrentKey, IdCursor, PageAfter, PageLimit, RuntimeDep, current_key, unix_time
from gateway.errors import InvalidRequest
from gateway.responses import credits, ok, page
from gateway.routes.base import Body, Count, CreditsIn, GatewayRoute, WholeNumber
from gateway.routes.views import audit_view, key_view, totals_view
from gateway.services.billing.money import parse_credits
from gateway.services.keys import manage as api_keys
from gateway.services.keys.format import Environment
from gateway.services.keys.manage import KeyChanges
from gateway.services.reports import usage as reports

router = APIRouter(
    prefix="/user/api-keys", route_class=GatewayRoute, tags=["api keys"], dependencies=[Depends(current_key)]
)
KeyId = Annotated[str, Path(max_length=100)]


class KeySettings(Body):
    expiration_days: Annotated[int, WholeNumber, Field(ge=1, le=3650)] | None = None
    max_requests: Count | None = None
    spend_limit: CreditsIn | None = None
    ip_allowlist: list[Annotated[str, Field(max_length=64)]] | None = Field(default=None, max_length=100)
    domain_referrers: list[Annotated[str, Field(max_length=253)]] | None = Field(default=None, max_length=100)
    allowed_models: list[Annotated[str, Field(max_length=200)]] | None = Field(default=None, max_length=100)
    rate_limits: dict[str, Count | None] | None = None

    def changes(self) -> KeyChanges:
        """Only the fields the client sent: an omitted field keeps its value, null clears it."""
        given: dict[str, Any] = {name: getattr(self, name) for name in self.model_fields_set}
        if given.get("spend_limit") is not None:
            if given["spend_limit"] < 0:
                raise InvalidRequest("'spend_limit' must not be negative", param="spend_limit")
            given["spend_limit"] = parse_credits(given["spend_limit"])
        if "key_name" in given:
            given["name"] = given.pop("key_name")
        given.pop("action", None)
        given.pop("environment_tag", None)
        return KeyChanges(**given)


class NewKeyIn(KeySettings):
    key_name: str = Field(min_length=1, max_length=100)
    environment_tag: Environment = "live"


class KeyUpdateIn(KeySettings):
    action: Literal["update", "rotate", "bulk_rotate"]
    key_name: str | None = Field(default=None, min_length=1, max_length=100)
    active: bool | None = None
    environment_tag: Environment | None = None  # bulk_rotate: only keys of this environment


class DeleteKeyIn(Body):
    confirmation: str | None = None


@router.post("", status_code=201)
async def create_key(payload: NewKeyIn, principal: CurrentKey, runtime: RuntimeDep) -> Response:
    plan = await runtime.plans.of(principal)
    created = await api_keys.create(
        runtime.db,
        user_id=principal.user_id,
        name=payload.key_name,
        environment=payload.environment_tag,
        changes=payload.changes(),
        max_keys=plan.max_api_keys,
        pepper=runtime.pepper,
        auditor=runtime.auditor,
    )
    return ok({**key_view(created.key), "api_key": created.api_key}, status_code=201)


@router.get("")
async def list_keys(
    principal: CurrentKey,
    runtime: RuntimeDep,
    limit: PageLimit = 20,
    after: PageAfter = None,
    environment_tag: Environment | None = None,
) -> Response:
    found = await api_keys.list_keys(
        runtime.db, user_id=principal.user_id, limit=limit + 1, after=after, environment=environment_tag
    )
    return page([key_view(k) for k in found], limit=limit)


@router.get("/usage")
async def keys_usage(principal: CurrentKey, runtime: RuntimeDep) -> Response:
    data = []
    for found in await reports.keys_usage(runtime.db, user_id=principal.user_id):
        key, budget = found.key, found.budget
        data.append({
            "id": key.id,
            "key_name": key.name,
            "environment_tag": key.environment,
            **totals_view(found.totals),
            "spend_limit": None if budget.spend_limit is None else credits(budget.spend_limit),
            "spend_remaining": None if budget.spend_remaining is None else credits(budget.spend_remaining),
            "max_requests": budget.max_requests,
            "requests_remaining": budget.requests_remaining,
        })  # fmt: skip
    return ok({"object": "list", "data": data, "has_more": False})


@router.get("/audit-logs")
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
    return page([audit_view(e) for e in found], limit=limit)


@router.put("/{key_id}")
async def change_key(key_id: KeyId, payload: KeyUpdateIn, principal: CurrentKey, runtime: RuntimeDep) -> Response:
    if payload.action == "update":
        key = await api_keys.update(
            runtime.db, user_id=principal.user_id, key_id=key_id, changes=payload.changes(),
            auth=runtime.auth, auditor=runtime.auditor,
        )  # fmt: skip
        return ok(key_view(key))
    await api_keys.owned(runtime.db, user_id=principal.user_id, key_id=key_id)  # 404 for another's key
    ids = [key_id]
    if payload.action == "bulk_rotate":
        ids = await api_keys.keys_to_rotate(runtime.db, user_id=principal.user_id, environment=payload.environment_tag)
    rotated = await api_keys.rotate(
        runtime.db, user_id=principal.user_id, key_ids=ids, pepper=runtime.pepper, auth=runtime.auth,
        auditor=runtime.auditor,
    )  # fmt: skip
    views = [{**key_view(r.key), "api_key": r.api_key} for r in rotated]
    if payload.action == "rotate":
        return ok(views[0])
    return ok({"object": "list", "data": views, "has_more": False})


@router.delete("/{key_id}")
async def delete_key(
    key_id: KeyId,
    principal: CurrentKey,
    runtime: RuntimeDep,
    payload: DeleteKeyIn | None = None,
    confirmation: Annotated[str | None, Query(max_length=50)] = None,
) -> Response:
    """Delete a key (confirmation `DELETE_KEY`, in the body or as `?confirmation=`)."""
    given = confirmation or (payload.confirmation if payload else None)
    if given != "DELETE_KEY":
        raise InvalidRequest('send confirmation: "DELETE_KEY" to delete this key', param="confirmation")
    await api_keys.delete(
        runtime.db, user_id=principal.user_id, key_id=key_id, auth=runtime.auth, auditor=runtime.auditor
    )
    return ok({"id": key_id, "deleted": True})
