"""Credits that are not usage, under contention: a deadlock or a reference raced by another
transaction is run again (`database.retrying`), and answers as if it had come second."""

from __future__ import annotations

import asyncio

from gateway.db.database import Database
from gateway.services.audit.chain import Auditor
from gateway.services.billing import credits
from gateway.services.billing.money import Nanos
from tests.conformance.helpers import PEPPER, assert_books_balance, new_user

# Long enough for the credit to be waiting on the other transaction's lock.
_SETTLE = 0.3


async def test_an_admin_credit_and_a_plan_payment_at_once_both_apply(db: Database) -> None:
    """A paid invoice updates the user's row (its plan), then the balance (its credits); an
    admin credit writes the balance and the user's audit chain (which locks the user's row)."""
    user, _ = await new_user(db)
    async with db.transaction() as invoice:
        await invoice.execute("UPDATE users SET plan_expires_at = plan_expires_at WHERE id = $1", user)
        admin_credit = credits.admin_credit(
            db, pepper=PEPPER, auditor=Auditor(b"k" * 32), user_id=user, api_key=None,
            amount=Nanos(700), reason="goodwill", reference="gift-1",
        )  # fmt: skip
        admin = asyncio.create_task(admin_credit)
        await asyncio.sleep(_SETTLE)
        await invoice.execute("UPDATE balances SET credits = credits + 300 WHERE user_id = $1", user)
        await invoice.execute(
            "INSERT INTO ledger (user_id, kind, amount, reference, credits_after, reserved_after, created_at)"
            " SELECT user_id, 'plan_credits', 300, 'period-1', credits, reserved, 0 FROM balances WHERE user_id = $1",
            user,
        )
    target, balance = await admin
    assert target == user
    assert await assert_books_balance(db, user) == (1_000, 0)
    assert balance.credits in (700, 1_000)


async def test_a_credit_caught_in_a_deadlock_is_run_again(db: Database) -> None:
    """Another transaction takes the same reference first, then the balance row the credit
    holds: the database gives one of them up, and the credit answers as the second one."""
    user, _ = await new_user(db)
    async with db.transaction() as other:
        await other.execute(
            "INSERT INTO ledger (user_id, kind, amount, reference, credits_after, reserved_after, created_at)"
            " VALUES ($1, 'topup', 500, 'ref-1', 500, 0, 0)",
            user,
        )
        credit = asyncio.create_task(
            credits.credit(db, user_id=user, amount=Nanos(500), kind="topup", reference="ref-1")
        )
        await asyncio.sleep(_SETTLE)
        await other.execute("UPDATE balances SET credits = credits + 500 WHERE user_id = $1", user)
    balance = await credit
    assert (balance.credits, balance.reserved) == (500, 0)
    assert await assert_books_balance(db, user) == (500, 0)
