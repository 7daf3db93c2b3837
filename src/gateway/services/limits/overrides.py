"""An admin's rate limits for one user (overriding the plan's) or one key (on top of its
user's): the fields given change, None means no limit. They apply at once, everywhere."""

from __future__ import annotations

from gateway.db.accounts import users
from gateway.db.database import Database
from gateway.db.keys import api_keys
from gateway.errors import NotFound
from gateway.services.accounts.lookup import resolve_user
from gateway.services.audit.chain import Auditor
from gateway.services.keys.authenticate import KeyAuthenticator


async def set_limits(
    db: Database,
    *,
    pepper: bytes,
    auth: KeyAuthenticator,
    auditor: Auditor,
    user_id: str | None,
    api_key: str | None,
    key_id: str | None,
    limits: dict[str, int | None],
) -> tuple[str, str | None, dict[str, int | None]]:
    """Returns (user, key or None, the limits now set)."""
    key_owner = None
    if key_id is not None:
        async with db.read() as tx:
            key_owner = await api_keys.owner_of(tx, key_id)
        if key_owner is None:
            raise NotFound("no such API key", param="key_id")
    target = key_owner or await resolve_user(db, pepper=pepper, user_id=user_id, api_key=api_key)
    async with db.transaction() as tx:
        if key_id is not None:
            merged = {**await api_keys.rate_limits_of(tx, key_id), **limits}
            await api_keys.set_rate_limits(tx, key_id=key_id, limits=merged)
        else:
            user = await users.get(tx, target)
            if user is None:
                raise NotFound("no such user", param="user_id")
            merged = {**user.limit_overrides, **limits}
            await users.set_limit_overrides(tx, user_id=target, overrides=merged)
        await auditor.record(tx, user_id=target, action="limits.changed", actor="admin", key_id=key_id,
                             details={"limits": limits})  # fmt: skip
    await auth.forget_user(target)  # the new limits apply at once, everywhere
    return target, key_id, merged
