"""Each user's Stripe customer (made by the gateway before their first checkout, so every
later event names the user through it), their saved card, and the checkouts they started."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.db.database import Tx


@dataclass(frozen=True, slots=True)
class CustomerRow:
    user_id: str
    customer_id: str
    payment_method: str | None  # a card saved for off-session top-ups
    has_paid: bool


@dataclass(frozen=True, slots=True)
class CheckoutRow:
    session_id: str
    user_id: str
    kind: str  # credits | plan
    amount_cents: int | None
    plan_id: str | None
    save_card: bool


async def of_user(tx: Tx, user_id: str) -> CustomerRow | None:
    row = await tx.fetchrow(
        "SELECT user_id, customer_id, payment_method, has_paid FROM payment_customers WHERE user_id = $1", user_id
    )
    if row is None:
        return None
    return CustomerRow(row["user_id"], row["customer_id"], row["payment_method"], bool(row["has_paid"]))


async def user_of(tx: Tx, customer_id: str) -> str | None:
    found: str | None = await tx.fetchval("SELECT user_id FROM payment_customers WHERE customer_id = $1", customer_id)
    return found


async def insert(tx: Tx, *, user_id: str, customer_id: str, now: float) -> None:
    """The user's customer; a customer made for them before (by another process) stays. Any
    conflict, not only the user's: two first checkouts store the one customer Stripe answered
    both with, and either unique index may be the one that meets the other's row."""
    await tx.execute(
        "INSERT INTO payment_customers (user_id, customer_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        user_id,
        customer_id,
        now,
    )


async def mark_paid(tx: Tx, user_id: str) -> None:
    await tx.execute("UPDATE payment_customers SET has_paid = $2 WHERE user_id = $1", user_id, True)


async def save_card(tx: Tx, *, user_id: str, payment_method: str) -> None:
    await tx.execute("UPDATE payment_customers SET payment_method = $2 WHERE user_id = $1", user_id, payment_method)


async def insert_checkout(tx: Tx, checkout: CheckoutRow, *, now: float) -> None:
    await tx.execute(
        "INSERT INTO checkouts (session_id, user_id, kind, amount_cents, plan_id, save_card, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (session_id) DO NOTHING",
        checkout.session_id,
        checkout.user_id,
        checkout.kind,
        checkout.amount_cents,
        checkout.plan_id,
        checkout.save_card,
        now,
    )


async def checkout(tx: Tx, session_id: str) -> CheckoutRow | None:
    row = await tx.fetchrow(
        "SELECT session_id, user_id, kind, amount_cents, plan_id, save_card FROM checkouts WHERE session_id = $1",
        session_id,
    )
    if row is None:
        return None
    return CheckoutRow(
        row["session_id"], row["user_id"], row["kind"], row["amount_cents"], row["plan_id"], bool(row["save_card"])
    )
