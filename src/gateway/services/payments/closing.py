"""What closing an account means for payments: no subscription may keep charging the
customer, and auto top-up stops."""

from __future__ import annotations

import time

from gateway.db.database import Tx
from gateway.db.payments import subscriptions, topups
from gateway.errors import InvalidRequest


async def before_closing(tx: Tx, *, user_id: str) -> None:
    """Inside the transaction that closes the account: refuse while a subscription runs (the
    customer cancels it in the billing portal first); switch auto top-up off."""
    if await subscriptions.running_for(tx, user_id):
        raise InvalidRequest(
            "a subscription is still running: cancel it in the billing portal (POST /user/billing-portal) first",
            param="confirmation",
        )
    await topups.switch_off(tx, user_id=user_id, reason="the account was closed", now=time.time())
