"""Auto top-up: when a settlement leaves a customer's credits below their threshold, a
background job (never the request path) charges their saved card off-session — one payment
in flight per user, across every process — and the credits come only from the payment's
`payment_intent.succeeded`. A decline turns auto top-up off and says why.

The request path does one dictionary lookup per settlement (`settled`): the thresholds of
the users who turned it on are kept in memory, reloaded when anyone changes them and every
minute (a change made by another process).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

from gateway.db.database import Database, Tx
from gateway.db.payments import customers, topups
from gateway.db.payments.topups import AutoTopUpRow
from gateway.errors import InvalidRequest, ReferenceConflict
from gateway.ids import new_id
from gateway.services.billing import balances
from gateway.services.billing.money import Nanos, credits_text
from gateway.services.payments.config import Payments, cents_of
from gateway.services.payments.stripe_api import Declined, PaymentProviderError

log = logging.getLogger("gateway.payments")
RELOAD_SECONDS = 60.0
# A payment whose outcome is unknown (Stripe could not be reached) is sent again after this,
# with the same idempotency key: Stripe answers with the first one if it was made.
RESEND_AFTER = 60.0  # seconds
# An idempotency key lives 24 hours at Stripe: an attempt whose outcome stays unknown that long
# is not sent again (it might charge twice); its success, if any, is still granted by its event.
GIVE_UP_AFTER = 23 * 3600.0
# However low the balance goes, at most this many automatic charges a day.
MAX_PER_DAY = 5


@dataclass(frozen=True, slots=True)
class Settings:
    enabled: bool
    threshold: Nanos
    amount_cents: int
    card_saved: bool
    disabled_reason: str | None
    in_flight: bool
    last_outcome: str | None


def _settings(row: AutoTopUpRow | None, card_saved: bool) -> Settings:
    if row is None:
        return Settings(False, Nanos(0), 0, card_saved, None, False, None)
    return Settings(
        row.enabled, Nanos(row.threshold), row.amount_cents, card_saved, row.disabled_reason,
        row.attempt_id is not None, row.last_outcome,
    )  # fmt: skip


async def _attempt(tx: Tx, settings: AutoTopUpRow, *, now: float) -> tuple[str | None, str]:
    """The attempt to send — a new one, claimed (one in flight per user, across processes), or
    one whose outcome is unknown, sent again with its key — or why there is none."""
    user_id, attempt = settings.user_id, settings.attempt_id
    unknown_for = now - (settings.attempt_started_at or now)
    if attempt is None:
        if await topups.auto_count_since(tx, user_id=user_id, since=now - 86_400) >= MAX_PER_DAY:
            return None, "daily limit"
        attempt = new_id("atu")
        if await topups.claim_attempt(tx, user_id=user_id, attempt_id=attempt, now=now):
            return attempt, "new"
        return None, "in flight"  # another process claimed it first
    if unknown_for > GIVE_UP_AFTER:
        # Sent but its outcome never heard (an event lost: reconcile finds it), or never known
        # to be sent: the next payment may start. A late success is still granted by its event.
        outcome = "no outcome heard" if settings.payment_intent is not None else "unknown (not sent again)"
        await topups.end_attempt(tx, user_id=user_id, attempt_id=attempt, outcome=outcome)
        return None, "given up"
    if settings.payment_intent is not None or unknown_for <= RESEND_AFTER:
        return None, "in flight"
    return attempt, "sent again"


class _NotNeeded(Exception):
    """The balance is back above the threshold: nothing to pay."""


class AutoTopUps:
    def __init__(self, db: Database, payments: Payments) -> None:
        self._db = db
        self._payments = payments
        self._thresholds: dict[str, int] = {}
        self._due: set[str] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.on_change: Callable[[], Awaitable[None]] | None = None  # tells the other processes

    # --- the request path -------------------------------------------------------------------

    def settled(self, user_id: str, credits: int) -> None:
        """A settlement left `credits`: below the user's threshold, the job is woken."""
        threshold = self._thresholds.get(user_id)
        if threshold is not None and credits < threshold and user_id not in self._due:
            self._due.add(user_id)
            self._wake.set()

    # --- settings ---------------------------------------------------------------------------

    async def get(self, *, user_id: str) -> Settings:
        async with self._db.read() as tx:
            row = await topups.auto_settings(tx, user_id)
            customer = await customers.of_user(tx, user_id)
        return _settings(row, customer is not None and customer.payment_method is not None)

    async def put(
        self, *, user_id: str, enabled: bool, threshold: Nanos | None, amount_usd: Decimal | None
    ) -> Settings:
        """New settings; a field not given keeps its value. On needs a saved card, a threshold
        and an amount."""
        async with self._db.transaction() as tx:
            current = await topups.auto_settings(tx, user_id)
            customer = await customers.of_user(tx, user_id)
            if enabled and (customer is None or customer.payment_method is None):
                raise InvalidRequest(
                    "auto top-up needs a saved card: buy credits once with save_card: true", param="enabled"
                )
            cents = cents_of(amount_usd) if amount_usd is not None else (current.amount_cents if current else None)
            threshold = threshold if threshold is not None else (Nanos(current.threshold) if current else None)
            if cents is None or threshold is None:
                raise InvalidRequest("give 'threshold' and 'amount_usd'", param="threshold" if cents else "amount_usd")
            if threshold < 0:
                raise InvalidRequest("'threshold' must not be negative", param="threshold")
            bought = self._payments.credits_for(cents)
            if threshold > bought:
                # So that one payment lifts an empty balance above it, rather than a string of them.
                raise InvalidRequest(
                    f"'threshold' may be at most what one top-up buys ({credits_text(bought)} credits)",
                    param="threshold",
                )
            await topups.put_settings(
                tx, user_id=user_id, enabled=enabled, threshold=threshold, amount_cents=cents, now=time.time()
            )
        await self.changed()
        if enabled:  # already below the threshold: top up now
            self.settled(user_id, (await balances.balance_of(self._db, user_id=user_id)).credits)
        return await self.get(user_id=user_id)

    # --- the job ----------------------------------------------------------------------------

    async def start(self) -> None:
        await self.reload()
        self._tasks = [
            asyncio.create_task(self._work(), name="auto-topup"),
            asyncio.create_task(self._reload_now_and_then(), name="auto-topup-reload"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def reload(self, _: str = "") -> None:
        async with self._db.read() as tx:
            self._thresholds = await topups.enabled_thresholds(tx)

    async def changed(self) -> None:
        """Settings changed: reload here now and, through `on_change`, everywhere."""
        await self.reload()
        if self.on_change is not None:
            await self.on_change()

    async def _reload_now_and_then(self) -> None:
        while True:
            await asyncio.sleep(RELOAD_SECONDS)
            try:
                await self.reload()
            except Exception:
                log.exception("reloading auto top-up settings failed; retrying")

    @property
    def idle(self) -> bool:
        """Every wake-up given so far has been handled (what tests and a shutdown wait for)."""
        return not self._due and not self._wake.is_set()

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            for user_id in list(self._due):
                try:
                    await self.top_up(user_id)
                except Exception:
                    log.exception("auto top-up of %s failed; retrying at the next settlement", user_id)
                finally:
                    self._due.discard(user_id)

    async def run_once(self) -> dict[str, int]:
        """One pass over every user, not only those a settlement here woke: each whose auto top-up
        is on and whose credits are below the threshold (a payment of unknown outcome is sent
        again here too). Where no job outlives a request (Vercel), the cron route runs this.
        Returns how many users ended in each outcome."""
        await self.reload()
        outcomes: Counter[str] = Counter()
        for user_id, threshold in list(self._thresholds.items()):
            try:
                if (await balances.balance_of(self._db, user_id=user_id)).credits < threshold:
                    outcomes[await self.top_up(user_id)] += 1
            except Exception:
                log.exception("auto top-up of %s failed; retrying at the next pass", user_id)
                outcomes["failed"] += 1
        return dict(outcomes)

    async def top_up(self, user_id: str) -> str:
        """One off-session payment for the user, if still below the threshold and none is in
        flight: "sent", "declined", "unknown" (Stripe unreachable: sent again later) or why not."""
        try:
            async with self._db.transaction() as tx:
                settings = await topups.auto_settings(tx, user_id)
                customer = await customers.of_user(tx, user_id)
                if settings is None or not settings.enabled or customer is None or customer.payment_method is None:
                    return "off, or no card"
                attempt, why_not = await _attempt(tx, settings, now=time.time())
                if attempt is None:
                    return why_not
                # Read after the claim: a payment that succeeded just before it is counted here.
                if (await balances.balance_in(tx, user_id=user_id)).credits >= settings.threshold:
                    raise _NotNeeded()  # and the claim is rolled back
        except _NotNeeded:
            return "not needed"
        return await self._charge(
            user_id, attempt=attempt, customer=customer.customer_id, card=customer.payment_method,
            cents=settings.amount_cents,
        )  # fmt: skip

    async def _charge(self, user_id: str, *, attempt: str, customer: str, card: str, cents: int) -> str:
        try:
            payment_intent = await self._payments.api.charge_off_session(
                customer=customer, payment_method=card, amount_cents=cents,
                idempotency_key=f"gw-auto-topup-{attempt}", metadata={"gateway_auto_topup": attempt},
            )  # fmt: skip
        except Declined as declined:
            async with self._db.transaction() as tx:
                await topups.end_attempt(
                    tx, user_id=user_id, attempt_id=attempt, outcome="declined", disable_because=declined.reason
                )
            await self.changed()
            return "declined"
        except PaymentProviderError:
            return "unknown"
        except ReferenceConflict:  # Stripe refuses the attempt's key (the amount changed since): start over
            async with self._db.transaction() as tx:
                await topups.end_attempt(tx, user_id=user_id, attempt_id=attempt, outcome="refused by Stripe")
            return "refused"
        async with self._db.transaction() as tx:
            await topups.attempt_sent(tx, user_id=user_id, attempt_id=attempt, payment_intent=payment_intent)
        return "sent"
