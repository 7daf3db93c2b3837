"""Ledger and balances: exact, idempotent, append-only, never negative."""

import pytest

from gateway.db.database import Database
from gateway.errors import InvalidRequest, NotFound, ReferenceConflict
from gateway.services.billing import credits
from gateway.services.billing.money import Nanos
from tests.conformance.helpers import assert_books_balance, new_user


async def test_credit_is_applied_once_per_reference(db: Database) -> None:
    user, _ = await new_user(db)
    first = await credits.credit(db, user_id=user, amount=Nanos(5_000), kind="topup", reference="r1")
    await credits.credit(db, user_id=user, amount=Nanos(1), kind="topup", reference="r2")
    again = await credits.credit(db, user_id=user, amount=Nanos(5_000), kind="topup", reference="r1")
    assert again == first
    assert await assert_books_balance(db, user) == (5_001, 0)


async def test_reference_conflicts(db: Database) -> None:
    user, _ = await new_user(db)
    other, _ = await new_user(db, "d@example.com")
    await credits.credit(db, user_id=user, amount=Nanos(5), kind="topup", reference="r1")
    with pytest.raises(ReferenceConflict):
        await credits.credit(db, user_id=user, amount=Nanos(6), kind="topup", reference="r1")
    with pytest.raises(ReferenceConflict):
        await credits.credit(db, user_id=other, amount=Nanos(5), kind="topup", reference="r1")


async def test_adjustments_cannot_go_below_zero(db: Database) -> None:
    user, _ = await new_user(db)
    await credits.credit(db, user_id=user, amount=Nanos(100), kind="topup", reference="r1")
    with pytest.raises(InvalidRequest):
        await credits.credit(db, user_id=user, amount=Nanos(-101), kind="adjustment", reference="r2")
    await credits.credit(db, user_id=user, amount=Nanos(-100), kind="adjustment", reference="r3")
    assert await assert_books_balance(db, user) == (0, 0)


async def test_unknown_user(db: Database) -> None:
    with pytest.raises(NotFound):
        await credits.credit(db, user_id="usr_none", amount=Nanos(-1), kind="adjustment", reference="r")


async def test_the_ledger_is_append_only(db: Database) -> None:
    user, _ = await new_user(db)
    await credits.credit(db, user_id=user, amount=Nanos(100), kind="topup", reference="r1")
    for statement in ("UPDATE ledger SET amount = 1000000", "DELETE FROM ledger"):
        with pytest.raises(Exception, match="append-only"):
            async with db.transaction() as tx:
                await tx.execute(statement)
    assert await assert_books_balance(db, user) == (100, 0)
