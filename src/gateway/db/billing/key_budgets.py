"""A key's own budget, kept on its row: `spend_limit` against `spent` + `held`, and
`max_requests` against `request_count`. Hold stores move `held`, `spent` and `request_count`
as requests come and go; a changed limit restarts the counts from the key's usage records
and requests in flight.
The CHECK constraints `key_spend_within_limit` and `key_request_cap` guard them on the row."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.db.database import Tx


@dataclass(frozen=True, slots=True)
class KeyBudgetRow:
    spend_limit: int | None
    spent: int
    held: int
    max_requests: int | None
    request_count: int


async def budget(tx: Tx, key_id: str, *, for_update: bool = False) -> KeyBudgetRow | None:
    lock = tx.for_update if for_update else ""
    row = await tx.fetchrow(
        f"SELECT spend_limit, spent, held, max_requests, request_count FROM api_keys WHERE id = $1{lock}", key_id
    )
    if row is None:
        return None
    return KeyBudgetRow(row["spend_limit"], row["spent"], row["held"], row["max_requests"], row["request_count"])


# A key's requests: those with a usage record (settled or released), and those in flight (an
# open hold; its usage record comes with its settlement, in the same transaction, so no request
# is in both). Holds released without a record (a dead process's) are not requests any more.
_REQUESTS = (
    "(SELECT COUNT(*) FROM usage_records u WHERE u.user_id = $2 AND u.key_id = $1)"
    " + (SELECT COUNT(*) FROM reservations r WHERE r.user_id = $2 AND r.key_id = $1)"
)
_SPENT = "(SELECT COALESCE(SUM(cost), 0) FROM usage_records u WHERE u.user_id = $2 AND u.key_id = $1)"


async def used(tx: Tx, *, user_id: str, key_id: str) -> tuple[int, int]:
    """(credits charged, requests made) by the key: its usage records, and its requests in flight."""
    row = await tx.fetchrow(f"SELECT {_SPENT} AS spent, {_REQUESTS} AS requests", key_id, user_id)
    return (0, 0) if row is None else (int(row["spent"]), int(row["requests"]))


async def restart_counts(tx: Tx, *, user_id: str, key_id: str) -> None:
    """Counts for a key whose limits changed: what it already used, by its usage records, and
    its requests in flight (one statement, so a settlement of the key lands either before it
    or on top of it)."""
    statement = f"UPDATE api_keys SET spent = {_SPENT}, request_count = {_REQUESTS} WHERE id = $1"
    await tx.execute(statement, key_id, user_id)


async def move_to_spent(tx: Tx, *, key_id: str, held: int, charge: int) -> None:
    """A settlement on the key: what it held for the request ends, `charge` is spent."""
    await tx.execute("UPDATE api_keys SET held = held - $2, spent = spent + $3 WHERE id = $1", key_id, held, charge)
