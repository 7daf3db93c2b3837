"""Customers: registration, profile, balance, and closing an account."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, replace

from gateway.db import api_keys, ledger, users
from gateway.db.api_keys import KeyPolicy, KeyRow
from gateway.db.database import Database, Tx
from gateway.db.ledger import Balance
from gateway.db.users import UserRow
from gateway.errors import AlreadyExists, InvalidRequest, NotFound
from gateway.services import keys
from gateway.services.audit import Auditor
from gateway.services.auth import KeyAuthenticator
from gateway.services.ids import new_id
from gateway.services.keys import Environment
from gateway.services.money import MAX_NANOS, Nanos

DEFAULT_PLAN = "free"
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,63}")
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{2,39}")


@dataclass(frozen=True, slots=True)
class Registration:
    user: UserRow
    key: KeyRow
    api_key: str
    balance: Balance


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


async def register(
    db: Database,
    *,
    email: str,
    username: str | None,
    environment: Environment,
    signup_credits: Nanos,
    pepper: bytes,
) -> Registration:
    email = normalise_email(email)
    if username is not None:
        check_username(username)
    new_key = keys.generate(environment, pepper)
    now = time.time()
    async with db.transaction() as tx:
        if await users.email_taken(tx, email):
            raise AlreadyExists("an account with this email already exists", param="email")
        if username is None:
            username = await _free_username(tx, email)
        elif await users.username_taken(tx, username):
            raise AlreadyExists("this username is taken", param="username")
        user = await users.insert(
            tx, user_id=new_id("usr"), email=email, username=username, plan_id=DEFAULT_PLAN, now=now
        )
        key = await api_keys.insert(
            tx, key_id=new_id("key"), user_id=user.id, name="default", environment=environment,
            key_hash=new_key.hash, mask=new_key.mask, policy=KeyPolicy(), now=now,
        )  # fmt: skip
        balance = Balance(0, 0)
        if signup_credits > 0:
            balance = await ledger.add(tx, user_id=user.id, amount=signup_credits, ceiling=MAX_NANOS) or balance
            await ledger.append(
                tx, user_id=user.id, kind="signup", amount=signup_credits,
                reference=f"signup:{user.id}", after=balance, now=now, description="signup credits",
            )  # fmt: skip
    return Registration(user=user, key=key, api_key=new_key.secret, balance=balance)


async def _free_username(tx: Tx, email: str) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]", "", email.split("@", 1)[0])[:30] or "user"
    if len(base) < 3:
        base = f"{base}user"
    candidate = base
    while await users.username_taken(tx, candidate):
        candidate = f"{base}-{secrets.token_hex(3)}"
    return candidate


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
        for key in await api_keys.list_for_user(tx, user_id=user_id, limit=100_000):
            await api_keys.delete(tx, user_id=user_id, key_id=key.id, now=now)
        await users.mark_deleted(tx, user_id=user_id, now=now)
        await auditor.record(tx, user_id=user_id, action="account.deleted", actor="customer")
    await auth.forget_user(user_id)


async def balance_of(db: Database, *, user_id: str) -> Balance:
    async with db.autocommit() as tx:
        found = await ledger.balance(tx, user_id)
    if found is None:
        raise NotFound("no such user")
    return found
