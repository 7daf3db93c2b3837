"""Holds and settlement: no overdraft under concurrency, crash recovery, write-offs."""

import asyncio
import time

import pytest

from gateway.db.billing import holds as reservations
from gateway.db.billing import instances
from gateway.db.billing.usage import UsageRow
from gateway.db.database import Database
from gateway.errors import InsufficientCredits
from gateway.services.billing import credits
from gateway.services.billing import holds as billing
from gateway.services.billing import sweeping as sweeper
from gateway.services.billing.money import Nanos
from tests.conformance.helpers import assert_books_balance, new_user


def record(user: str, model: str = "m") -> UsageRow:
    return UsageRow(
        id="",
        request_id="req",
        user_id=user,
        key_id=None,
        environment="live",
        model=model,
        stream=False,
        outcome="completed",
        prompt_tokens=1,
        completion_tokens=1,
        usage_source="upstream",
        reserved=0,
        cost=0,
        written_off=0,
        duration_ms=1,
        created_at=time.time(),
    )


async def funded_user(db: Database, amount: int) -> str:
    user, _ = await new_user(db)
    await credits.credit(db, user_id=user, amount=Nanos(amount), kind="topup", reference=f"fund-{user}")
    return user


async def hold(db: Database, user: str, amount: int, instance: str = "gw_live") -> billing.Hold:
    return await billing.place(db, user_id=user, key_id=None, instance_id=instance, amount=Nanos(amount))


async def test_hold_then_settle_charges_and_releases(db: Database) -> None:
    user = await funded_user(db, 1_000)
    held = await hold(db, user, 600)
    assert await assert_books_balance(db, user) == (400, 600)
    settled = await billing.settle(db, hold=held, cost=Nanos(250), record=record(user))
    assert (settled.charged, settled.written_off) == (250, 0)
    assert await assert_books_balance(db, user) == (750, 0)


async def test_a_user_without_a_balance_holds_nothing(db: Database) -> None:
    with pytest.raises(InsufficientCredits):
        await hold(db, "usr_nobody", 1)


async def test_insufficient_balance_holds_nothing(db: Database) -> None:
    user = await funded_user(db, 100)
    with pytest.raises(InsufficientCredits):
        await hold(db, user, 101)
    assert await assert_books_balance(db, user) == (100, 0)


async def test_cancel_releases_everything(db: Database) -> None:
    user = await funded_user(db, 100)
    held = await hold(db, user, 100)
    await billing.release(db, hold=held, record=record(user))
    assert await assert_books_balance(db, user) == (100, 0)


async def test_cost_beyond_the_hold_is_written_off_not_overdrawn(db: Database) -> None:
    user = await funded_user(db, 1_000)
    held = await hold(db, user, 300)
    settled = await billing.settle(db, hold=held, cost=Nanos(5_000), record=record(user))
    assert (settled.charged, settled.written_off) == (1_000, 4_000)
    assert await assert_books_balance(db, user) == (0, 0)


async def test_many_simultaneous_holds_never_overdraw(db: Database) -> None:
    user = await funded_user(db, 1_000)
    outcomes = await asyncio.gather(*(hold(db, user, 70) for _ in range(50)), return_exceptions=True)
    holds = [o for o in outcomes if isinstance(o, billing.Hold)]
    assert len(holds) == 14  # 14 × 70 = 980 ≤ 1,000 < 15 × 70
    assert all(isinstance(o, InsufficientCredits) for o in outcomes if not isinstance(o, billing.Hold))
    await asyncio.gather(*(billing.settle(db, hold=h, cost=Nanos(10), record=record(user)) for h in holds))
    assert await assert_books_balance(db, user) == (1_000 - 14 * 10, 0)


async def test_a_dead_processes_holds_are_released_but_a_live_ones_kept(db: Database) -> None:
    user = await funded_user(db, 1_000)
    async with db.transaction() as tx:
        await instances.heartbeat(tx, instance_id="gw_dead", now=time.time() - 120)
        await instances.heartbeat(tx, instance_id="gw_alive", now=time.time())
    await hold(db, user, 100, instance="gw_dead")
    await hold(db, user, 200, instance="gw_never_registered")
    alive = await hold(db, user, 300, instance="gw_alive")
    released = await sweeper.release_orphans(db, stale_after=30)
    assert released == 2
    assert await assert_books_balance(db, user) == (700, 300)
    # the live process settles as usual
    await billing.settle(db, hold=alive, cost=Nanos(50), record=record(user))
    assert await assert_books_balance(db, user) == (950, 0)


async def test_concurrent_sweepers_release_each_hold_once(db: Database) -> None:
    user = await funded_user(db, 1_000)
    for _ in range(10):
        await hold(db, user, 50, instance="gw_dead")
    counts = await asyncio.gather(*(sweeper.release_orphans(db, stale_after=30) for _ in range(4)))
    assert sum(counts) == 10
    assert await assert_books_balance(db, user) == (1_000, 0)


async def test_settling_a_hold_a_sweeper_already_released(db: Database) -> None:
    user = await funded_user(db, 1_000)
    held = await hold(db, user, 400, instance="gw_slow")
    await sweeper.release_orphans(db, stale_after=30)  # gw_slow never heartbeat: presumed dead
    async with db.read() as tx:
        assert await reservations.held_by_user(tx, user) == 0
    settled = await billing.settle(db, hold=held, cost=Nanos(150), record=record(user))
    assert settled.charged == 150
    assert await assert_books_balance(db, user) == (850, 0)
