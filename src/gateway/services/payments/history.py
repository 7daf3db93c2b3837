"""What operators see of payments: every webhook event, what it did and for whom."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.db.database import Database
from gateway.db.payments import events
from gateway.db.payments.events import EventRow


async def events_page(db: Database, *, limit: int, after: str | None) -> Sequence[EventRow]:
    """Newest first; `after` is the last event id of the previous page."""
    async with db.read() as tx:
        return await events.page(tx, limit=limit, after=after)
