"""Customers and their keys: registration, key creation and listing, balances."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.db import api_keys, ledger, users
from gateway.db.api_keys import KeyRow
from gateway.db.database import Database, Tx
from gateway.db.ledger import Balance
from gateway.db.users import UserRow
from gateway.errors import AlreadyExists, InvalidRequest, NotFound
from gateway.services import keys
from gateway.services.auth import KeyAuthenticator
from gateway.services.ids import new_id
from gateway.services.keys import Environment
from gateway.services.money import Nanos

DEFAULT_PLAN = "free"
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,63}")
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{2,39}")
SECONDS_PER_DAY = 86_400


@dataclass(frozen=True, slots=True)
class Registration:
    user: UserRow
    key: KeyRow
    api_key: str
    balance: Balance


@dataclass(frozen=True, slots=True)
class CreatedKey:
    key: KeyRow
    api_key: str


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.fullmatch(email):
        raise InvalidRequest("'email' is not a valid email address", param="email")
    return email


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
    if username is not None and not _USERNAME.fullmatch(username):
        raise InvalidRequest(
            "'username' must be 3-40 letters, digits, '_', '.' or '-', starting with a letter or digit",
            param="username",
        )
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
            tx,
            key_id=new_id("key"),
            user_id=user.id,
            name="default",
            environment=environment,
            key_hash=new_key.hash,
            mask=new_key.mask,
            expires_at=None,
            now=now,
        )
        balance = Balance(0, 0)
        if signup_credits > 0:
            balance = await ledger.add(tx, user_id=user.id, amount=signup_credits) or balance
            await ledger.append(
                tx,
                user_id=user.id,
                kind="signup",
                amount=signup_credits,
                reference=f"signup:{user.id}",
                after=balance,
                now=now,
                description="signup credits",
            )
    return Registration(user=user, key=key, api_key=new_key.secret, balance=balance)


async def _free_username(tx: Tx, email: str) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]", "", email.split("@", 1)[0])[:30] or "user"
    if len(base) < 3:
        base = f"{base}user"
    candidate = base
    while await users.username_taken(tx, candidate):
        candidate = f"{base}-{secrets.token_hex(3)}"
    return candidate


async def create_key(
    db: Database,
    *,
    user_id: str,
    name: str,
    environment: Environment,
    expiration_days: int | None,
    pepper: bytes,
) -> CreatedKey:
    new_key = keys.generate(environment, pepper)
    now = time.time()
    expires_at = now + expiration_days * SECONDS_PER_DAY if expiration_days else None
    async with db.transaction() as tx:
        key = await api_keys.insert(
            tx,
            key_id=new_id("key"),
            user_id=user_id,
            name=name,
            environment=environment,
            key_hash=new_key.hash,
            mask=new_key.mask,
            expires_at=expires_at,
            now=now,
        )
    return CreatedKey(key=key, api_key=new_key.secret)


async def list_keys(db: Database, *, user_id: str, limit: int, after: str | None) -> Sequence[KeyRow]:
    async with db.read() as tx:
        return await api_keys.list_for_user(tx, user_id=user_id, limit=limit, after=after)


async def balance_of(db: Database, *, user_id: str) -> Balance:
    async with db.autocommit() as tx:
        found = await ledger.balance(tx, user_id)
    if found is None:
        raise NotFound("no such user")
    return found


async def delete_key(db: Database, *, user_id: str, key_id: str, auth: KeyAuthenticator) -> None:
    """Delete a key; it stops working at once, on every process. Another user's key is 404."""
    async with db.transaction() as tx:
        key_hash = await api_keys.delete(tx, user_id=user_id, key_id=key_id, now=time.time())
    if key_hash is None:
        raise NotFound("no such API key", param="key_id")
    await auth.forget(key_hash)
