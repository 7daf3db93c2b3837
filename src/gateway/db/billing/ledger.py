"""Balances and the append-only ledger. Every guard that keeps a balance from going below
zero is a condition of the UPDATE itself, so it holds across processes and connections.

`reserved` is the sum of the user's holds (the column keeps the name the API shows)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.db.database import Row, Tx, where


@dataclass(frozen=True, slots=True)
class Balance:
    credits: int
    reserved: int


@dataclass(frozen=True, slots=True)
class LedgerRow:
    id: int
    user_id: str
    kind: str
    amount: int
    reference: str
    credits_after: int
    reserved_after: int
    key_id: str | None
    description: str | None
    created_at: float
    shortfall: int = 0


def _entry(row: Row) -> LedgerRow:
    return LedgerRow(
        id=row["id"],
        user_id=row["user_id"],
        kind=row["kind"],
        amount=row["amount"],
        reference=row["reference"],
        credits_after=row["credits_after"],
        reserved_after=row["reserved_after"],
        key_id=row["key_id"],
        description=row["description"],
        created_at=row["created_at"],
        shortfall=row["shortfall"],
    )


async def open_balance(tx: Tx, user_id: str) -> None:
    """A new user's balance row, at zero."""
    await tx.execute("INSERT INTO balances (user_id) VALUES ($1)", user_id)


async def balance(tx: Tx, user_id: str, *, for_update: bool = False) -> Balance | None:
    """The balance; `for_update` locks the row until the transaction ends."""
    lock = tx.for_update if for_update else ""
    row = await tx.fetchrow(f"SELECT credits, reserved FROM balances WHERE user_id = $1{lock}", user_id)
    return None if row is None else Balance(row["credits"], row["reserved"])


async def add(tx: Tx, *, user_id: str, amount: int, ceiling: int) -> Balance | None:
    """Add (or, if negative, take) spendable credits; None if that would take them below zero
    or credits + reserved past `ceiling` (which keeps every later sum inside 64 bits)."""
    row = await tx.fetchrow(
        "UPDATE balances SET credits = credits + $2 WHERE user_id = $1 AND credits + $2 >= 0 "
        "AND credits + reserved + $2 <= $3 RETURNING credits, reserved",
        user_id,
        amount,
        ceiling,
    )
    return None if row is None else Balance(row["credits"], row["reserved"])


async def hold(tx: Tx, *, user_id: str, amount: int) -> bool:
    """Move `amount` from spendable to reserved, only if it is all there."""
    changed = await tx.execute(
        "UPDATE balances SET credits = credits - $2, reserved = reserved + $2 WHERE user_id = $1 AND credits >= $2",
        user_id,
        amount,
    )
    return changed == 1


async def release(tx: Tx, *, user_id: str, held: int, charge: int) -> Balance | None:
    """End a hold of `held`, taking `charge` from it and from spendable credits if needed.

    None when credits + held cannot pay `charge` (the caller then charges less).
    """
    row = await tx.fetchrow(
        "UPDATE balances SET reserved = reserved - $2, credits = credits + $2 - $3 "
        "WHERE user_id = $1 AND credits + $2 - $3 >= 0 RETURNING credits, reserved",
        user_id,
        held,
        charge,
    )
    return None if row is None else Balance(row["credits"], row["reserved"])


async def append(
    tx: Tx,
    *,
    user_id: str,
    kind: str,
    amount: int,
    reference: str,
    after: Balance,
    now: float,
    key_id: str | None = None,
    description: str | None = None,
    shortfall: int = 0,
) -> bool:
    """Append one ledger row; False if the reference was already used (nothing written).
    `shortfall`: what a take-back could not take (the row's amount is what it took)."""
    inserted = await tx.fetchval(
        "INSERT INTO ledger (user_id, kind, amount, reference, credits_after, reserved_after,"
        " key_id, description, created_at, shortfall) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        " ON CONFLICT (reference) DO NOTHING RETURNING id",
        user_id,
        kind,
        amount,
        reference,
        after.credits,
        after.reserved,
        key_id,
        description,
        now,
        shortfall,
    )
    return inserted is not None


async def by_reference(tx: Tx, reference: str) -> LedgerRow | None:
    row = await tx.fetchrow("SELECT * FROM ledger WHERE reference = $1", reference)
    return None if row is None else _entry(row)


async def entries(tx: Tx, *, user_id: str, limit: int, after: int | None = None) -> Sequence[LedgerRow]:
    conditions, args = where(user=("user_id =", user_id), after=("id <", after))
    rows = await tx.fetchall(
        f"SELECT * FROM ledger {conditions} ORDER BY id DESC LIMIT ${len(args) + 1}",
        *args,
        limit,
    )
    return [_entry(r) for r in rows]


async def total(tx: Tx, user_id: str) -> int:
    return int(await tx.fetchval("SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE user_id = $1", user_id))


async def total_reserved(tx: Tx) -> int:
    """What every in-flight request holds, all customers together."""
    return int(await tx.fetchval("SELECT COALESCE(SUM(reserved), 0) FROM balances"))
