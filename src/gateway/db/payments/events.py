"""Webhook events, stored once each (the inbox): what arrived, for whom, and what it did."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.db.database import Row, Tx


@dataclass(frozen=True, slots=True)
class EventRow:
    id: str
    type: str
    user_id: str | None
    amount: int  # nano-credits granted (+) or taken back (-)
    shortfall: int  # what could not be taken back (the balance was too low)
    outcome: str  # applied | ignored | deferred (waits for its payment's credits)
    detail: str | None
    created_at: float  # Stripe's time
    received_at: float


_COLUMNS = "id, type, user_id, amount, shortfall, outcome, detail, created_at, received_at"


def _event(row: Row) -> EventRow:
    return EventRow(
        row["id"], row["type"], row["user_id"], row["amount"], row["shortfall"], row["outcome"], row["detail"],
        row["created_at"], row["received_at"],
    )  # fmt: skip


async def claim(tx: Tx, *, event_id: str, event_type: str, created_at: float, now: float) -> bool:
    """Store the event's id, or find it already stored (False): the transaction that stores it
    applies it. A concurrent delivery of the same event waits here until the first commits."""
    inserted = await tx.fetchval(
        "INSERT INTO stripe_events (id, type, outcome, created_at, received_at) VALUES ($1, $2, 'ignored', $3, $4) "
        "ON CONFLICT (id) DO NOTHING RETURNING id",
        event_id,
        event_type,
        created_at,
        now,
    )
    return inserted is not None


async def record(
    tx: Tx, *, event_id: str, user_id: str | None, amount: int, shortfall: int, outcome: str, detail: str | None
) -> None:
    await tx.execute(
        "UPDATE stripe_events SET user_id = $2, amount = $3, shortfall = $4, outcome = $5, detail = $6 WHERE id = $1",
        event_id,
        user_id,
        amount,
        shortfall,
        outcome,
        detail,
    )


async def known(tx: Tx, event_id: str) -> bool:
    return await tx.fetchval("SELECT 1 FROM stripe_events WHERE id = $1", event_id) is not None


async def page(tx: Tx, *, limit: int, after: str | None) -> Sequence[EventRow]:
    """Newest first; `after` is the last id of the previous page."""
    if after is None:
        rows = await tx.fetchall(
            f"SELECT {_COLUMNS} FROM stripe_events ORDER BY received_at DESC, id DESC LIMIT $1", limit
        )
    else:
        rows = await tx.fetchall(
            f"SELECT {_COLUMNS} FROM stripe_events e WHERE (e.received_at, e.id) < "
            "(SELECT received_at, id FROM stripe_events WHERE id = $1) ORDER BY received_at DESC, id DESC LIMIT $2",
            after,
            limit,
        )
    return [_event(r) for r in rows]


async def defer(
    tx: Tx, *, event_id: str, payment_intent: str, event_type: str, created_at: float, payload: str
) -> None:
    await tx.execute(
        "INSERT INTO deferred_events (event_id, payment_intent, type, created_at, payload) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (event_id) DO NOTHING",
        event_id,
        payment_intent,
        event_type,
        created_at,
        payload,
    )


async def take_deferred(tx: Tx, payment_intent: str) -> list[tuple[str, str, float, str]]:
    """(event id, type, created, payload) of the events waiting for this payment, oldest
    first — taken off the waiting list."""
    rows = await tx.fetchall(
        "DELETE FROM deferred_events WHERE payment_intent = $1 RETURNING event_id, type, created_at, payload",
        payment_intent,
    )
    found = [(r["event_id"], r["type"], r["created_at"], r["payload"]) for r in rows]
    return sorted(found, key=lambda e: (e[2], e[0]))
