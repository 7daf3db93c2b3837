"""API keys: stored by keyed hash, never in the clear, with their policy."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.db.database import Row, Tx, where


@dataclass(frozen=True, slots=True)
class KeyPolicy:
    """What a key may do, beyond its owner's plan. Empty lists mean "no restriction"."""

    expires_at: float | None = None
    spend_limit: int | None = None
    max_requests: int | None = None
    ip_allowlist: tuple[str, ...] = ()
    domain_referrers: tuple[str, ...] = ()
    allowed_models: tuple[str, ...] = ()
    rate_limits: dict[str, int | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class KeyRow:
    id: str
    user_id: str
    name: str
    environment: str
    mask: str
    active: bool
    created_at: float
    rotated_at: float | None
    policy: KeyPolicy
    spent: int = 0
    held: int = 0
    request_count: int = 0


@dataclass(frozen=True, slots=True)
class KeyOwnerRow:
    """A key joined with what authentication needs to know of its owner."""

    key: KeyRow
    user_status: str
    user_role: str
    plan_id: str
    plan_expires_at: float | None
    limit_overrides: dict[str, int | None]


_COLUMNS = (
    "k.id, k.user_id, k.name, k.environment, k.mask, k.active, k.expires_at, k.created_at, "
    "k.rotated_at, k.spend_limit, k.spent, k.held, k.max_requests, k.request_count, k.ip_allowlist, "
    "k.domain_referrers, k.allowed_models, k.rate_limits"
)
_POLICY_COLUMNS = (
    "expires_at",
    "spend_limit",
    "max_requests",
    "ip_allowlist",
    "domain_referrers",
    "allowed_models",
    "rate_limits",
)


def _key(row: Row) -> KeyRow:
    policy = KeyPolicy(
        expires_at=row["expires_at"],
        spend_limit=row["spend_limit"],
        max_requests=row["max_requests"],
        ip_allowlist=tuple(json.loads(row["ip_allowlist"])),
        domain_referrers=tuple(json.loads(row["domain_referrers"])),
        allowed_models=tuple(json.loads(row["allowed_models"])),
        rate_limits=json.loads(row["rate_limits"]),
    )
    return KeyRow(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        environment=row["environment"],
        mask=row["mask"],
        active=bool(row["active"]),
        created_at=row["created_at"],
        rotated_at=row["rotated_at"],
        policy=policy,
        spent=row["spent"],
        held=row["held"],
        request_count=row["request_count"],
    )


def _policy_values(policy: KeyPolicy) -> list[Any]:
    return [
        policy.expires_at,
        policy.spend_limit,
        policy.max_requests,
        json.dumps(list(policy.ip_allowlist)),
        json.dumps(list(policy.domain_referrers)),
        json.dumps(list(policy.allowed_models)),
        json.dumps(policy.rate_limits, sort_keys=True),
    ]


async def insert(
    tx: Tx,
    *,
    key_id: str,
    user_id: str,
    name: str,
    environment: str,
    key_hash: str,
    mask: str,
    policy: KeyPolicy,
    now: float,
) -> KeyRow:
    await tx.execute(
        "INSERT INTO api_keys (id, user_id, name, environment, key_hash, mask, created_at, "
        + ", ".join(_POLICY_COLUMNS)
        + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        key_id,
        user_id,
        name,
        environment,
        key_hash,
        mask,
        now,
        *_policy_values(policy),
    )
    return KeyRow(key_id, user_id, name, environment, mask, True, now, None, policy)


async def find_by_hash(tx: Tx, key_hash: str) -> KeyOwnerRow | None:
    row = await tx.fetchrow(
        f"SELECT {_COLUMNS}, u.status AS user_status, u.role AS user_role, u.plan_id, "
        "u.plan_expires_at, u.limit_overrides FROM api_keys k JOIN users u ON u.id = k.user_id "
        "WHERE k.key_hash = $1 AND k.deleted_at IS NULL",
        key_hash,
    )
    if row is None:
        return None
    return KeyOwnerRow(
        key=_key(row),
        user_status=row["user_status"],
        user_role=row["user_role"],
        plan_id=row["plan_id"],
        plan_expires_at=row["plan_expires_at"],
        limit_overrides=json.loads(row["limit_overrides"]),
    )


async def get(tx: Tx, *, user_id: str, key_id: str) -> KeyRow | None:
    """One of the user's live keys (never another user's)."""
    row = await tx.fetchrow(
        f"SELECT {_COLUMNS} FROM api_keys k WHERE k.id = $1 AND k.user_id = $2 AND k.deleted_at IS NULL",
        key_id,
        user_id,
    )
    return None if row is None else _key(row)


async def hash_of(tx: Tx, *, user_id: str, key_id: str) -> str | None:
    found: str | None = await tx.fetchval(
        "SELECT key_hash FROM api_keys WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL", key_id, user_id
    )
    return found


async def list_for_user(
    tx: Tx, *, user_id: str, limit: int, after: str | None = None, environment: str | None = None
) -> Sequence[KeyRow]:
    conditions, args = where(
        "k.deleted_at IS NULL",
        user=("k.user_id =", user_id),
        after=("k.id >", after),
        environment=("k.environment =", environment),
    )
    rows = await tx.fetchall(
        f"SELECT {_COLUMNS} FROM api_keys k {conditions} ORDER BY k.id LIMIT ${len(args) + 1}",
        *args,
        limit,
    )
    return [_key(r) for r in rows]


async def count_live(tx: Tx, user_id: str) -> int:
    return int(await tx.fetchval("SELECT COUNT(*) FROM api_keys WHERE user_id = $1 AND deleted_at IS NULL", user_id))


async def update(tx: Tx, *, key_id: str, name: str, active: bool, policy: KeyPolicy) -> None:
    """New settings (what the key used so far is billing's: `billing.key_budgets`)."""
    assignments = ", ".join(f"{column} = ${n}" for n, column in enumerate(_POLICY_COLUMNS, start=4))
    await tx.execute(
        f"UPDATE api_keys SET name = $2, active = $3, {assignments} WHERE id = $1",
        key_id,
        name,
        active,
        *_policy_values(policy),
    )


async def rotate(tx: Tx, *, key_id: str, key_hash: str, mask: str, now: float) -> str:
    """A new secret for the same key; returns the old secret's hash."""
    old: str = await tx.fetchval("SELECT key_hash FROM api_keys WHERE id = $1", key_id)
    await tx.execute(
        "UPDATE api_keys SET key_hash = $2, mask = $3, rotated_at = $4 WHERE id = $1", key_id, key_hash, mask, now
    )
    return old


async def delete(tx: Tx, *, user_id: str, key_id: str, now: float) -> str | None:
    """Soft-delete one of the user's keys (kept for the books); its hash, or None if no such key."""
    deleted: str | None = await tx.fetchval(
        "UPDATE api_keys SET deleted_at = $3, active = $4 "
        "WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL RETURNING key_hash",
        key_id,
        user_id,
        now,
        False,
    )
    return deleted


async def masks_for_users(tx: Tx, user_ids: Sequence[str]) -> dict[str, list[str]]:
    """Masked keys per user, for admin listings."""
    masks: dict[str, list[str]] = {user_id: [] for user_id in user_ids}
    for user_id in user_ids:
        for row in await tx.fetchall(
            "SELECT mask FROM api_keys WHERE user_id = $1 AND deleted_at IS NULL ORDER BY id", user_id
        ):
            masks[user_id].append(row["mask"])
    return masks


async def owner_of(tx: Tx, key_id: str) -> str | None:
    owner: str | None = await tx.fetchval("SELECT user_id FROM api_keys WHERE id = $1 AND deleted_at IS NULL", key_id)
    return owner


async def rate_limits_of(tx: Tx, key_id: str) -> dict[str, int | None]:
    raw = await tx.fetchval("SELECT rate_limits FROM api_keys WHERE id = $1", key_id)
    return dict(json.loads(raw)) if raw else {}


async def set_rate_limits(tx: Tx, *, key_id: str, limits: dict[str, int | None]) -> None:
    await tx.execute("UPDATE api_keys SET rate_limits = $2 WHERE id = $1", key_id, json.dumps(limits, sort_keys=True))
