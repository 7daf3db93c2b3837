from __future__ import annotations

from decimal import Decimal
from typing import Any

from gateway.db.billing import holds as reservations
from gateway.db.billing import ledger
from gateway.db.database import Database
from gateway.services.accounts import signup as accounts
from gateway.services.billing.money import Nanos
from gateway.services.keys.format import hashing_key
from tests.support import Gateway

PEPPER = hashing_key("conformance-secret-" + "x" * 20)


async def new_user(db: Database, email: str = "c@example.com") -> tuple[str, str]:
    """A fresh user and its live key."""
    created = await accounts.register(
        db, email=email, username=None, environment="live", signup_credits=Nanos(0), pepper=PEPPER
    )
    return created.user.id, created.api_key


async def books(db: Database, user_id: str) -> tuple[int, int, int, int]:
    """(credits, reserved, Σ ledger, Σ open reservations)."""
    async with db.read() as tx:
        balance = await ledger.balance(tx, user_id)
        total = await ledger.total(tx, user_id)
        held = await reservations.held_by_user(tx, user_id)
    assert balance is not None
    return balance.credits, balance.reserved, total, held


async def assert_books_balance(db: Database, user_id: str) -> tuple[int, int]:
    credits, reserved, total, held = await books(db, user_id)
    assert credits >= 0 and reserved >= 0
    assert total == credits + reserved, "Σ ledger must equal credits + reserved"
    assert held == reserved, "open reservations must equal the reserved column"
    return credits, reserved


async def balanced_credits(gateway: Gateway, account: dict[str, Any]) -> Decimal:
    """Through the API, the ledger invariant checked: Σ ledger = credits + reserved, nothing
    held when idle, nothing negative. Answers the spendable credits."""
    balance = await gateway.balance(account["api_key"])
    assert balance["credits"] >= 0
    assert balance["reserved"] == 0
    total = await gateway.ledger_total(account["user_id"])
    assert total == (balance["credits"] + balance["reserved"]) * 10**9, "Σ ledger must equal credits + reserved"
    credits: Decimal = balance["credits"]
    return credits
