"""Payments and paid traffic at the same time, on two gateways sharing PostgreSQL and Redis
(directly or through PgBouncer): a key with a spend limit sends the load mix (failing
upstreams, cut streams) through both while twelve copies of one paid Checkout and of a refund
of it are delivered split across both. Every event is applied once, the key stays within its
limit, no hold is left, and Σ ledger = credits + reserved."""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.conformance.helpers import balanced_credits
from tests.conformance.test_gateways import new_key
from tests.conformance.test_money_under_load import CLIENTS, SPEND_LIMIT, assert_answered_as_its_model, client
from tests.conformance.test_payments_topups import SETTINGS, Gateways, history, open_topup, refund
from tests.stripe_support import deliver, stripe_mock
from tests.support import Gateway

COPIES = 12
SPREAD = 0.01  # seconds between one copy and the next: all are delivered while the load runs (~0.3 s)


async def delivered_late(gateway: Gateway, document: dict[str, Any], delay: float) -> httpx.Response:
    await asyncio.sleep(delay)
    return await deliver(gateway, document)


@pytest.mark.shared
async def test_payment_events_and_limited_traffic_split_across_two_gateways(gateways: Gateways) -> None:
    async with gateways(**SETTINGS) as a, gateways(**SETTINGS) as b:
        account = await a.customer("5")
        key = await new_key(a, account["api_key"], spend_limit=str(SPEND_LIMIT))
        with stripe_mock() as stripe:
            topup = await open_topup(a, stripe, account, "10")
        completed, refunded = topup.completed(), refund(topup, 300)  # 30% of the 9.5 granted back
        events = [
            delivered_late((a, b)[n % 2], document, n * SPREAD)
            for n in range(COPIES)
            for document in (completed, refunded)
        ]
        loads = [client((a, b)[n % 2], key["api_key"], n) for n in range(CLIENTS)]
        deliveries, groups = await asyncio.gather(asyncio.gather(*events), asyncio.gather(*loads))
        results = [seen for group in groups for seen in group]

        assert [r.status_code for r in deliveries] == [200] * len(deliveries), [r.text for r in deliveries]
        outcomes = {
            document["id"]: Counter(r.json()["outcome"] for r in deliveries[i::2])
            for i, document in enumerate((completed, refunded))
        }
        assert outcomes[completed["id"]] == {"applied": 1, "duplicate": COPIES - 1}
        # a refund that comes before its payment waits for it, and is applied when it lands
        (first,) = set(outcomes[refunded["id"]]) - {"duplicate"}
        assert first in {"applied", "deferred"} and outcomes[refunded["id"]]["duplicate"] == COPIES - 1
        entries = await history(b)
        assert set(entries) == {completed["id"], refunded["id"]}
        assert (entries[completed["id"]]["outcome"], entries[completed["id"]]["amount"]) == ("applied", Decimal("9.5"))
        assert (entries[refunded["id"]]["outcome"], entries[refunded["id"]]["amount"]) == ("applied", Decimal("-2.85"))

        for seen in results:
            assert_answered_as_its_model(*seen)
        statuses = Counter(status for _, _, status, _ in results)
        assert statuses[200] > 0 and statuses[402] > 0, statuses
        async with a.runtime.db.read() as tx:
            row = await tx.fetchrow("SELECT spent, held FROM api_keys WHERE id = $1", key["id"])
            open_holds = await tx.fetchval("SELECT COUNT(*) FROM reservations")
        assert row is not None and row["held"] == 0 and open_holds == 0
        assert 0 < row["spent"] <= SPEND_LIMIT * 10**9
        for gateway in (a, b):  # Σ ledger = credits + reserved, nothing held
            assert (
                await balanced_credits(gateway, account)
                == 5 + Decimal("9.5") - Decimal("2.85") - Decimal(row["spent"]) / 10**9
            )
