"""Top-ups (each paid Checkout or auto top-up, by its PaymentIntent: refunds and disputes are
matched to them), and each user's auto top-up settings with the one payment in flight."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.db.database import Row, Tx


@dataclass(frozen=True, slots=True)
class TopUpRow:
    payment_intent: str
    user_id: str
    source: str  # checkout | auto
    amount_cents: int  # collected
    granted: int  # nano-credits granted for it
    refunded_cents: int  # the charge's `amount_refunded` as last seen
    refund_taken: int  # nano-credits taken back for refunds (shortfalls included)
    dispute_taken: int  # nano-credits a dispute actually took back
    dispute_status: str | None  # lost | won
    dispute_id: str | None  # the dispute that status is of


@dataclass(frozen=True, slots=True)
class AutoTopUpRow:
    user_id: str
    enabled: bool
    threshold: int  # nano-credits
    amount_cents: int
    disabled_reason: str | None
    attempt_id: str | None  # the payment in flight, if any
    attempt_started_at: float | None
    payment_intent: str | None
    last_outcome: str | None


_TOPUP = ", ".join((
    "payment_intent", "user_id", "source", "amount_cents", "granted", "refunded_cents", "refund_taken",
    "dispute_taken", "dispute_status", "dispute_id",
))  # fmt: skip
_AUTO = ", ".join((
    "user_id", "enabled", "threshold", "amount_cents", "disabled_reason", "attempt_id", "attempt_started_at",
    "payment_intent", "last_outcome",
))  # fmt: skip


def _topup(row: Row) -> TopUpRow:
    return TopUpRow(
        row["payment_intent"], row["user_id"], row["source"], row["amount_cents"], row["granted"],
        row["refunded_cents"], row["refund_taken"], row["dispute_taken"], row["dispute_status"], row["dispute_id"],
    )  # fmt: skip


def _auto(row: Row) -> AutoTopUpRow:
    return AutoTopUpRow(
        row["user_id"], bool(row["enabled"]), row["threshold"], row["amount_cents"], row["disabled_reason"],
        row["attempt_id"], row["attempt_started_at"], row["payment_intent"], row["last_outcome"],
    )  # fmt: skip


async def lock(tx: Tx, payment_intent: str) -> None:
    """One writer per payment until the transaction ends, whether or not it has a row yet."""
    await tx.lock(f"topup:{payment_intent}")


async def insert(
    tx: Tx, *, payment_intent: str, user_id: str, source: str, amount_cents: int, granted: int, now: float
) -> None:
    """Record a paid top-up (once: a payment recorded already stays as it is)."""
    await tx.execute(
        "INSERT INTO topups (payment_intent, user_id, source, amount_cents, granted, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (payment_intent) DO NOTHING",
        payment_intent,
        user_id,
        source,
        amount_cents,
        granted,
        now,
    )


async def get(tx: Tx, payment_intent: str) -> TopUpRow | None:
    """The top-up, its row locked until the transaction ends (refunds of one payment queue)."""
    row = await tx.fetchrow(f"SELECT {_TOPUP} FROM topups WHERE payment_intent = $1{tx.for_update}", payment_intent)
    return None if row is None else _topup(row)


async def set_refunded(tx: Tx, *, payment_intent: str, refunded_cents: int, refund_taken: int) -> None:
    await tx.execute(
        "UPDATE topups SET refunded_cents = $2, refund_taken = $3 WHERE payment_intent = $1",
        payment_intent,
        refunded_cents,
        refund_taken,
    )


async def set_dispute(tx: Tx, *, payment_intent: str, dispute_id: str, status: str, taken: int) -> None:
    await tx.execute(
        "UPDATE topups SET dispute_status = $2, dispute_taken = $3, dispute_id = $4 WHERE payment_intent = $1",
        payment_intent,
        status,
        taken,
        dispute_id,
    )


async def auto_count_since(tx: Tx, *, user_id: str, since: float) -> int:
    """How many auto top-ups the user paid since `since`."""
    found = await tx.fetchval(
        "SELECT COUNT(*) FROM topups WHERE user_id = $1 AND source = 'auto' AND created_at >= $2", user_id, since
    )
    return int(found)


async def auto_settings(tx: Tx, user_id: str) -> AutoTopUpRow | None:
    row = await tx.fetchrow(f"SELECT {_AUTO} FROM auto_topups WHERE user_id = $1", user_id)
    return None if row is None else _auto(row)


async def enabled_thresholds(tx: Tx) -> dict[str, int]:
    """user → threshold, for every user whose auto top-up is on."""
    rows = await tx.fetchall("SELECT user_id, threshold FROM auto_topups WHERE enabled = $1", True)
    return {r["user_id"]: r["threshold"] for r in rows}


async def put_settings(tx: Tx, *, user_id: str, enabled: bool, threshold: int, amount_cents: int, now: float) -> None:
    """New settings; turning it on clears why it was turned off."""
    await tx.execute(
        "INSERT INTO auto_topups (user_id, enabled, threshold, amount_cents, updated_at) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (user_id) DO UPDATE SET enabled = excluded.enabled, threshold = excluded.threshold, "
        "amount_cents = excluded.amount_cents, updated_at = excluded.updated_at, "
        "disabled_reason = CASE WHEN excluded.enabled THEN NULL ELSE auto_topups.disabled_reason END",
        user_id,
        enabled,
        threshold,
        amount_cents,
        now,
    )


async def claim_attempt(tx: Tx, *, user_id: str, attempt_id: str, now: float) -> bool:
    """Start a payment for the user — unless one is in flight (one at a time, across every
    process: the condition is part of the write) or auto top-up is off."""
    changed = await tx.execute(
        "UPDATE auto_topups SET attempt_id = $2, attempt_started_at = $3, payment_intent = NULL "
        "WHERE user_id = $1 AND enabled = $4 AND attempt_id IS NULL",
        user_id,
        attempt_id,
        now,
        True,
    )
    return changed == 1


async def attempt_sent(tx: Tx, *, user_id: str, attempt_id: str, payment_intent: str) -> None:
    await tx.execute(
        "UPDATE auto_topups SET payment_intent = $3 WHERE user_id = $1 AND attempt_id = $2",
        user_id,
        attempt_id,
        payment_intent,
    )


async def end_attempt(
    tx: Tx, *, user_id: str, attempt_id: str | None, outcome: str, disable_because: str | None = None
) -> None:
    """The payment in flight (`attempt_id`, or whichever) is over: succeeded, declined, failed.
    A decline turns auto top-up off, saying why."""
    sets, where, args = "attempt_id = NULL, attempt_started_at = NULL, last_outcome = $2", "user_id = $1", [
        user_id, outcome,
    ]  # fmt: skip
    if disable_because is not None:
        args.append(disable_because)
        sets += f", enabled = FALSE, disabled_reason = ${len(args)}"
    if attempt_id is not None:
        args.append(attempt_id)
        where += f" AND attempt_id = ${len(args)}"
    await tx.execute(f"UPDATE auto_topups SET {sets} WHERE {where}", *args)


async def user_of_attempt(tx: Tx, *, payment_intent: str, attempt_id: str | None) -> str | None:
    """Whose auto top-up made this payment: by its PaymentIntent, or — if its event came before
    the gateway stored that — by the attempt id the gateway gave it."""
    found: str | None = await tx.fetchval(
        "SELECT user_id FROM auto_topups WHERE payment_intent = $1 OR attempt_id = $2 "
        "ORDER BY payment_intent = $1 DESC LIMIT 1",
        payment_intent,
        attempt_id,
    )
    return found


async def switch_off(tx: Tx, *, user_id: str, reason: str, now: float) -> None:
    await tx.execute(
        "UPDATE auto_topups SET enabled = $2, disabled_reason = $3, updated_at = $4 WHERE user_id = $1",
        user_id,
        False,
        reason,
        now,
    )
