"""The audit log: append-only rows, each carrying the MAC that chains it to the previous."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.db.database import Row, Tx, where


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    user_id: str
    seq: int
    action: str
    key_id: str | None
    actor: str
    details: str  # canonical JSON
    created_at: float
    prev_hash: str
    hash: str


def _entry(row: Row) -> AuditRow:
    return AuditRow(
        id=row["id"],
        user_id=row["user_id"],
        seq=row["seq"],
        action=row["action"],
        key_id=row["key_id"],
        actor=row["actor"],
        details=row["details"],
        created_at=row["created_at"],
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


_COLUMNS = "id, user_id, seq, action, key_id, actor, details, created_at, prev_hash, hash"


async def lock_chain(tx: Tx, user_id: str) -> None:
    """Serialise writers of one user's chain by locking the user's row (PostgreSQL). NO KEY:
    requests inserting rows that reference the user (FOR KEY SHARE) never wait for it. On
    SQLite the clause is empty and the SELECT locks nothing: its write transactions already
    exclude each other (BEGIN IMMEDIATE)."""
    await tx.execute(f"SELECT 1 FROM users WHERE id = $1{tx.for_no_key_update}", user_id)


async def last(tx: Tx, user_id: str) -> tuple[int, str] | None:
    """(seq, hash) of the user's newest entry."""
    row = await tx.fetchrow("SELECT seq, hash FROM audit_log WHERE user_id = $1 ORDER BY seq DESC LIMIT 1", user_id)
    return None if row is None else (row["seq"], row["hash"])


async def append(tx: Tx, entry: AuditRow) -> bool:
    """False if another writer took this sequence number first (the caller retries)."""
    inserted = await tx.fetchval(
        "INSERT INTO audit_log (user_id, seq, action, key_id, actor, details, created_at, prev_hash, hash) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (user_id, seq) DO NOTHING RETURNING id",
        entry.user_id,
        entry.seq,
        entry.action,
        entry.key_id,
        entry.actor,
        entry.details,
        entry.created_at,
        entry.prev_hash,
        entry.hash,
    )
    return inserted is not None


async def entries(
    tx: Tx,
    *,
    user_id: str,
    limit: int,
    before: int | None = None,
    key_id: str | None = None,
    action: str | None = None,
    since: float | None = None,
    until: float | None = None,
) -> Sequence[AuditRow]:
    conditions, args = where(
        user=("user_id =", user_id),
        before=("id <", before),
        key=("key_id =", key_id),
        action=("action =", action),
        since=("created_at >=", since),
        until=("created_at <", until),
    )
    rows = await tx.fetchall(
        f"SELECT {_COLUMNS} FROM audit_log {conditions} ORDER BY id DESC LIMIT ${len(args) + 1}", *args, limit
    )
    return [_entry(r) for r in rows]


async def chain(tx: Tx, user_id: str) -> Sequence[AuditRow]:
    rows = await tx.fetchall(f"SELECT {_COLUMNS} FROM audit_log WHERE user_id = $1 ORDER BY seq", user_id)
    return [_entry(r) for r in rows]


async def users_with_entries(tx: Tx) -> list[str]:
    return [r["user_id"] for r in await tx.fetchall("SELECT DISTINCT user_id FROM audit_log ORDER BY user_id")]
