"""Usage records: one row per forwarded request, whatever its outcome."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.db.database import Row, Tx, where


@dataclass(frozen=True, slots=True)
class UsageRow:
    id: str
    request_id: str
    user_id: str
    key_id: str | None
    environment: str
    model: str
    stream: bool
    outcome: str
    prompt_tokens: int
    completion_tokens: int
    usage_source: str
    reserved: int
    cost: int
    written_off: int
    duration_ms: int
    created_at: float


async def insert(tx: Tx, row: UsageRow) -> None:
    await tx.execute(
        "INSERT INTO usage_records (id, request_id, user_id, key_id, environment, model, stream,"
        " outcome, prompt_tokens, completion_tokens, usage_source, reserved, cost, written_off,"
        " duration_ms, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        row.id,
        row.request_id,
        row.user_id,
        row.key_id,
        row.environment,
        row.model,
        row.stream,
        row.outcome,
        row.prompt_tokens,
        row.completion_tokens,
        row.usage_source,
        row.reserved,
        row.cost,
        row.written_off,
        row.duration_ms,
        row.created_at,
    )


@dataclass(frozen=True, slots=True)
class Totals:
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost: int
    last_at: float | None = None


_TOTALS = (
    "COUNT(*) AS requests, COALESCE(SUM(prompt_tokens), 0) AS prompt_tokens, "
    "COALESCE(SUM(completion_tokens), 0) AS completion_tokens, COALESCE(SUM(cost), 0) AS cost, "
    "MAX(created_at) AS last_at"
)


def _totals(row: Row) -> Totals:
    return Totals(
        int(row["requests"]),
        int(row["prompt_tokens"]),
        int(row["completion_tokens"]),
        int(row["cost"]),
        row["last_at"],
    )


async def spent_by_key(tx: Tx, *, user_id: str, key_id: str) -> int:
    return int(
        await tx.fetchval(
            "SELECT COALESCE(SUM(cost), 0) FROM usage_records WHERE user_id = $1 AND key_id = $2", user_id, key_id
        )
    )


async def totals(tx: Tx, *, user_id: str | None = None, since: float | None = None) -> Totals:
    conditions, args = where(user=("user_id =", user_id), since=("created_at >=", since))
    row = await tx.fetchrow(f"SELECT {_TOTALS} FROM usage_records {conditions}", *args)
    return Totals(0, 0, 0, 0) if row is None else _totals(row)


async def grouped(
    tx: Tx, *, by: str, user_id: str | None = None, since: float | None = None, limit: int = 1000
) -> list[tuple[str, Totals]]:
    """Totals per `by` (key_id, environment, model, user_id or outcome), largest spend first."""
    if by not in ("key_id", "environment", "model", "user_id", "outcome"):
        raise ValueError(by)
    conditions, args = where(user=("user_id =", user_id), since=("created_at >=", since))
    rows = await tx.fetchall(
        f"SELECT {by} AS name, {_TOTALS} FROM usage_records {conditions} "
        f"GROUP BY {by} ORDER BY cost DESC, requests DESC LIMIT ${len(args) + 1}",
        *args,
        limit,
    )
    return [(r["name"], _totals(r)) for r in rows]


async def entries(tx: Tx, *, user_id: str, limit: int, before: str | None = None) -> Sequence[UsageRow]:
    conditions, args = where(user=("user_id =", user_id), before=("id <", before))
    rows = await tx.fetchall(
        f"SELECT * FROM usage_records {conditions} ORDER BY id DESC LIMIT ${len(args) + 1}", *args, limit
    )
    return [_usage(r) for r in rows]


def _usage(row: Row) -> UsageRow:
    return UsageRow(
        id=row["id"],
        request_id=row["request_id"],
        user_id=row["user_id"],
        key_id=row["key_id"],
        environment=row["environment"],
        model=row["model"],
        stream=bool(row["stream"]),
        outcome=row["outcome"],
        prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"],
        usage_source=row["usage_source"],
        reserved=row["reserved"],
        cost=row["cost"],
        written_off=row["written_off"],
        duration_ms=row["duration_ms"],
        created_at=row["created_at"],
    )
