"""Plans bought through Stripe, on every backend: a paid invoice puts the user on its price's
plan until the period's end and grants the included credits once per period — whichever
order the events come in; subscription changes apply only if newer than the last applied, an
ended subscription stays ended, and an admin's assignment is left alone."""

from __future__ import annotations

import time
from typing import Any

from tests.conformance.helpers import balanced_credits
from tests.conformance.test_payments_topups import SETTINGS, Gateways, history, sent
from tests.stripe_support import buy, checkout_completed, event, invoice_paid, stripe_mock, subscription
from tests.support import ADMIN, Gateway, bearer, json_decimal

DAY = 86_400
STARTER = {"id": "starter", "name": "Starter", "stripe_price_id": "price_starter", "included_credits": 5}
TEAM = {"id": "team", "name": "Team", "stripe_price_id": "price_team", "included_credits": 20}


async def plan_of(gateway: Gateway, account: dict[str, Any]) -> tuple[str, float | None]:
    response = await gateway.client.get("/user/plan", headers=bearer(account["api_key"]))
    assert response.status_code == 200, response.text
    found = json_decimal(response)
    return found["id"], found["expires_at"]


async def subscriber(gateway: Gateway, plan: str = "free") -> tuple[dict[str, Any], str, str]:
    """A customer who opened a Checkout for the Starter plan: (account, Stripe customer, session)."""
    for body in (STARTER, TEAM):
        assert (await gateway.client.post("/admin/plans", json=body, headers=ADMIN)).status_code == 201
    account = await gateway.customer("0", plan=plan)
    with stripe_mock() as stripe:
        bought = await buy(gateway, account["api_key"], kind="plan", plan_id="starter")
    return account, stripe.sent("/v1/checkout/sessions")[-1]["customer"], bought["session_id"]


def paid(customer: str, start: int, *, invoice: str, created: int | None = None, **fields: Any) -> dict[str, Any]:
    document = invoice_paid(invoice, customer, "sub_1", price="price_starter", start=start, end=start + 30 * DAY,
                            **fields)  # fmt: skip
    return event("invoice.paid", document, created=created)


async def test_a_paid_invoice_grants_the_plan_until_its_period_ends_once_per_period(gateways: Gateways) -> None:
    async with gateways(**SETTINGS) as gateway:
        account, customer, session = await subscriber(gateway)
        start = int(time.time()) - 60
        first = paid(customer, start, invoice="in_1")
        await sent(gateway, first)  # before checkout.session.completed
        assert await plan_of(gateway, account) == ("starter", start + 30 * DAY)
        assert await balanced_credits(gateway, account) == 5
        await sent(gateway, first, "duplicate")
        proration = paid(customer, start, invoice="in_2", reason="subscription_update")  # same period
        await sent(gateway, proration)
        completed = checkout_completed(
            session, customer, cents=2000, payment_intent="pi_sub", user_id=account["user_id"]
        )
        completed |= {
            "mode": "subscription",
            "subscription": "sub_1",
            "metadata": {"kind": "plan", "plan_id": "starter"},
        }
        await sent(gateway, event("checkout.session.completed", completed), "ignored")  # changes no credits
        assert await balanced_credits(gateway, account) == 5
        renewal = paid(customer, start + 30 * DAY, invoice="in_3", reason="subscription_cycle")
        await sent(gateway, renewal)
        assert await plan_of(gateway, account) == ("starter", start + 60 * DAY)
        await sent(gateway, first, "duplicate")
        late_copy = paid(customer, start, invoice="in_1")  # the first period's invoice, a new event
        await sent(gateway, late_copy)
        assert await plan_of(gateway, account) == ("starter", start + 60 * DAY)  # never shortened
        assert await balanced_credits(gateway, account) == 10
        entries = await history(gateway)
        assert [entries[d["id"]]["amount"] for d in (first, proration, renewal, late_copy)] == [5, 0, 5, 0]
        assert entries[first["id"]]["user_id"] == account["user_id"]


async def test_subscription_changes_apply_in_order_and_an_ended_one_stays_ended(gateways: Gateways) -> None:
    async with gateways(**SETTINGS) as gateway:
        account, customer, _ = await subscriber(gateway)
        start, t0 = int(time.time()) - 60, int(time.time()) - 1000
        end = start + 30 * DAY
        await sent(gateway, paid(customer, start, invoice="in_1", created=t0))

        def changed(created: int, *, price: str = "price_starter", **fields: Any) -> dict[str, Any]:
            document = subscription("sub_1", customer, price=price, period_end=end, **fields)
            return event("customer.subscription.updated", document, created=created)

        await sent(gateway, changed(t0 + 10, cancel_at_period_end=True))
        assert await plan_of(gateway, account) == ("starter", end)  # cancels at the period's end
        older = changed(t0 + 5, price="price_team")  # made before the one applied
        await sent(gateway, older, "ignored")
        assert await plan_of(gateway, account) == ("starter", end)
        deleted = event("customer.subscription.deleted",
                        subscription("sub_1", customer, price="price_starter", status="canceled", period_end=end),
                        created=t0 + 20)  # fmt: skip
        await sent(gateway, deleted)
        assert (await plan_of(gateway, account))[0] == "free"  # at once
        await sent(gateway, changed(t0 + 30), "ignored")  # active again, later: the subscription ended
        await sent(gateway, paid(customer, start + 30 * DAY, invoice="in_2", created=t0 + 40), "ignored")
        assert (await plan_of(gateway, account))[0] == "free"
        assert await balanced_credits(gateway, account) == 5


async def test_a_switch_to_another_price_follows_the_subscription(gateways: Gateways) -> None:
    async with gateways(**SETTINGS) as gateway:
        account, customer, _ = await subscriber(gateway)
        start = int(time.time()) - 60
        await sent(gateway, paid(customer, start, invoice="in_1"))
        switched = subscription("sub_1", customer, price="price_team", period_end=start + 30 * DAY)
        await sent(gateway, event("customer.subscription.updated", switched, created=int(time.time()) + 5))
        assert await plan_of(gateway, account) == ("team", start + 30 * DAY)
        assert await balanced_credits(gateway, account) == 5  # the Team plan's credits come with its invoice


async def test_an_admin_assigned_plan_is_not_touched_by_subscription_events(gateways: Gateways) -> None:
    async with gateways(**SETTINGS) as gateway:
        account, customer, _ = await subscriber(gateway, plan="enterprise")
        before = await plan_of(gateway, account)
        assert before[0] == "enterprise"
        end = int(time.time()) + 30 * DAY
        for event_type, status in (
            ("customer.subscription.created", "active"),
            ("customer.subscription.updated", "past_due"),
            ("customer.subscription.deleted", "canceled"),
        ):
            document = subscription("sub_1", customer, price="price_team", status=status, period_end=end)
            await sent(gateway, event(event_type, document))
            assert await plan_of(gateway, account) == before, event_type
        assert await balanced_credits(gateway, account) == 0


async def test_the_end_of_a_replaced_subscription_leaves_the_newer_one_in_force(gateways: Gateways) -> None:
    """A customer on Starter (sub_1) buys Team with a second Checkout (sub_2), then cancels
    sub_1: they paid for Team, and stay on it."""
    async with gateways(**SETTINGS) as gateway:
        account, customer, _ = await subscriber(gateway)
        start = int(time.time()) - 60
        await sent(gateway, paid(customer, start, invoice="in_1"))
        with stripe_mock():
            await buy(gateway, account["api_key"], kind="plan", plan_id="team")
        team = invoice_paid("in_2", customer, "sub_2", price="price_team", start=start + 30, end=start + 30 + 30 * DAY)
        await sent(gateway, event("invoice.paid", team))
        assert await plan_of(gateway, account) == ("team", start + 30 + 30 * DAY)
        old = subscription("sub_1", customer, price="price_starter", status="canceled", period_end=start + 30 * DAY)
        await sent(gateway, event("customer.subscription.deleted", old))
        assert await plan_of(gateway, account) == ("team", start + 30 + 30 * DAY)
        assert await balanced_credits(gateway, account) == 25


def proration_line(line: dict[str, Any]) -> dict[str, Any]:
    details = line["parent"]["subscription_item_details"]
    return {**line, "parent": {**line["parent"], "subscription_item_details": {**details, "proration": True}}}


async def test_an_upgrade_proration_grants_no_credits_and_never_moves_the_plan(gateways: Gateways) -> None:
    """An upgrade within a period is billed by proration lines starting mid-period: they are
    not a period of a plan — no included credits, no plan set back — and a renewal that carries
    pending prorations still extends the plan by its period line."""
    async with gateways(**SETTINGS) as gateway:
        account, customer, _ = await subscriber(gateway)
        start = int(time.time()) - 10 * DAY
        await sent(gateway, paid(customer, start, invoice="in_1"))
        switched = subscription("sub_1", customer, price="price_team", period_end=start + 30 * DAY)
        await sent(gateway, event("customer.subscription.updated", switched))
        assert await plan_of(gateway, account) == ("team", start + 30 * DAY)
        middle = int(time.time())
        unused = invoice_paid("in_2", customer, "sub_1", price="price_starter", start=middle, end=start + 30 * DAY,
                              reason="subscription_update")  # fmt: skip
        remaining = invoice_paid("in_2", customer, "sub_1", price="price_team", start=middle, end=start + 30 * DAY)
        unused["lines"]["data"] = [
            proration_line(unused["lines"]["data"][0]),
            proration_line(remaining["lines"]["data"][0]),
        ]
        await sent(gateway, event("invoice.paid", unused), "ignored")
        assert await plan_of(gateway, account) == ("team", start + 30 * DAY)
        assert await balanced_credits(gateway, account) == 5  # Starter's first period only
        renewal = invoice_paid("in_3", customer, "sub_1", price="price_team", start=start + 30 * DAY,
                               end=start + 60 * DAY, reason="subscription_cycle")  # fmt: skip
        renewal["lines"]["data"].insert(0, proration_line(unused["lines"]["data"][1]))
        await sent(gateway, event("invoice.paid", renewal))
        assert await plan_of(gateway, account) == ("team", start + 60 * DAY)
        assert await balanced_credits(gateway, account) == 25


async def test_an_unpaid_subscription_falls_back_to_free_until_it_is_paid_again(gateways: Gateways) -> None:
    async with gateways(**SETTINGS) as gateway:
        account, customer, _ = await subscriber(gateway)
        start, later = int(time.time()) - 60, int(time.time()) + 5
        await sent(gateway, paid(customer, start, invoice="in_1"))
        unpaid = subscription("sub_1", customer, price="price_starter", status="unpaid", period_end=start + 30 * DAY)
        await sent(gateway, event("customer.subscription.updated", unpaid, created=later))
        assert (await plan_of(gateway, account))[0] == "free"
        await sent(gateway, paid(customer, start + 30 * DAY, invoice="in_2", reason="subscription_cycle"))
        assert await plan_of(gateway, account) == ("starter", start + 60 * DAY)


async def test_an_account_with_a_running_subscription_is_not_closed(gateways: Gateways) -> None:
    async with gateways(**SETTINGS) as gateway:
        account, customer, _ = await subscriber(gateway)
        await sent(gateway, paid(customer, int(time.time()) - 60, invoice="in_1"))
        closing = await gateway.client.delete(
            "/user/account?confirmation=DELETE_ACCOUNT", headers=bearer(account["api_key"])
        )
        assert closing.status_code == 400 and "subscription" in closing.json()["error"]["message"]
        ended = subscription("sub_1", customer, price="price_starter", status="canceled", period_end=int(time.time()))
        await sent(gateway, event("customer.subscription.deleted", ended))
        closed = await gateway.client.delete(
            "/user/account?confirmation=DELETE_ACCOUNT", headers=bearer(account["api_key"])
        )
        assert closed.status_code == 200
