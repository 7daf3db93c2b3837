"""Admin operations on customers' money."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.db import api_keys, users
from gateway.db.database import Database, Tx
from gateway.db.ledger import Balance
from gateway.db.users import UserBalanceRow
from gateway.errors import NotFound
from gateway.services import credits
from gateway.services.audit import Auditor
from gateway.services.auth import KeyAuthenticator
from gateway.services.ids import new_id
from gateway.services.keys import environment_of, key_hash
from gateway.services.money import Nanos, credits_text


async def resolve_user(db: Database, *, pepper: bytes, user_id: str | None, api_key: str | None) -> str:
    """The user named by id, or owning a full API key."""
    async with db.read() as tx:
        if api_key is not None:
            found = await api_keys.find_by_hash(tx, key_hash(api_key, pepper)) if environment_of(api_key) else None
            if found is None:
                raise NotFound("no user has this API key", param="api_key")
            return found.key.user_id
        if user_id is None or await users.get(tx, user_id) is None:
            raise NotFound("no such user", param="user_id")
        return user_id


async def add_credits(
    db: Database,
    *,
    pepper: bytes,
    auditor: Auditor,
    user_id: str | None,
    api_key: str | None,
    amount: Nanos,
    reason: str,
    reference: str | None,
) -> tuple[str, Balance]:
    """A top-up (positive) or adjustment (negative), applied once per `reference`."""
    target = await resolve_user(db, pepper=pepper, user_id=user_id, api_key=api_key)
    full_reference = f"admin:{reference}" if reference else f"admin:{new_id('ref')}"

    async def audited(tx: Tx) -> None:
        details = {"credits": credits_text(amount), "reason": reason, "reference": full_reference}
        await auditor.record(tx, user_id=target, action="credits.changed", actor="admin", details=details)

    balance = await credits.credit(
        db,
        user_id=target,
        amount=amount,
        kind="topup" if amount > 0 else "adjustment",
        reference=full_reference,
        description=reason,
        on_applied=audited,
    )
    return target, balance


async def list_balances(
    db: Database, *, limit: int, after: str | None, user_id: str | None
) -> tuple[Sequence[UserBalanceRow], dict[str, list[str]]]:
    async with db.read() as tx:
        found = await users.list_with_balances(tx, limit=limit, after=after, user_id=user_id)
        masks = await api_keys.masks_for_users(tx, [row.user.id for row in found])
    return found, masks


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
    """Override a user's plan limits, or set one key's own limits (a None value = no limit).
    Returns (user, key or None, the limits now set)."""
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
