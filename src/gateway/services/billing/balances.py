"""What the books say, for the other packages (reads only): a balance, the ledger's pages,
what all holds add up to, and what a key used."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.db.billing import holds, key_budgets, ledger
from gateway.db.billing.ledger import Balance, LedgerRow
from gateway.db.billing.usage import UsageRow
from gateway.db.database import Database, Tx
from gateway.errors import NotFound
from gateway.services.billing.key_budget import KeyBudget

# The records other packages read (and, for a call's usage, build), re-exported: they never
# import money's storage themselves.
__all__ = [
    "Balance",
    "LedgerRow",
    "UsageRow",
    "balance_in",
    "balance_of",
    "holds_in_flight",
    "key_usage",
    "ledger_page",
    "ledger_total",
    "restart_key_counts",
    "runs_low",
    "total_held",
]
LOW_BALANCE_DAYS = 3


def runs_low(*, credits: int, spent_last_7_days: int) -> bool:
    """Out of credits, or fewer than LOW_BALANCE_DAYS days of them at the last week's pace:
    what the console warns about before requests start failing with 402."""
    return credits <= 0 or credits * 7 < LOW_BALANCE_DAYS * spent_last_7_days


async def balance_of(db: Database, *, user_id: str) -> Balance:
    async with db.autocommit() as tx:
        found = await ledger.balance(tx, user_id)
    if found is None:
        raise NotFound("no such user")
    return found


async def balance_in(tx: Tx, *, user_id: str) -> Balance:
    """The balance, read inside the caller's transaction (after its other statements)."""
    found = await ledger.balance(tx, user_id)
    if found is None:
        raise NotFound("no such user")
    return found


async def ledger_page(db: Database, *, user_id: str, limit: int, before: int | None) -> Sequence[LedgerRow]:
    async with db.read() as tx:
        return await ledger.entries(tx, user_id=user_id, limit=limit, after=before)


async def ledger_total(db: Database, *, user_id: str) -> int:
    """Σ of the user's ledger: equals credits + reserved, always."""
    async with db.read() as tx:
        return await ledger.total(tx, user_id)


async def holds_in_flight(db: Database) -> tuple[int, int]:
    """(holds, what they add up to) across every process: the metrics' scrape reads this."""
    async with db.autocommit() as tx:
        return await holds.in_flight(tx)


async def total_held(tx: Tx) -> int:
    """What every in-flight request holds, all customers together."""
    return await ledger.total_reserved(tx)


async def key_usage(tx: Tx, *, user_id: str, key_id: str, held: int) -> KeyBudget:
    """What a key used, by its usage records (whatever its limits were), its requests in
    flight, and what it holds now."""
    spent, requests = await key_budgets.used(tx, user_id=user_id, key_id=key_id)
    return KeyBudget(spend_limit=None, spent=spent, held=held, max_requests=None, requests=requests)


async def restart_key_counts(tx: Tx, *, user_id: str, key_id: str) -> None:
    """A key's limits changed: its counts start from what its usage records say, and its
    requests in flight."""
    await key_budgets.restart_counts(tx, user_id=user_id, key_id=key_id)
