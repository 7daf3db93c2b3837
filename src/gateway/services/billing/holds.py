"""Holds on a customer's credits for requests in flight: placing one before a request,
ending it after — settled for what was used, or released — exactly once.

Invariant: Σ ledger amounts of a user = credits + reserved. A hold moves credits to
`reserved` (no ledger row); its settlement writes the charge to the ledger. Every guard is
part of the write itself (see `db.billing.holds`), so no interleaving of requests or
processes can overdraw a balance or a key's spend limit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from gateway.db.billing import holds, key_budgets, ledger
from gateway.db.billing.holds import NewHold, Placed
from gateway.db.billing.ledger import Balance
from gateway.db.billing.usage import UsageRow
from gateway.db.database import Database, retrying
from gateway.errors import InsufficientCredits, InternalError, NotFound, RateLimited
from gateway.ids import new_id
from gateway.services.billing.key_budget import KeyBudget
from gateway.services.billing.money import MAX_NANOS, ZERO, Nanos, credits_text

log = logging.getLogger("gateway.billing")


class KeySpendLimitReached(InsufficientCredits):
    code = "key_spend_limit_reached"
    default_message = "this key's spend limit is reached"


class KeyRequestCapReached(RateLimited):
    code = "key_request_cap_reached"
    default_message = "this key's request cap is reached"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, retry_after=86_400)
        self.headers["x-should-retry"] = "false"  # only a new cap cures it


@dataclass(frozen=True, slots=True)
class Hold:
    id: str
    user_id: str
    key_id: str | None
    amount: Nanos
    key_limited: bool = False  # also counted on the key's row (spend limit or request cap)


@dataclass(frozen=True, slots=True)
class Settlement:
    charged: Nanos
    written_off: Nanos
    balance: Balance


NOTHING_HELD = Settlement(ZERO, ZERO, Balance(0, 0))  # the end of a call that held nothing


async def place(
    db: Database,
    *,
    user_id: str,
    key_id: str | None,
    key_limited: bool = False,
    instance_id: str,
    amount: Nanos | Callable[[Nanos], Nanos],
) -> Hold:
    """Hold `amount` (or what `amount(available)` decides, from the current balance).

    Raises InsufficientCredits when the balance cannot pay it (a computed amount of 0 means
    not even a minimal answer is affordable; one above MAX_NANOS, the most a balance holds,
    never is), KeySpendLimitReached or KeyRequestCapReached.
    """
    hold_id = new_id("res")
    wanted, outcome = Nanos(0), Placed.NO_CREDITS
    # A computed amount is retried if another request spent between the read and the hold.
    for _ in range(3 if callable(amount) else 1):
        if callable(amount):
            async with db.autocommit() as tx:
                balance = await ledger.balance(tx, user_id)
            wanted = amount(Nanos(balance.credits if balance else 0))
        else:
            wanted = amount
        if wanted <= 0 or wanted > MAX_NANOS:
            break  # past what any balance may hold (e.g. max_tokens 2^62): unaffordable, and past int64
        outcome = await db.holds.place(NewHold(hold_id, user_id, key_id, wanted, instance_id, time.time(), key_limited))
        if outcome is Placed.OK:
            return Hold(hold_id, user_id, key_id, wanted, key_limited)
        if outcome is not Placed.NO_CREDITS:
            break
    if outcome is Placed.KEY_SPEND_LIMIT:
        raise KeySpendLimitReached(f"this key's spend limit cannot cover up to {credits_text(wanted)} credits")
    if outcome is Placed.KEY_REQUEST_CAP:
        raise KeyRequestCapReached()
    if wanted <= 0:
        raise InsufficientCredits("insufficient credits: the balance cannot pay for even a minimal answer")
    raise InsufficientCredits(f"insufficient credits: this request can cost up to {credits_text(wanted)} credits")


async def settle(db: Database, *, hold: Hold, cost: Nanos, record: UsageRow) -> Settlement:
    """Charge `cost` for a finished request, release the rest of its hold, record its usage.

    Should the cost exceed what can be paid (it never should), the balance (and the key's
    spend limit) pay what they can and the rest is recorded on the usage row as written off.
    """
    row = record
    if (record.id, record.user_id, record.key_id, record.cost, record.written_off) != (
        hold.id,
        hold.user_id,
        hold.key_id,
        cost,
        0,
    ):  # callers usually build the record for the hold already; copying it costs
        row = replace(record, id=hold.id, user_id=hold.user_id, key_id=hold.key_id, cost=cost, written_off=0)
    after = await db.holds.settle_in_full(row=row, reference=f"usage:{hold.id}", key_limited=hold.key_limited)
    if after is not None:
        return Settlement(cost, ZERO, after)
    return await retrying(lambda: _settle_with_write_off(db, hold=hold, row=row))


async def _settle_with_write_off(db: Database, *, hold: Hold, row: UsageRow) -> Settlement:
    """The locked path: what the balance (and the key's budget) can pay is charged."""
    async with db.transaction() as tx:
        # None: a sweeper released this hold (we looked dead); charge from credits instead.
        taken = await holds.take(tx, hold.id)
        held = taken.amount if taken else 0
        current = await ledger.balance(tx, hold.user_id, for_update=True)
        if current is None:
            raise NotFound("no such user")
        payable = held + current.credits
        key_held = held if taken is not None and taken.key_held else 0
        if hold.key_limited and hold.key_id is not None:
            found = await key_budgets.budget(tx, hold.key_id, for_update=True)
            if found is not None:
                payable = min(payable, KeyBudget.of(found).headroom(held_by_this=key_held))
        charged = Nanos(max(0, min(row.cost, payable)))
        written_off = Nanos(row.cost - charged)
        after = await holds.settle_taken(
            tx, taken=taken, row=replace(row, cost=charged, written_off=written_off), reference=f"usage:{hold.id}",
            key_limited=hold.key_limited,
        )  # fmt: skip
        if after is None:  # cannot happen with the row locked; refuse rather than guess
            raise InternalError("the balance changed under a locked settlement")
    return Settlement(charged, written_off, after)


async def release(db: Database, *, hold: Hold, record: UsageRow | None = None) -> None:
    """The request failed before anything was delivered: release it all, charge nothing."""
    row = None if record is None else replace(record, id=hold.id, cost=0, written_off=0)
    await db.holds.release(hold_id=hold.id, record=row)


async def record_free(db: Database, *, record: UsageRow) -> None:
    """Usage that costs nothing and held nothing (test keys, free models)."""
    await db.holds.record(record)


class PendingReleases:
    """Holds whose call could not write its settlement or release (the database refused or
    went away): released here, at once if possible, else at every heartbeat until it
    sticks. Releasing is idempotent (a hold already gone releases nothing), so a write that
    did commit after all costs nothing more."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._holds: dict[str, Hold] = {}
        self._tasks: set[asyncio.Task[int]] = set()

    def hand_over(self, hold: Hold) -> None:
        self._holds[hold.id] = hold
        task = asyncio.get_running_loop().create_task(self.retry())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def __len__(self) -> int:
        return len(self._holds)

    async def retry(self) -> int:
        """Release what is pending; returns how many are still pending."""
        for hold_id in list(self._holds):
            try:
                await self._db.holds.release(hold_id=hold_id)
            except Exception:
                log.warning("releasing hold %s failed; retrying at the next heartbeat", hold_id)
                continue
            self._holds.pop(hold_id, None)
        return len(self._holds)
