"""Events about payments for credits: a paid Checkout, an auto top-up's PaymentIntent, and
money going back — refunds (by the increase of `amount_refunded`) and disputes — matched to
their top-up by PaymentIntent. Credits come only from what Stripe collected, never from
metadata or anything the client sent; taking them back never takes a balance below zero (the
rest is the shortfall, on the ledger row). A refund or dispute that comes before its payment's
credits were granted waits (`deferred`) and is applied when they are.
"""

from __future__ import annotations

import orjson

from gateway.db.database import Tx
from gateway.db.payments import customers, events, topups
from gateway.db.payments.topups import TopUpRow
from gateway.services.billing import credits
from gateway.services.billing.money import Nanos, credits_text
from gateway.services.payments.config import usd
from gateway.services.payments.event import Applied, Context, Event, Prepared, ignored, text, user_of_customer, whole
from gateway.services.payments.stripe_api import declined_because

PAID = ("paid", "no_payment_required")


def _usd(cents: int) -> str:
    return f"${usd(cents):.2f}"


async def _grant_topup(
    tx: Tx, ctx: Context, *, user_id: str, payment_intent: str, cents: int, source: str, reference: str
) -> Applied:
    """Credits for `cents` collected, once per `reference`; the payment is recorded for its
    refunds and disputes, and those that came first apply now."""
    await topups.lock(tx, payment_intent)  # before its refunds look for it (see `refunded`)
    amount = ctx.payments.credits_for(cents)
    auto = source == "auto"
    granted = await credits.grant(
        tx, user_id=user_id, amount=amount, kind="stripe_auto_topup" if auto else "stripe_topup",
        reference=reference, description=f"{'auto top-up' if auto else 'Stripe top-up'}, {_usd(cents)} paid",
        now=ctx.now,
    )  # fmt: skip
    if granted is None:
        return ignored("this payment's credits were granted already", user_id)
    await topups.insert(
        tx, payment_intent=payment_intent, user_id=user_id, source=source, amount_cents=cents, granted=amount,
        now=ctx.now,
    )  # fmt: skip
    await customers.mark_paid(tx, user_id)
    await _apply_deferred(tx, payment_intent, ctx)
    return Applied(user_id=user_id, amount=amount, detail=f"{'auto top-up ' if auto else ''}{_usd(cents)} paid")


async def checkout_paid(tx: Tx, event: Event, ctx: Context, prepared: Prepared) -> Applied:
    """`checkout.session.completed` / `.async_payment_succeeded`: a paid top-up's credits
    (once per session, whichever of the two comes first); a subscription's first payment is
    granted by its invoice."""
    session = event.object
    session_id = text(session, "id")
    if session_id is None:
        return ignored("no session id")
    ours = await customers.checkout(tx, session_id)
    user_id = ours.user_id if ours else await user_of_customer(tx, session)
    if user_id is None:
        return ignored("not a checkout of this gateway")
    if session.get("mode") != "payment":
        await customers.mark_paid(tx, user_id)
        return ignored("a subscription's periods are granted by its paid invoices", user_id)
    paid = _collected(session)
    if isinstance(paid, str):
        return ignored(paid, user_id)
    cents, payment_intent = paid
    applied = await _grant_topup(
        tx, ctx, user_id=user_id, payment_intent=payment_intent, cents=cents, source="checkout",
        reference=f"stripe:checkout:{session_id}",
    )  # fmt: skip
    if applied.outcome == "applied" and prepared.payment_method is not None:  # asked for: see Inbox._prepare
        await customers.save_card(tx, user_id=user_id, payment_method=prepared.payment_method)
    return applied


def _collected(session: dict[str, object]) -> tuple[int, str] | str:
    """(cents collected in USD, its PaymentIntent), or why there is nothing to grant."""
    if session.get("payment_status") not in PAID:
        return "not paid yet (the payment method settles later)"
    cents, payment_intent = whole(session, "amount_total"), text(session, "payment_intent")
    if cents is None or cents <= 0 or session.get("currency") != "usd" or payment_intent is None:
        return "nothing collected in USD"
    return cents, payment_intent


def _attempt(intent: dict[str, object]) -> str | None:
    # The gateway wrote this itself when it created the PaymentIntent (the client cannot).
    return text(intent, "metadata", "gateway_auto_topup")


async def _auto_topup_user(tx: Tx, intent: dict[str, object], payment_intent: str) -> str | None:
    """Whose auto top-up made this payment: by the attempt the gateway has in flight, or — for
    a payment the gateway made (it names the attempt) once that attempt is over — by its
    customer, which the gateway made for the user."""
    attempt = _attempt(intent)
    found = await topups.user_of_attempt(tx, payment_intent=payment_intent, attempt_id=attempt)
    if found is None and attempt is not None:
        found = await user_of_customer(tx, intent)
    return found


async def auto_topup_paid(tx: Tx, event: Event, ctx: Context, prepared: Prepared) -> Applied:
    """`payment_intent.succeeded` of an auto top-up: `amount_received` buys the credits."""
    intent = event.object
    payment_intent = text(intent, "id")
    if payment_intent is None:
        return ignored("no payment intent id")
    user_id = await _auto_topup_user(tx, intent, payment_intent)
    if user_id is None:
        return ignored("not an auto top-up (a Checkout's payment is granted by its session)")
    cents = whole(intent, "amount_received")
    if cents is None or cents <= 0 or intent.get("currency") != "usd":
        return ignored("nothing received in USD", user_id)
    await topups.end_attempt(tx, user_id=user_id, attempt_id=_attempt(intent), outcome="succeeded")
    return await _grant_topup(
        tx, ctx, user_id=user_id, payment_intent=payment_intent, cents=cents, source="auto",
        reference=f"stripe:topup:{payment_intent}",
    )  # fmt: skip


async def auto_topup_failed(tx: Tx, event: Event, ctx: Context, prepared: Prepared) -> Applied:
    """`payment_intent.payment_failed` of an auto top-up: it is turned off, saying why."""
    intent = event.object
    payment_intent = text(intent, "id")
    user_id = None if payment_intent is None else await _auto_topup_user(tx, intent, payment_intent)
    if user_id is None:
        return ignored("not an auto top-up")
    error = intent.get("last_payment_error")
    reason = declined_because(
        text(error, "message") or "the payment failed", text(error, "decline_code") or text(error, "code")
    )
    await topups.end_attempt(
        tx, user_id=user_id, attempt_id=_attempt(intent), outcome="declined", disable_because=reason
    )
    return Applied(user_id=user_id, detail=reason, auto_topup_changed=True)


async def refunded(tx: Tx, event: Event, ctx: Context, prepared: Prepared) -> Applied:
    """`charge.refunded`: `amount_refunded` is cumulative; the increase since the last one
    seen takes back its share of the payment's credits."""
    charge = event.object
    payment_intent, refunded_cents = text(charge, "payment_intent"), whole(charge, "amount_refunded")
    if payment_intent is None or refunded_cents is None:
        return ignored("not a refund of a payment")
    # Locked even while the payment has no row: its grant (which applies what waits) and this
    # (which waits when there is no row) must not miss each other.
    await topups.lock(tx, payment_intent)
    found = await topups.get(tx, payment_intent)
    if found is None:
        return await _defer(tx, event, payment_intent)
    refunded_cents = min(refunded_cents, found.amount_cents)
    if refunded_cents <= found.refunded_cents:
        return ignored("no refund beyond those already applied", found.user_id)
    # Cumulative, so partial refunds never drift from the whole payment's share (rounded up,
    # in integers: money is never a float).
    share = -(-found.granted * refunded_cents // found.amount_cents)
    remaining = found.granted - found.refund_taken - found.dispute_taken
    amount = Nanos(max(0, min(share - found.refund_taken, remaining)))
    await topups.set_refunded(
        tx, payment_intent=payment_intent, refunded_cents=refunded_cents, refund_taken=found.refund_taken + amount
    )
    return await _take_back(
        tx, ctx, found, amount, kind="stripe_refund", reference=f"stripe:refund:{payment_intent}:{refunded_cents}",
        description=f"refund of {_usd(refunded_cents)} of {_usd(found.amount_cents)}",
    )  # fmt: skip


async def _take_back(
    tx: Tx, ctx: Context, found: TopUpRow, amount: Nanos, *, kind: str, reference: str, description: str
) -> Applied:
    took, short = await credits.take_back(
        tx, user_id=found.user_id, amount=amount, kind=kind, reference=reference, description=description,
        now=ctx.now,
    )  # fmt: skip
    note = f"the balance could not give back {credits_text(short)} credits" if short else None
    return Applied(user_id=found.user_id, amount=-took, shortfall=short, detail=note)


async def _defer(tx: Tx, event: Event, payment_intent: str) -> Applied:
    """Money going back for a payment whose credits are not granted (yet): its events came in
    another order, or it is not a top-up (a subscription's payment, which buys no credits).
    It waits for the top-up; if none comes, it never takes anything."""
    payload = orjson.dumps(event.object).decode()
    await events.defer(
        tx, event_id=event.id, payment_intent=payment_intent, event_type=event.type, created_at=event.created,
        payload=payload,
    )  # fmt: skip
    return Applied(outcome="deferred", detail="waits for its payment's credits (not granted yet, or not a top-up)")


async def _apply_deferred(tx: Tx, payment_intent: str, ctx: Context) -> None:
    """A top-up's credits were just granted: the refunds and disputes that came first apply now."""
    for event_id, event_type, created, payload in await events.take_deferred(tx, payment_intent):
        waiting = Event(id=event_id, type=event_type, created=created, object=orjson.loads(payload))
        handler = refunded if event_type == "charge.refunded" else disputed
        applied = await handler(tx, waiting, ctx, Prepared())
        await events.record(
            tx, event_id=event_id, user_id=applied.user_id, amount=applied.amount, shortfall=applied.shortfall,
            outcome=applied.outcome, detail=applied.detail,
        )  # fmt: skip


async def disputed(tx: Tx, event: Event, ctx: Context, prepared: Prepared) -> Applied:
    """`charge.dispute.*`: funds withdrawn or a lost dispute take back the payment's credits
    (what refunds left); a won dispute, or funds reinstated, give back what was taken. A
    dispute won is remembered, so a withdrawal of it delivered late takes nothing."""
    dispute = event.object
    payment_intent, dispute_id = text(dispute, "payment_intent"), text(dispute, "id")
    if payment_intent is None or dispute_id is None:
        return ignored("not a dispute of a payment")
    await topups.lock(tx, payment_intent)  # as for refunds
    found = await topups.get(tx, payment_intent)
    if found is None:
        return await _defer(tx, event, payment_intent)
    status = dispute.get("status")
    closed = event.type == "charge.dispute.closed"
    lost = event.type == "charge.dispute.funds_withdrawn" or (closed and status == "lost")
    won = event.type == "charge.dispute.funds_reinstated" or (closed and status == "won")
    if lost:
        return await _dispute_lost(tx, ctx, found, dispute_id)
    if won:
        return await _dispute_won(tx, ctx, found, dispute_id)
    return ignored(f"nothing to do for a dispute that is {status}", found.user_id)


async def _dispute_lost(tx: Tx, ctx: Context, found: TopUpRow, dispute_id: str) -> Applied:
    if found.dispute_status == "lost":
        return ignored("the dispute's credits were taken back already", found.user_id)
    if found.dispute_status == "won" and found.dispute_id == dispute_id:
        return ignored("the dispute was won already", found.user_id)
    amount = Nanos(max(0, found.granted - found.refund_taken))
    applied = await _take_back(
        tx, ctx, found, amount, kind="stripe_dispute", reference=f"stripe:dispute:{dispute_id}",
        description=f"dispute of a {_usd(found.amount_cents)} payment",
    )  # fmt: skip
    await topups.set_dispute(
        tx, payment_intent=found.payment_intent, dispute_id=dispute_id, status="lost", taken=-applied.amount
    )
    return applied


async def _dispute_won(tx: Tx, ctx: Context, found: TopUpRow, dispute_id: str) -> Applied:
    if found.dispute_status != "lost":  # nothing was taken: remembered, so a late withdrawal takes nothing
        await topups.set_dispute(tx, payment_intent=found.payment_intent, dispute_id=dispute_id, status="won", taken=0)
        return ignored("nothing was taken for the dispute", found.user_id)
    if found.dispute_id != dispute_id:
        return ignored("another dispute took the credits", found.user_id)
    # Only what was taken comes back: a shortfall was never taken.
    await credits.grant(
        tx, user_id=found.user_id, amount=Nanos(found.dispute_taken), kind="stripe_dispute_won",
        reference=f"stripe:dispute:{dispute_id}:won", description="dispute won: credits reinstated", now=ctx.now,
    )  # fmt: skip
    await topups.set_dispute(tx, payment_intent=found.payment_intent, dispute_id=dispute_id, status="won", taken=0)
    return Applied(user_id=found.user_id, amount=found.dispute_taken, detail="dispute won")
