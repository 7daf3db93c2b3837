"""Users: identity, status, plan and limit overrides (their balance rows belong to billing)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

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
    plan_started_at: float | None = None
    limit_overrides: dict[str, int | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UserBalanceRow:
    user: UserRow
    credits: int
    reserved: int


_USER_COLUMNS = (
    "u.id, u.email, u.username, u.role, u.status, u.plan_id, u.plan_expires_at, u.created_at, "
    "u.plan_started_at, u.limit_overrides"
)


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
        plan_started_at=row["plan_started_at"],
        limit_overrides=json.loads(row["limit_overrides"]),
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
    return UserRow(user_id, email, username, "customer", "active", plan_id, None, now)


async def get(tx: Tx, user_id: str) -> UserRow | None:
    row = await tx.fetchrow(f"SELECT {_USER_COLUMNS} FROM users u WHERE u.id = $1", user_id)
    return None if row is None else _user(row)


async def email_taken(tx: Tx, email: str, *, other_than: str | None = None) -> bool:
    found = await tx.fetchval("SELECT id FROM users WHERE email = $1", email)
    return found is not None and found != other_than


async def id_by_email(tx: Tx, email: str) -> str | None:
    """The user with this (normalised) email, if any."""
    found: str | None = await tx.fetchval("SELECT id FROM users WHERE email = $1", email)
    return found


async def username_taken(tx: Tx, username: str, *, other_than: str | None = None) -> bool:
    found = await tx.fetchval("SELECT id FROM users WHERE username = $1", username)
    return found is not None and found != other_than


async def set_profile(tx: Tx, *, user_id: str, email: str, username: str) -> None:
    await tx.execute("UPDATE users SET email = $2, username = $3 WHERE id = $1", user_id, email, username)


async def set_plan(
    tx: Tx,
    *,
    user_id: str,
    plan_id: str,
    started_at: float,
    expires_at: float | None,
    subscription: str | None = None,
) -> None:
    """Who keeps the plan going: a Stripe `subscription` (its paid invoices), or an admin."""
    await tx.execute(
        "UPDATE users SET plan_id = $2, plan_started_at = $3, plan_expires_at = $4, plan_subscription = $5 "
        "WHERE id = $1",
        user_id,
        plan_id,
        started_at,
        expires_at,
        subscription,
    )


async def switch_plan(tx: Tx, *, user_id: str, plan_id: str) -> None:
    """Another plan for the same period."""
    await tx.execute("UPDATE users SET plan_id = $2 WHERE id = $1", user_id, plan_id)


async def plan_subscription(tx: Tx, user_id: str) -> tuple[str, str | None] | None:
    """(plan, the Stripe subscription that set it — None when an admin did) of the user, the
    row locked until the transaction ends."""
    row = await tx.fetchrow(
        f"SELECT plan_id, plan_subscription FROM users WHERE id = $1{tx.for_no_key_update}", user_id
    )
    return None if row is None else (row["plan_id"], row["plan_subscription"])


async def set_limit_overrides(tx: Tx, *, user_id: str, overrides: dict[str, int | None]) -> None:
    await tx.execute(
        "UPDATE users SET limit_overrides = $2 WHERE id = $1", user_id, json.dumps(overrides, sort_keys=True)
    )


async def set_status(tx: Tx, *, user_id: str, status: str) -> None:
    """'active' or 'suspended' (the schema refuses anything else; 'deleted' is `mark_deleted`)."""
    await tx.execute("UPDATE users SET status = $2 WHERE id = $1", user_id, status)


async def set_role(tx: Tx, *, user_id: str, role: str) -> None:
    """'customer' or 'admin' (the schema refuses anything else)."""
    await tx.execute("UPDATE users SET role = $2 WHERE id = $1", user_id, role)


async def mark_deleted(tx: Tx, *, user_id: str, now: float) -> None:
    await tx.execute("UPDATE users SET status = 'deleted', deleted_at = $2 WHERE id = $1", user_id, now)


async def on_paid_plans(tx: Tx, *, now: float) -> list[tuple[str, str, float]]:
    """(user, plan, period start) of every running paid plan an admin assigned (a Stripe
    subscription's periods are granted by its paid invoices)."""
    rows = await tx.fetchall(
        "SELECT id, plan_id, plan_started_at FROM users WHERE status = 'active' AND plan_subscription IS NULL "
        "AND plan_expires_at IS NOT NULL AND plan_expires_at > $1 AND plan_started_at IS NOT NULL",
        now,
    )
    return [(r["id"], r["plan_id"], r["plan_started_at"]) for r in rows]


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
