"""A customer's profile: reading and changing it, and closing the account."""

from __future__ import annotations

import re
import time
from dataclasses import replace

from gateway.db.accounts import users
from gateway.db.accounts.users import UserRow
from gateway.db.database import Database
from gateway.db.keys import api_keys
from gateway.errors import AlreadyExists, InvalidRequest, NotFound
from gateway.services.audit.chain import Auditor
from gateway.services.keys.authenticate import KeyAuthenticator
from gateway.services.payments import closing

_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,63}")
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{2,39}")


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.fullmatch(email):
        raise InvalidRequest("'email' is not a valid email address", param="email")
    return email


def check_username(username: str) -> str:
    if not _USERNAME.fullmatch(username):
        raise InvalidRequest(
            "'username' must be 3-40 letters, digits, '_', '.' or '-', starting with a letter or digit",
            param="username",
        )
    return username


async def profile(db: Database, *, user_id: str) -> UserRow:
    async with db.autocommit() as tx:
        user = await users.get(tx, user_id)
    if user is None:
        raise NotFound("no such user")
    return user


async def update_profile(
    db: Database, *, user_id: str, email: str | None, username: str | None, auditor: Auditor
) -> UserRow:
    async with db.transaction() as tx:
        user = await users.get(tx, user_id)
        if user is None:
            raise NotFound("no such user")
        new_email = normalise_email(email) if email is not None else user.email
        new_username = check_username(username) if username is not None else user.username
        if await users.email_taken(tx, new_email, other_than=user_id):
            raise AlreadyExists("an account with this email already exists", param="email")
        if await users.username_taken(tx, new_username, other_than=user_id):
            raise AlreadyExists("this username is taken", param="username")
        await users.set_profile(tx, user_id=user_id, email=new_email, username=new_username)
        await auditor.record(tx, user_id=user_id, action="profile.updated", actor="customer",
                             details={"email": new_email, "username": new_username})  # fmt: skip
    return replace(user, email=new_email, username=new_username)


async def delete_account(db: Database, *, user_id: str, auth: KeyAuthenticator, auditor: Auditor) -> None:
    """Close the account: every key dies at once; the ledger and usage stay for the books."""
    now = time.time()
    async with db.transaction() as tx:
        await closing.before_closing(tx, user_id=user_id)
        for key in await api_keys.list_for_user(tx, user_id=user_id, limit=100_000):
            await api_keys.delete(tx, user_id=user_id, key_id=key.id, now=now)
        await users.mark_deleted(tx, user_id=user_id, now=now)
        await auditor.record(tx, user_id=user_id, action="account.deleted", actor="customer")
    await auth.forget_user(user_id)
