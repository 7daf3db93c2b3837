"""The gateway's periodic work as single passes, for a scheduler outside the process (Vercel
Cron), where no background task outlives a request: release the holds of dead processes,
grant plan periods' included credits, charge due auto top-ups, drop expired console sessions.

Every pass is safe to run at any time, from any process, and twice at once: each write it
makes is guarded where it is made (a hold is released by whoever deletes its row, a period's
grant is idempotent by reference, one auto top-up payment is in flight per user).
"""

from __future__ import annotations

import hmac
import logging

from gateway.db.database import Database
from gateway.errors import InvalidCronSecret, ServiceUnavailable
from gateway.services.billing import sweeping
from gateway.services.console.sessions import ConsoleSessions
from gateway.services.payments.auto_topup import AutoTopUps
from gateway.services.plans import periods
from gateway.services.plans.book import PlanBook

log = logging.getLogger("gateway.cron")

Done = dict[str, int]


def authorize(secret: str | None, authorization: str | None) -> None:
    """Vercel Cron sends `Authorization: Bearer <CRON_SECRET>`. Compared in constant time, so
    the answer's timing says nothing of how much of a guess was right."""
    if secret is None:
        raise ServiceUnavailable("the cron routes are closed on this gateway: set CRON_SECRET (16+ characters)")
    sent = (authorization or "").encode()
    if not hmac.compare_digest(sent, f"Bearer {secret}".encode()):
        raise InvalidCronSecret()


async def release_holds(db: Database, *, stale_after: float) -> Done:
    """What every process's heartbeat does: give back the holds of processes silent for
    `stale_after` seconds (crashed, or frozen functions that placed a hold and never ended it)."""
    released = await sweeping.release_orphans(db, stale_after=stale_after)
    if released:
        log.warning("cron: released %d holds left by stopped gateway processes", released)
    return {"released": released}


async def grant_plan_credits(db: Database, plans: PlanBook) -> Done:
    """Each running plan period's included credits, granted once per period whoever gets there
    first: `periods` counts the periods looked at, those granted before included (not again)."""
    return {"periods": await periods.grant_due_credits(db, plans)}


async def auto_topups(auto_topups: AutoTopUps) -> Done:
    """One pass of the auto top-up job: per outcome (`sent`, `not_needed`, `in_flight`, ...),
    how many users ended there."""
    outcomes = await auto_topups.run_once()
    return {outcome.replace(",", "").replace(" ", "_"): n for outcome, n in sorted(outcomes.items())}


async def console_sessions(console: ConsoleSessions) -> Done:
    """Expired console sessions are refused when used; this removes their rows."""
    return {"removed": await console.forget_expired()}
