"""API keys: stored by keyed hash, never in the clear."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.db.database import Row, Tx, where


@dataclass(frozen=True, slots=True)
class KeyRow:
    id: str
    user_id: str
    name: str
    environment: str
    mask: str
    active: bool
    expires_at: float | None
    created_at: float
    rotated_at: float | None


@dataclass(frozen=True, slots=True)
class KeyOwnerRow:
    """A key joined with what authentication needs to know of its owner."""

    key: KeyRow
    user_status: str
    user_role: str
    plan_id: str


_COLUMNS = (
    "k.id, k.user_id, k.name, k.environment, k.mask, k.active, k.expires_at, k.created_at, k.rotated_at"
)


def _key(row: Row) -> KeyRow:
    return KeyRow(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        environment=row["environment"],
        mask=row["mask"],
        active=bool(row["active"]),
        expires_at=row["expires_at"],
        created_at=row["created_at"],
        rotated_at=row["rotated_at"],
    )


async def insert(
    tx: Tx,
    *,
    key_id: str,
    user_id: str,
    name: str,
    environment: str,
    key_hash: str,
    mask: str,
    expires_at: float | None,
    now: float,
) -> KeyRow:
    await tx.execute(
        "INSERT INTO api_keys (id, user_id, name, environment, key_hash, mask, expires_at,"
        " created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        key_id,
        user_id,
        name,
        environment,
        key_hash,
        mask,
        expires_at,
        now,
    )
    return KeyRow(key_id, user_id, name, environment, mask, True, expires_at, now, None)


async def find_by_hash(tx: Tx, key_hash: str) -> KeyOwnerRow | None:
    row = await tx.fetchrow(
        f"SELECT {_COLUMNS}, u.status AS user_status, u.role AS user_role, u.plan_id "
        "FROM api_keys k JOIN users u ON u.id = k.user_id "
        "WHERE k.key_hash = $1 AND k.deleted_at IS NULL",
        key_hash,
    )
    if row is None:
        return None
    return KeyOwnerRow(_key(row), row["user_status"], row["user_role"], row["plan_id"])


async def get(tx: Tx, key_id: str) -> KeyRow | None:
    row = await tx.fetchrow(
        f"SELECT {_COLUMNS} FROM api_keys k WHERE k.id = $1 AND k.deleted_at IS NULL", key_id
    )
    return None if row is None else _key(row)


async def list_for_user(tx: Tx, *, user_id: str, limit: int, after: str | None = None) -> Sequence[KeyRow]:
    conditions, args = where("k.deleted_at IS NULL", user=("k.user_id =", user_id), after=("k.id >", after))
    rows = await tx.fetchall(
        f"SELECT {_COLUMNS} FROM api_keys k {conditions} ORDER BY k.id LIMIT ${len(args) + 1}",
        *args,
        limit,
    )
    return [_key(r) for r in rows]


async def masks_for_users(tx: Tx, user_ids: Sequence[str]) -> dict[str, list[str]]:
    """Masked keys per user, for admin listings."""
    masks: dict[str, list[str]] = {user_id: [] for user_id in user_ids}
    for user_id in user_ids:
        for row in await tx.fetchall(
            "SELECT mask FROM api_keys WHERE user_id = $1 AND deleted_at IS NULL ORDER BY id",
            user_id,
        ):
            masks[user_id].append(row["mask"])
    return masks


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
