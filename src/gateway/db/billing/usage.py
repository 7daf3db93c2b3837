"""Usage records: one row per forwarded request, whatever its outcome — written with the
settlement or release of its hold, in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.db.database import Row, Tx


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


def read_usage(row: Row) -> UsageRow:
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
