"""Reconciling with Stripe: the events it could not deliver in the last 30 days (the most
its API lists) are applied now, each once — those that did arrive meanwhile are skipped."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from gateway.services.payments.config import Payments
from gateway.services.payments.inbox import Inbox, same_mode

DAYS = 30


@dataclass(frozen=True, slots=True)
class Reconciled:
    outcomes: dict[str, int]  # applied / ignored / deferred / duplicate / other mode

    @property
    def seen(self) -> int:
        return sum(self.outcomes.values())


async def reconcile(payments: Payments, inbox: Inbox, *, days: int = DAYS) -> Reconciled:
    since = int(time.time()) - days * 86_400
    outcomes: Counter[str] = Counter()
    missed = [event async for event in payments.api.events_since(since)]
    # Stripe lists newest first; applied oldest first, as they happened (a payment before its refund).
    for event in sorted(missed, key=lambda e: (e.get("created") or 0, str(e.get("id")))):
        if not same_mode(payments, event) or not isinstance(event.get("id"), str):
            outcomes["other mode"] += 1
            continue
        outcomes[await inbox.apply(event)] += 1
    return Reconciled(outcomes=dict(outcomes))
