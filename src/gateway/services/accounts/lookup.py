"""Finding a customer for an admin: by user id, by email, or by one of their full API keys."""

from __future__ import annotations

from gateway.db.accounts import users
from gateway.db.accounts.users import UserRow
from gateway.db.database import Database, Tx
from gateway.db.keys import api_keys
from gateway.errors import InvalidRequest, NotFound
from gateway.services.accounts.profile import normalise_email
from gateway.services.keys.format import environment_of, key_hash


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


async def user_by_email(db: Database, *, email: str) -> str:
    """The user with this email (compared as stored: trimmed and lower-cased)."""
    async with db.read() as tx:
        found = await users.id_by_email(tx, normalise_email(email))
    if found is None:
        raise NotFound("no user has this email", param="email")
    return found


async def changeable_user(tx: Tx, *, user_id: str) -> UserRow:
    """The user an admin is about to change (role, status), read in the change's transaction:
    404 if there is none; a deleted account is never changed again."""
    user = await users.get(tx, user_id)
    if user is None:
        raise NotFound("no such user", param="user_id")
    if user.status == "deleted":
        raise InvalidRequest("this account was deleted by its owner and cannot be changed", param="user_id")
    return user
