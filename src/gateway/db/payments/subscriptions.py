"""Stripe subscriptions as the gateway last saw them. Events arrive in any order: a change is
applied only if its event is not older than the last one applied, and an ended subscription
stays ended."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.db.database import Tx

# A subscription in these states has ended for good (Stripe moves an `unpaid` one back to
# `active` once its invoice is paid).
TERMINAL = ("canceled", "incomplete_expired")


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    subscription_id: str
    user_id: str
    plan_id: str | None
    status: str
    period_end: float | None
    cancel_at_period_end: bool
    event_created: float

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL


async def get(tx: Tx, subscription_id: str) -> SubscriptionRow | None:
    """The subscription, its events queued one at a time until the transaction ends (even
    before it has a row: two first events of one subscription must not both insert it)."""
    await tx.lock(f"subscription:{subscription_id}")
    row = await tx.fetchrow(
        "SELECT subscription_id, user_id, plan_id, status, period_end, cancel_at_period_end, event_created "
        f"FROM subscriptions WHERE subscription_id = $1{tx.for_update}",
        subscription_id,
    )
    if row is None:
        return None
    return SubscriptionRow(
        row["subscription_id"], row["user_id"], row["plan_id"], row["status"], row["period_end"],
        bool(row["cancel_at_period_end"]), row["event_created"],
    )  # fmt: skip


async def put(tx: Tx, row: SubscriptionRow) -> None:
    await tx.execute(
        "INSERT INTO subscriptions (subscription_id, user_id, plan_id, status, period_end, cancel_at_period_end, "
        "event_created) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (subscription_id) DO UPDATE SET "
        "plan_id = excluded.plan_id, status = excluded.status, period_end = excluded.period_end, "
        "cancel_at_period_end = excluded.cancel_at_period_end, event_created = excluded.event_created",
        row.subscription_id,
        row.user_id,
        row.plan_id,
        row.status,
        row.period_end,
        row.cancel_at_period_end,
        row.event_created,
    )


async def running_for(tx: Tx, user_id: str) -> bool:
    """Whether the user has a subscription that has not ended."""
    found = await tx.fetchval(
        "SELECT 1 FROM subscriptions WHERE user_id = $1 AND status NOT IN ($2, $3)", user_id, *TERMINAL
    )
    return found is not None
