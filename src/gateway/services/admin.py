"""Admin operations on customers' money."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.db import api_keys, users
from gateway.db.database import Database
from gateway.db.ledger import Balance
from gateway.db.users import UserBalanceRow
from gateway.errors import NotFound
from gateway.services import billing
from gateway.services.ids import new_id
from gateway.services.keys import environment_of, key_hash
from gateway.services.money import Nanos


async def resolve_user(db: Database, *, pepper: bytes, user_id: str | None, api_key: str | None) -> str:
    """The user named by id, or owning a full API key."""
    async with db.read() as tx:
        if api_key is not None:
            found = (
                await api_keys.find_by_hash(tx, key_hash(api_key, pepper))
                if environment_of(api_key)
                else None
            )
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
    user_id: str | None,
    api_key: str | None,
    amount: Nanos,
    reason: str,
    reference: str | None,
) -> tuple[str, Balance]:
    """A top-up (positive) or adjustment (negative), applied once per `reference`."""
    target = await resolve_user(db, pepper=pepper, user_id=user_id, api_key=api_key)
    balance = await billing.credit(
        db,
        user_id=target,
        amount=amount,
        kind="topup" if amount > 0 else "adjustment",
        reference=f"admin:{reference}" if reference else f"admin:{new_id('ref')}",
        description=reason,
    )
    return target, balance


async def list_balances(
    db: Database, *, limit: int, after: str | None, user_id: str | None
) -> tuple[Sequence[UserBalanceRow], dict[str, list[str]]]:
    async with db.read() as tx:
        found = await users.list_with_balances(tx, limit=limit, after=after, user_id=user_id)
        masks = await api_keys.masks_for_users(tx, [row.user.id for row in found])
    return found, masks
