"""Customer routes (Bearer key): balance and API keys. The whole router requires a key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import Field

from gateway.db.api_keys import KeyRow
from gateway.deps import CurrentKey, PageAfter, PageLimit, RuntimeDep, current_key
from gateway.errors import InvalidRequest
from gateway.responses import credits, ok, page
from gateway.routes.base import Body, GatewayRoute
from gateway.services import accounts
from gateway.services.keys import Environment

router = APIRouter(
    prefix="/user", route_class=GatewayRoute, tags=["customer"], dependencies=[Depends(current_key)]
)


def key_view(key: KeyRow) -> dict[str, Any]:
    return {
        "id": key.id,
        "key_name": key.name,
        "api_key": key.mask,
        "environment_tag": key.environment,
        "active": key.active,
        "expires_at": key.expires_at,
        "created_at": key.created_at,
        "rotated_at": key.rotated_at,
    }


class NewKeyIn(Body):
    key_name: str = Field(min_length=1, max_length=100)
    environment_tag: Environment = "live"
    expiration_days: int | None = Field(default=None, ge=1, le=3650)


@router.get("/balance")
async def balance(principal: CurrentKey, runtime: RuntimeDep) -> Response:
    found = await accounts.balance_of(runtime.db, user_id=principal.user_id)
    return ok(
        {
            "user_id": principal.user_id,
            "api_key": principal.mask,
            "credits": credits(found.credits),
            "reserved": credits(found.reserved),
            "status": principal.user_status,
        }
    )


@router.get("/api-keys")
async def list_keys(
    principal: CurrentKey, runtime: RuntimeDep, limit: PageLimit = 20, after: PageAfter = None
) -> Response:
    found = await accounts.list_keys(runtime.db, user_id=principal.user_id, limit=limit + 1, after=after)
    return page([key_view(k) for k in found], limit=limit)


@router.post("/api-keys", status_code=201)
async def create_key(payload: NewKeyIn, principal: CurrentKey, runtime: RuntimeDep) -> Response:
    created = await accounts.create_key(
        runtime.db,
        user_id=principal.user_id,
        name=payload.key_name,
        environment=payload.environment_tag,
        expiration_days=payload.expiration_days,
        pepper=runtime.pepper,
    )
    return ok({**key_view(created.key), "api_key": created.api_key}, status_code=201)


class DeleteKeyIn(Body):
    confirmation: str | None = None


@router.delete("/api-keys/{key_id}")
async def delete_key(
    key_id: Annotated[str, Path(max_length=100)],
    principal: CurrentKey,
    runtime: RuntimeDep,
    payload: DeleteKeyIn | None = None,
    confirmation: Annotated[str | None, Query(max_length=50)] = None,
) -> Response:
    """Delete a key (confirmation `DELETE_KEY`, in the body or as `?confirmation=`)."""
    given = confirmation or (payload.confirmation if payload else None)
    if given != "DELETE_KEY":
        raise InvalidRequest('send confirmation: "DELETE_KEY" to delete this key', param="confirmation")
    await accounts.delete_key(runtime.db, user_id=principal.user_id, key_id=key_id, auth=runtime.auth)
    return ok({"id": key_id, "deleted": True})
