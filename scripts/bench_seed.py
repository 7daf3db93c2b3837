#!/usr/bin/env python3
"""Create a customer with credits in a gateway database and print its API key.

Used by the benchmark scripts: `KEY=$(python scripts/bench_seed.py --database-url sqlite:///x.db)`.
SECRET_KEY must be the one the gateway will run with (keys are stored as keyed hashes).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets

from gateway.db.database import open_database
from gateway.services import accounts, credits
from gateway.services.keys import hashing_key
from gateway.services.money import Nanos, parse_credits


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
        return created.api_key
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--credits", default="1000000")
    args = parser.parse_args()
    print(asyncio.run(seed(args.database_url, args.credits, os.environ["SECRET_KEY"])))


if __name__ == "__main__":
    main()
