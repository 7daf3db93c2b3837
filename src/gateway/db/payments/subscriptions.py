"""Stripe subscriptions as the gateway last saw them. Events arrive in any order: a change is
applied only if its event is not older than the last one applied, and an ended subscription
stays ended."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.db.database import Tx


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    subscription_id: str
    user_id: str
    plan_id: str | None
    status: str
    period_end: float | None
    cancel_at_period_end: bool
    ended: bool
    event_created: float


async def get(tx: Tx, subscription_id: str) -> SubscriptionRow | None:
    """The subscription, its row locked until the transaction ends (its events queue)."""
    row = await tx.fetchrow(
        "SELECT subscription_id, user_id, plan_id, status, period_end, cancel_at_period_end, ended, event_created "
        f"FROM subscriptions WHERE subscription_id = $1{tx.for_update}",
        subscription_id,
    )
    if row is None:
        return None
    return SubscriptionRow(
        row["subscription_id"], row["user_id"], row["plan_id"], row["status"], row["period_end"],
        bool(row["cancel_at_period_end"]), bool(row["ended"]), row["event_created"],
    )  # fmt: skip


async def put(tx: Tx, row: SubscriptionRow) -> None:
    await tx.execute(
        "INSERT INTO subscriptions (subscription_id, user_id, plan_id, status, period_end, cancel_at_period_end, "
        "ended, event_created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (subscription_id) DO UPDATE SET "
        "plan_id = excluded.plan_id, status = excluded.status, period_end = excluded.period_end, "
        "cancel_at_period_end = excluded.cancel_at_period_end, ended = excluded.ended, "
        "event_created = excluded.event_created",
        row.subscription_id,
        row.user_id,
        row.plan_id,
        row.status,
        row.period_end,
        row.cancel_at_period_end,
        row.ended,
        row.event_created,
    )


async def running_for(tx: Tx, user_id: str) -> bool:
    """Whether the user has a subscription that has not ended."""
    found = await tx.fetchval("SELECT 1 FROM subscriptions WHERE user_id = $1 AND ended = $2", user_id, False)
    return found is not None
