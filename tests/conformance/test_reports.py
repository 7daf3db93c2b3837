"""Reports for the console: spend windows, daily spend per model, usage search and export,
finding customers — the same answers on every backend, and never one user's rows to another."""

from __future__ import annotations

import csv
import io
import itertools
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime
from typing import Any

from gateway.db.billing import usage as usage_store
from gateway.db.billing.usage import UsageRow
from gateway.db.database import Database
from gateway.db.reports.usage import Totals
from gateway.services.accounts import signup as accounts
from gateway.services.accounts.signup import Registration
from gateway.services.billing import credits
from gateway.services.billing.money import Nanos
from gateway.services.reports import customers, export, spend
from gateway.services.reports import usage as reports
from tests.conformance.helpers import PEPPER
from tests.support import Gateway

Gateways = Callable[..., AbstractAsyncContextManager[Gateway]]

DAY = 86_400
NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC).timestamp()
MIDNIGHT = NOW - DAY / 2  # 2025-03-10 00:00 UTC
_ids = itertools.count()


async def account(db: Database, email: str) -> Registration:
    return await accounts.register(
        db, email=email, username=None, environment="live", signup_credits=Nanos(0), pepper=PEPPER
    )


async def record(
    db: Database,
    user: Registration,
    at: float,
    cost: int,
    *,
    model: str = "m/a",
    key_id: str | None = "own",
    tokens: tuple[int, int] = (1, 1),
) -> UsageRow:
    """A usage record written as billing writes it; ids increase with each call, as they do
    with time."""
    row = UsageRow(
        id=f"call_{next(_ids):08d}",
        request_id=f"req-{cost}-{at}",
        user_id=user.user.id,
        key_id=user.key.id if key_id == "own" else key_id,
        environment="live",
        model=model,
        stream=False,
        outcome="completed",
        prompt_tokens=tokens[0],
        completion_tokens=tokens[1],
        usage_source="upstream",
        reserved=cost,
        cost=cost,
        written_off=0,
        duration_ms=42,
        created_at=at,
    )
    async with db.transaction() as tx:
        await usage_store.insert(tx, row)
    return row


async def test_spend_windows_count_each_row_in_every_window_it_falls_in(db: Database) -> None:
    ada, bob = await account(db, "ada@example.com"), await account(db, "bob@example.com")
    await record(db, ada, NOW - 31 * DAY, 1_000_000)  # in no window
    await record(db, ada, NOW - 20 * DAY, 100_000, tokens=(5, 6))
    await record(db, ada, NOW - 6 * DAY, 10_000, tokens=(7, 8))
    await record(db, ada, MIDNIGHT - 0.001, 1_000, tokens=(10, 20))  # yesterday
    await record(db, ada, MIDNIGHT, 100, tokens=(30, 40))  # today's first instant
    await record(db, ada, NOW, 1, tokens=(1, 2))
    await record(db, bob, NOW, 7_777_777)  # another user's
    windows = await spend.spend_windows(db, user_id=ada.user.id, now=NOW)
    assert windows.today == Totals(2, 31, 42, 101)
    assert windows.last_7_days == Totals(4, 48, 70, 11_101)
    assert windows.last_30_days == Totals(5, 53, 76, 111_101)
    empty = await spend.spend_windows(db, user_id=ada.user.id, now=NOW + 60 * DAY)
    assert empty.today == empty.last_7_days == empty.last_30_days == Totals(0, 0, 0, 0)


async def test_daily_spend_buckets_rows_by_utc_day_at_the_edges(db: Database) -> None:
    ada, bob = await account(db, "ada@example.com"), await account(db, "bob@example.com")
    first = MIDNIGHT - 2 * DAY  # the oldest of 3 days: 2025-03-08
    await record(db, ada, first - 0.001, 1)  # before the window
    await record(db, ada, first, 10)
    await record(db, ada, first + DAY / 2 + 0.4, 20)  # where rounding and truncating differ
    await record(db, ada, MIDNIGHT - DAY - 0.4, 40)  # 2025-03-08 23:59:59.6
    await record(db, ada, MIDNIGHT - 0.001, 1_000)  # 2025-03-09, its last millisecond
    await record(db, ada, MIDNIGHT, 100_000)  # today
    await record(db, ada, MIDNIGHT + DAY - 0.5, 1_000_000)  # later today (another process's clock)
    await record(db, ada, MIDNIGHT + DAY, 7)  # tomorrow: not shown
    await record(db, bob, MIDNIGHT, 5_555)
    found = await spend.daily_spend_by_model(db, user_id=ada.user.id, days=3, now=NOW)
    assert found.days == (date(2025, 3, 8), date(2025, 3, 9), date(2025, 3, 10))
    assert [(s.model, s.costs, s.total) for s in found.series] == [("m/a", (70, 1_000, 1_100_000), 1_101_070)]


async def test_daily_spend_keeps_every_day_and_folds_small_models_into_other(db: Database) -> None:
    ada = await account(db, "ada@example.com")
    for rank in range(8):  # m/0 spends most; each model on its own day of the last 8
        await record(db, ada, MIDNIGHT - rank * DAY + 60, (8 - rank) * 1_000, model=f"m/{rank}")
    await record(db, ada, MIDNIGHT - 3 * DAY, 5, model="m/7")  # also another day
    await record(db, ada, MIDNIGHT, 0, model="m/free")  # no cost: not charted
    found = await spend.daily_spend_by_model(db, user_id=ada.user.id, days=30, now=NOW)
    assert len(found.days) == 30 and found.days[0] == date(2025, 2, 9) and found.days[-1] == date(2025, 3, 10)
    assert [s.model for s in found.series] == ["m/0", "m/1", "m/2", "m/3", "m/4", "m/5", None]
    assert [s.total for s in found.series] == [8_000, 7_000, 6_000, 5_000, 4_000, 3_000, 2_000 + 1_000 + 5]
    other = found.series[-1].costs
    assert (other[-7], other[-8], other[-4]) == (2_000, 1_000, 5) and sum(other) == 3_005
    assert found.series[0].costs[-1] == 8_000 and sum(found.series[0].costs) == 8_000
    assert all(len(s.costs) == 30 for s in found.series)
    empty = await spend.daily_spend_by_model(db, user_id=ada.user.id, days=7, now=NOW - 100 * DAY)
    assert len(empty.days) == 7 and empty.series == ()


async def test_usage_search_filters_and_pages_only_the_users_rows(db: Database) -> None:
    ada, bob = await account(db, "ada@example.com"), await account(db, "bob@example.com")
    rows = [
        await record(db, ada, NOW - 3_000, 1, model="m/a"),
        await record(db, ada, NOW - 2_000, 2, model="m/b"),
        await record(db, ada, NOW - 1_000, 3, model="m/a", key_id=None),
        await record(db, ada, NOW - 500, 4, model="m/a", key_id=bob.key.id),  # someone else's key id
        await record(db, ada, NOW, 5, model="m/b"),
    ]
    await record(db, bob, NOW, 6, model="m/a")

    async def ids(**filters: Any) -> list[str]:
        found = await reports.usage_search(db, user_id=ada.user.id, limit=100, **filters)
        return [entry.usage.id for entry in found]

    newest_first = [r.id for r in reversed(rows)]
    assert await ids() == newest_first
    assert await ids(model="m/a") == [rows[3].id, rows[2].id, rows[0].id]
    assert await ids(key_id=ada.key.id) == [rows[4].id, rows[1].id, rows[0].id]
    assert await ids(since=NOW - 2_000, until=NOW) == [rows[3].id, rows[2].id, rows[1].id]
    assert await ids(key_id=bob.key.id, model="m/a") == [rows[3].id]
    paged, before = [], None
    while page := await reports.usage_search(db, user_id=ada.user.id, limit=2, before=before):
        paged.append([entry.usage.id for entry in page])
        before = page[-1].usage.id
    assert paged == [newest_first[:2], newest_first[2:4], newest_first[4:]]
    entries = {entry.usage.id: entry for entry in await reports.usage_search(db, user_id=ada.user.id, limit=10)}
    assert (entries[rows[0].id].key_name, entries[rows[0].id].key_mask) == ("default", ada.key.mask)
    assert entries[rows[0].id].usage == rows[0]
    assert (entries[rows[2].id].key_name, entries[rows[2].id].key_mask) == (None, None)
    # A record naming another user's key never shows that key's name or mask.
    assert (entries[rows[3].id].key_name, entries[rows[3].id].key_mask) == (None, None)


async def test_usage_export_reads_in_chunks_and_writes_safe_csv(db: Database) -> None:
    ada, bob = await account(db, "ada@example.com"), await account(db, "bob@example.com")
    async with db.transaction() as tx:
        await tx.execute("UPDATE api_keys SET name = $1 WHERE id = $2", '=HYPERLINK("x"),ci', ada.key.id)
    rows = [await record(db, ada, NOW + i, 1_234_567_890 * i + 5, model="m/a") for i in range(7)]
    await record(db, bob, NOW, 1)
    chunks = [c async for c in reports.usage_export(db, user_id=ada.user.id, chunk=3)]
    assert [len(c) for c in chunks] == [3, 3, 1]
    exact = [c async for c in reports.usage_export(db, user_id=ada.user.id, since=NOW + 1, chunk=3)]
    assert [len(c) for c in exact] == [3, 3]
    assert [c async for c in reports.usage_export(db, user_id=ada.user.id, model="m/none")] == []

    text = "".join([t async for t in export.usage_csv(reports.usage_export(db, user_id=ada.user.id, chunk=2))])
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == list(export.USAGE_COLUMNS)
    assert len(table) == 8
    newest = dict(zip(table[0], table[1], strict=True))
    assert newest == {
        "time": "2025-03-10T12:00:06.000Z",
        "request_id": rows[6].request_id,
        "key_id": ada.key.id,
        "key_name": '\'=HYPERLINK("x"),ci',
        "key_mask": ada.key.mask,
        "model": "m/a",
        "prompt_tokens": "1",
        "completion_tokens": "1",
        "cost_credits": "7.407407345",
        "latency_ms": "42",
        "outcome": "completed",
    }
    assert [line[8] for line in table[1:]][-2:] == ["1.234567895", "0.000000005"]


async def test_customers_search_by_email_or_id_with_balance_and_recent_spend(db: Database) -> None:
    ada = await account(db, "ada_1@example.com")
    adax = await account(db, "adax1@example.com")
    bob = await account(db, "bob@example.org")
    async with db.transaction() as tx:  # stored before emails were normalised
        await tx.execute("UPDATE users SET email = $1 WHERE id = $2", "Ada_1@Example.COM", ada.user.id)
    await credits.credit(db, user_id=ada.user.id, amount=Nanos(5_000), kind="topup", reference="ada-1")
    await record(db, ada, NOW - DAY, 300)
    await record(db, ada, NOW - 31 * DAY, 40_000)  # too old to count
    await record(db, bob, NOW, 9_999)

    async def emails(query: str | None, **paging: Any) -> list[str]:
        found = await customers.customers_search(db, query=query, limit=10, now=NOW, **paging)
        return [c.email for c in found]

    assert sorted(await emails("ADA")) == ["Ada_1@Example.COM", "adax1@example.com"]
    assert await emails("a_1") == ["Ada_1@Example.COM"]  # `_` is a character, not a wildcard
    assert await emails("%") == []
    assert await emails("\\") == []
    assert await emails(ada.user.id) == ["Ada_1@Example.COM"]
    assert await emails(ada.user.id.upper()) == ["Ada_1@Example.COM"]
    assert len(await emails(None)) == len(await emails("  ")) == 3

    everyone = await customers.customers_search(db, query="", limit=10, now=NOW)
    assert [c.id for c in everyone] == sorted([ada.user.id, adax.user.id, bob.user.id])
    found = {c.id: c for c in everyone}
    assert (found[ada.user.id].credits, found[ada.user.id].reserved, found[ada.user.id].spent) == (5_000, 0, 300)
    assert (found[ada.user.id].plan_id, found[ada.user.id].status) == ("free", "active")
    assert (found[bob.user.id].spent, found[adax.user.id].spent) == (9_999, 0)
    first = await customers.customers_search(db, query="example", limit=2, now=NOW)
    rest = await customers.customers_search(db, query="example", limit=2, after=first[-1].id, now=NOW)
    assert [c.id for c in [*first, *rest]] == [c.id for c in everyone]


async def test_reports_agree_with_the_books_after_real_calls(gateways: Gateways) -> None:
    async with gateways() as gateway:
        account_ = await gateway.customer("10")
        for _ in range(3):
            assert (await gateway.chat(account_["api_key"])).status_code == 200
        assert (await gateway.chat(account_["api_key"], model="sim/fail-500")).status_code >= 500
        other = await gateway.customer("10", email="bob@example.com")
        assert (await gateway.chat(other["api_key"])).status_code == 200
        await check_books(gateway, account_)


async def check_books(gateway: Gateway, account_: dict[str, object]) -> None:
    db, user_id, now = gateway.runtime.db, str(account_["user_id"]), time.time()
    charged = 10 * 10**9 - int((await gateway.balance(str(account_["api_key"])))["credits"] * 10**9)
    windows = await spend.spend_windows(db, user_id=user_id, now=now)
    assert windows.today.requests == windows.last_30_days.requests == 4
    assert windows.today.cost == windows.last_30_days.cost == charged > 0
    daily = await spend.daily_spend_by_model(db, user_id=user_id, now=now)
    assert sum(s.total for s in daily.series) == charged and daily.days[-1] == datetime.now(UTC).date()
    page = await reports.usage_search(db, user_id=user_id, limit=10)
    assert len(page) == 4 and sum(e.usage.cost for e in page) == charged
    assert {e.key_name for e in page} == {"default"} and {e.usage.user_id for e in page} == {user_id}
