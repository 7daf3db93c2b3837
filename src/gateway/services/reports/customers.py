"""Finding customers, for admins: by email or id, with balance, plan, status and recent spend."""

from __future__ import annotations

import time
from collections.abc import Sequence

from gateway.db.database import Database
from gateway.db.reports import customers
from gateway.db.reports.customers import CustomerRow

SPEND_WINDOW = 30 * 86_400


async def customers_search(
    db: Database, *, query: str | None, limit: int, after: str | None = None, now: float | None = None
) -> Sequence[CustomerRow]:
    """Customers whose email contains `query` (any case) or whose id contains it, ordered by
    id after `after`, each with what they spent in the 30 days up to `now`. A blank query
    lists everyone."""
    query = query.strip() if query is not None else None
    since = (time.time() if now is None else now) - SPEND_WINDOW
    async with db.read() as tx:
        return await customers.search(tx, query=query or None, spent_since=since, limit=limit, after=after)
