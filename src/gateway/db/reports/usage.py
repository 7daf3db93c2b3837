"""What usage records say: totals, breakdowns and pages (reads only)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.db.billing.usage import UsageRow, read_usage
from gateway.db.database import Row, Tx, where


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
    return [read_usage(r) for r in rows]


@dataclass(frozen=True, slots=True)
class UsageEntry:
    """A usage record with the name and mask its key has now (None without a key, or for a key
    that is not the user's)."""

    usage: UsageRow
    key_name: str | None
    key_mask: str | None


async def search(
    tx: Tx,
    *,
    user_id: str,
    limit: int,
    key_id: str | None = None,
    model: str | None = None,
    since: float | None = None,
    until: float | None = None,
    before: str | None = None,
) -> list[UsageEntry]:
    """The user's records, newest first: created in [since, until), ids below `before`."""
    conditions, args = where(
        user=("r.user_id =", user_id),
        key=("r.key_id =", key_id),
        model=("r.model =", model),
        since=("r.created_at >=", None if since is None else float(since)),
        until=("r.created_at <", None if until is None else float(until)),
        before=("r.id <", before),
    )
    # The key joined on its owner too, so a record can never show another user's key.
    rows = await tx.fetchall(
        "SELECT r.*, k.name AS key_name, k.mask AS key_mask FROM usage_records r "
        f"LEFT JOIN api_keys k ON k.id = r.key_id AND k.user_id = r.user_id {conditions} "
        f"ORDER BY r.id DESC LIMIT ${len(args) + 1}",
        *args,
        limit,
    )
    return [UsageEntry(read_usage(r), r["key_name"], r["key_mask"]) for r in rows]
