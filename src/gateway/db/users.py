"""Users and their balance rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.db.database import Row, Tx, where


@dataclass(frozen=True, slots=True)
class UserRow:
    id: str
    email: str
    username: str
    role: str
    status: str
    plan_id: str
    plan_expires_at: float | None
    created_at: float


@dataclass(frozen=True, slots=True)
class UserBalanceRow:
    user: UserRow
    credits: int
    reserved: int


_USER_COLUMNS = "u.id, u.email, u.username, u.role, u.status, u.plan_id, u.plan_expires_at, u.created_at"


def _user(row: Row) -> UserRow:
    return UserRow(
        id=row["id"],
        email=row["email"],
        username=row["username"],
        role=row["role"],
        status=row["status"],
        plan_id=row["plan_id"],
        plan_expires_at=row["plan_expires_at"],
        created_at=row["created_at"],
    )


async def insert(tx: Tx, *, user_id: str, email: str, username: str, plan_id: str, now: float) -> UserRow:
    await tx.execute(
        "INSERT INTO users (id, email, username, plan_id, created_at) VALUES ($1, $2, $3, $4, $5)",
        user_id,
        email,
        username,
        plan_id,
        now,
    )
    await tx.execute("INSERT INTO balances (user_id) VALUES ($1)", user_id)
    return UserRow(user_id, email, username, "customer", "active", plan_id, None, now)


async def get(tx: Tx, user_id: str) -> UserRow | None:
    row = await tx.fetchrow(f"SELECT {_USER_COLUMNS} FROM users u WHERE u.id = $1", user_id)
    return None if row is None else _user(row)


async def email_taken(tx: Tx, email: str) -> bool:
    return await tx.fetchval("SELECT 1 FROM users WHERE email = $1", email) is not None


async def username_taken(tx: Tx, username: str) -> bool:
    return await tx.fetchval("SELECT 1 FROM users WHERE username = $1", username) is not None


async def list_with_balances(
    tx: Tx, *, limit: int, after: str | None, user_id: str | None = None
) -> Sequence[UserBalanceRow]:
    conditions, args = where(after=("u.id >", after), user=("u.id =", user_id))
    rows = await tx.fetchall(
        f"SELECT {_USER_COLUMNS}, b.credits, b.reserved FROM users u "
        f"JOIN balances b ON b.user_id = u.id {conditions} "
        f"ORDER BY u.id LIMIT ${len(args) + 1}",
        *args,
        limit,
    )
    return [UserBalanceRow(_user(r), r["credits"], r["reserved"]) for r in rows]
