"""Opening an account: a user, a first key, and (through billing) a balance with any signup
credits — one transaction."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

from gateway.db.accounts import users
from gateway.db.accounts.users import UserRow
from gateway.db.database import Database, Tx
from gateway.db.keys import api_keys
from gateway.db.keys.api_keys import KeyPolicy, KeyRow
from gateway.db.plans.plans import FREE_PLAN
from gateway.errors import AlreadyExists
from gateway.ids import new_id
from gateway.services.accounts.profile import check_username, normalise_email
from gateway.services.billing import credits
from gateway.services.billing.balances import Balance
from gateway.services.billing.money import Nanos
from gateway.services.keys import format as keys
from gateway.services.keys.format import Environment


@dataclass(frozen=True, slots=True)
class Registration:
    user: UserRow
    key: KeyRow
    api_key: str
    balance: Balance


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
        user = await users.insert(tx, user_id=new_id("usr"), email=email, username=username, plan_id=FREE_PLAN, now=now)
        key = await api_keys.insert(
            tx, key_id=new_id("key"), user_id=user.id, name="default", environment=environment,
            key_hash=new_key.hash, mask=new_key.mask, policy=KeyPolicy(), now=now,
        )  # fmt: skip
        balance = await credits.open_account(tx, user_id=user.id, signup_credits=signup_credits, now=now)
    return Registration(user=user, key=key, api_key=new_key.secret, balance=balance)


async def _free_username(tx: Tx, email: str) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]", "", email.split("@", 1)[0])[:30] or "user"
    if len(base) < 3:
        base = f"{base}user"
    candidate = base
    while await users.username_taken(tx, candidate):
        candidate = f"{base}-{secrets.token_hex(3)}"
    return candidate
