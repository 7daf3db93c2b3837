#!/usr/bin/env python3
"""Create a customer with credits in a gateway database and print its API key.

Used by the benchmark scripts: `KEY=$(python scripts/bench_seed.py --database-url sqlite:///x.db)`.
SECRET_KEY must be the one the gateway will run with (keys are stored as keyed hashes).
The customer is on a "bench" plan whose every limit is set (so every window is checked and
counted on each request) but too high to refuse anything during a run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import time

from gateway.db.accounts import users
from gateway.db.database import open_database
from gateway.db.plans.plans import LIMIT_FIELDS
from gateway.errors import NotFound
from gateway.services.accounts import signup as accounts
from gateway.services.billing import credits
from gateway.services.billing.money import Nanos, parse_credits
from gateway.services.keys.format import hashing_key
from gateway.services.plans.book import PlanBook


async def seed(database_url: str, amount: str, secret_key: str) -> str:
    db = await open_database(database_url)
    try:
        await db.migrate()
        created = await accounts.register(
            db,
            email=f"bench-{secrets.token_hex(4)}@example.com",
            username=None,
            environment="live",
            signup_credits=Nanos(0),
            pepper=hashing_key(secret_key),
        )
        await credits.credit(
            db,
            user_id=created.user.id,
            amount=parse_credits(amount),
            kind="topup",
            reference=f"bench:{created.user.id}",
            description="benchmark credits",
        )
        book = PlanBook(db)
        if await _missing(book):
            await book.create("bench", "Benchmark (every limit on, none reached)", dict(BENCH_PLAN))
        async with db.transaction() as tx:
            await users.set_plan(tx, user_id=created.user.id, plan_id="bench", started_at=time.time(), expires_at=None)
        return created.api_key
    finally:
        await db.close()


HIGH = 10**12
BENCH_PLAN = {
    **dict.fromkeys(LIMIT_FIELDS, HIGH),
    "max_concurrent_requests": 100_000,
    "features": {"streaming": True},
}


async def _missing(book: PlanBook) -> bool:
    try:
        await book.find("bench")
    except NotFound:
        return True
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--credits", default="1000000")
    args = parser.parse_args()
    print(asyncio.run(seed(args.database_url, args.credits, os.environ["SECRET_KEY"])))


if __name__ == "__main__":
    main()
