"""Events about plans bought with Stripe: a paid invoice grants its plan for the invoice's
service period, with the plan's included credits once per period; subscription changes
follow price changes and cancellations; a subscription that ends (or a period that ends
unpaid) leaves the user on the free plan.

Events come in any order. The user is known from the Stripe customer the gateway made for
them before checkout, so an `invoice.paid` before `checkout.session.completed` is applied
as it comes. An ended subscription stays ended, and a subscription change older than the
last one applied is ignored.
"""

from __future__ import annotations

from typing import Any

from gateway.db.database import Tx
from gateway.db.payments import customers, subscriptions
from gateway.db.payments.subscriptions import TERMINAL, SubscriptionRow
from gateway.db.plans import plans
from gateway.db.plans.plans import PlanRow
from gateway.services.billing import credits
from gateway.services.billing.money import Nanos
from gateway.services.payments.event import (
    Applied,
    Context,
    Event,
    Prepared,
    field,
    ignored,
    text,
    user_of_customer,
    whole,
)  # fmt: skip
from gateway.services.plans import periods

# A subscription in these states leaves its user on the free plan; only the terminal ones
# (`subscriptions.TERMINAL`) stay so.
UNPAID = ("unpaid", *TERMINAL)
# Included credits come with a period's own invoice: the first one and each renewal. An
# update's (proration) invoice belongs to a period already granted.
PERIOD_INVOICES = ("subscription_create", "subscription_cycle")


async def _plan_line(tx: Tx, invoice: dict[str, Any]) -> tuple[PlanRow, float, float] | None:
    """The first invoice line that bills a whole period of a plan's price (not a proration
    for a change within a period): (plan, period start, period end)."""
    lines = field(invoice, "lines", "data")
    for line in lines if isinstance(lines, list) else ():
        if field(line, "parent", "subscription_item_details", "proration") or field(line, "proration"):
            continue
        # API 2025-03-31 and later: pricing.price_details.price; before: price.id.
        price = text(line, "pricing", "price_details", "price") or text(line, "price")
        start, end = whole(line, "period", "start"), whole(line, "period", "end")
        plan = None if price is None else await plans.by_price(tx, price)
        if plan is not None and start is not None and end is not None and end > start:
            return plan, float(start), float(end)
    return None


async def invoice_paid(tx: Tx, event: Event, ctx: Context, prepared: Prepared) -> Applied:
    invoice = event.object
    user_id = await user_of_customer(tx, invoice)
    subscription_id = text(invoice, "parent", "subscription_details", "subscription") or text(invoice, "subscription")
    if user_id is None or subscription_id is None:
        return ignored("not a subscription of a customer of this gateway")
    found = await _plan_line(tx, invoice)
    if found is None:
        return ignored("it bills no plan's period (no plan's price, or only prorations)", user_id)
    plan, start, end = found
    current = await subscriptions.get(tx, subscription_id)
    if current is not None and current.ended:
        return ignored("the subscription has ended", user_id)
    await customers.mark_paid(tx, user_id)
    latest_end = max(end, current.period_end or end) if current else end
    if latest_end == end:  # an invoice for an earlier period never shortens the plan
        await periods.start_paid_period(
            tx, user_id=user_id, plan=plan, start=start, end=end, subscription=subscription_id
        )
    await subscriptions.put(tx, SubscriptionRow(
        subscription_id, user_id, plan.id, current.status if current else "active", latest_end,
        current.cancel_at_period_end if current else False,
        max(event.created, current.event_created) if current else event.created,
    ))  # fmt: skip
    granted = None
    if plan.included_credits > 0 and invoice.get("billing_reason") in PERIOD_INVOICES:
        # Once per period, whichever invoice (a proration one too) comes for it.
        granted = await credits.grant(
            tx, user_id=user_id, amount=Nanos(plan.included_credits), kind="plan_credits",
            reference=f"stripe:period:{subscription_id}:{int(start)}",
            description=f"{plan.name} included credits (Stripe subscription)", now=ctx.now,
        )  # fmt: skip
    amount = plan.included_credits if granted is not None else 0
    return Applied(user_id=user_id, amount=amount, detail=f"{plan.id} until {int(end)}", plan_changed=True)


async def subscription_changed(tx: Tx, event: Event, ctx: Context, prepared: Prepared) -> Applied:
    """`customer.subscription.created` / `.updated`: status, price (plan), period end,
    `cancel_at_period_end`."""
    subscription = event.object
    subscription_id, user_id = text(subscription, "id"), await user_of_customer(tx, subscription)
    if subscription_id is None or user_id is None:
        return ignored("not a subscription of a customer of this gateway")
    current = await subscriptions.get(tx, subscription_id)
    if current is not None and (current.ended or event.created < current.event_created):
        return ignored("an older state than the one applied", user_id)
    item = field(subscription, "items", "data")
    first = item[0] if isinstance(item, list) and item else {}
    price = text(first, "price")
    plan = None if price is None else await plans.by_price(tx, price)
    status = str(subscription.get("status") or "active")
    period_end = whole(first, "current_period_end")
    row = SubscriptionRow(
        subscription_id, user_id, plan.id if plan else None, status,
        float(period_end) if period_end is not None else (current.period_end if current else None),
        bool(subscription.get("cancel_at_period_end")), event.created,
    )  # fmt: skip
    await subscriptions.put(tx, row)
    if status in UNPAID:
        changed = await periods.follow_subscription(tx, user_id=user_id, subscription=subscription_id, plan_id=None)
        return Applied(user_id=user_id, detail=f"subscription {status}: free plan", plan_changed=changed)
    changed = plan is not None and await periods.follow_subscription(
        tx, user_id=user_id, subscription=subscription_id, plan_id=plan.id
    )
    detail = "cancels at the period's end" if row.cancel_at_period_end else f"status {status}"
    return Applied(user_id=user_id, detail=detail, plan_changed=changed)


async def subscription_ended(tx: Tx, event: Event, ctx: Context, prepared: Prepared) -> Applied:
    """`customer.subscription.deleted`: the user falls back to the free plan at once."""
    subscription = event.object
    subscription_id, user_id = text(subscription, "id"), await user_of_customer(tx, subscription)
    if subscription_id is None or user_id is None:
        return ignored("not a subscription of a customer of this gateway")
    current = await subscriptions.get(tx, subscription_id)
    await subscriptions.put(tx, SubscriptionRow(
        subscription_id, user_id, current.plan_id if current else None, "canceled",
        current.period_end if current else None, False,
        max(event.created, current.event_created) if current else event.created,
    ))  # fmt: skip
    changed = await periods.follow_subscription(tx, user_id=user_id, subscription=subscription_id, plan_id=None)
    return Applied(user_id=user_id, detail="subscription ended: free plan", plan_changed=changed)
