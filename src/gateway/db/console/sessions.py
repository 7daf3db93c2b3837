"""Console sessions: stored by the hash of their token, never the token itself."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.db.database import Tx


@dataclass(frozen=True, slots=True)
class SessionRow:
    kind: str  # "key": opened with a customer's (or admin user's) key; "admin": with ADMIN_API_KEY
    key_hash: str
    user_id: str | None
    created_at: float
    expires_at: float


async def insert(
    tx: Tx, *, token_hash: str, kind: str, key_hash: str, user_id: str | None, created_at: float, expires_at: float
) -> None:
    await tx.execute(
        "INSERT INTO console_sessions (token_hash, kind, key_hash, user_id, created_at, expires_at) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        token_hash, kind, key_hash, user_id, created_at, expires_at,
    )  # fmt: skip


async def find(tx: Tx, *, token_hash: str, now: float) -> SessionRow | None:
    row = await tx.fetchrow(
        "SELECT kind, key_hash, user_id, created_at, expires_at FROM console_sessions "
        "WHERE token_hash = $1 AND expires_at > $2",
        token_hash,
        now,
    )
    if row is None:
        return None
    return SessionRow(row["kind"], row["key_hash"], row["user_id"], row["created_at"], row["expires_at"])


async def delete(tx: Tx, *, token_hash: str) -> None:
    await tx.execute("DELETE FROM console_sessions WHERE token_hash = $1", token_hash)


async def delete_for_key(tx: Tx, *, key_hash: str) -> int:
    return await tx.execute("DELETE FROM console_sessions WHERE key_hash = $1", key_hash)


async def delete_for_user(tx: Tx, *, user_id: str) -> int:
    return await tx.execute("DELETE FROM console_sessions WHERE user_id = $1", user_id)


async def delete_expired(tx: Tx, *, now: float) -> int:
    return await tx.execute("DELETE FROM console_sessions WHERE expires_at <= $1", now)
