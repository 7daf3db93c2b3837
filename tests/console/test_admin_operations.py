"""Admin: payment webhook events, the audit chains' check and entries, and the system figures."""

from __future__ import annotations

from typing import Any

from tests.console_support import console_for
from tests.stripe_support import STRIPE_SETTINGS, checkout_completed, deliver, event, stripe_mock
from tests.support import ADMIN_KEY, Gateway, bearer


async def test_without_stripe_the_payments_page_says_so(gateway: Gateway) -> None:
    async with console_for(gateway, ADMIN_KEY) as console:
        page = await console.get("/console/admin/payments")
    assert page.status_code == 200
    assert "Payments are not configured" in page.text and "No webhook events yet" in page.text


async def test_the_payments_page_lists_webhook_events_and_what_they_did(gateway_factory: Any) -> None:
    async with gateway_factory(**STRIPE_SETTINGS, public_base_url="https://gw.example.com") as gateway:
        account = await gateway.customer("0")
        with stripe_mock() as stripe:
            bought = await gateway.client.post(
                "/user/checkout", json={"kind": "credits", "amount_usd": 5}, headers=bearer(account["api_key"])
            )
            customer = stripe.sent("/v1/checkout/sessions")[0]["customer"]
        paid = checkout_completed(bought.json()["session_id"], customer, cents=500, payment_intent="pi_1")
        assert (await deliver(gateway, event("checkout.session.completed", paid))).status_code == 200
        assert (await deliver(gateway, event("customer.created", {"id": customer}))).status_code == 200
        async with console_for(gateway, ADMIN_KEY) as console:
            page = (await console.get("/console/admin/payments")).text
    assert "not configured" not in page
    completed = page.split("checkout.session.completed", 1)[1].split("</tr>", 1)[0]
    assert account["user_id"] in completed and "+5.00 credits granted" in completed and "applied" in completed
    assert "customer.created" in page
    assert page.index("customer.created") < page.index("checkout.session.completed")  # newest first


async def test_verifying_the_audit_chains_shows_the_entries_checked_and_valid(gateway: Gateway) -> None:
    account = await gateway.customer("3")
    async with console_for(gateway, ADMIN_KEY) as console:
        page = (await console.get("/console/admin/audit")).text
        assert "Verify chains" in page and "entries checked" not in page
        every = (await console.post("/console/admin/audit/verify", {"user_id": ""})).text
        one = (await console.post("/console/admin/audit/verify", {"user_id": account["user_id"]})).text
        entries = (await console.get("/console/admin/audit", user_id=account["user_id"])).text
        unknown = (await console.get("/console/admin/audit", user_id="usr_<nobody>")).text
    for verified in (every, one):
        assert "Valid: every chain checked is intact." in verified
    assert "2 entries checked" in one  # the top-up and the plan assignment
    assert "credits.changed" in one and "plan.assigned" in one  # that user's entries shown with the result
    assert "credits.changed" in entries and "plan.assigned" in entries
    assert "No audit entries for this user id." in unknown and "usr_&lt;nobody&gt;" in unknown


async def test_a_broken_chain_is_reported_with_its_first_broken_link(gateway: Gateway) -> None:
    account = await gateway.customer("3")
    async with gateway.runtime.db.transaction() as tx:  # what raw database access could do
        await tx.execute("DROP TRIGGER audit_no_update")
        await tx.execute("UPDATE audit_log SET details = '{}' WHERE user_id = $1 AND seq = 1", account["user_id"])
    async with console_for(gateway, ADMIN_KEY) as console:
        page = (await console.post("/console/admin/audit/verify", {})).text
    assert "Valid" not in page
    assert f"Broken: user <code>{account['user_id']}</code>, entry 1" in page and "its contents were changed" in page


async def test_the_system_page_shows_the_monitor_figures_and_the_processes(gateway: Gateway) -> None:
    account = await gateway.customer("3")
    assert (await gateway.chat(account["api_key"], model="sim/gpt-small")).status_code == 200
    await gateway.client.get("/user/balance", headers=bearer(account["api_key"]))
    async with console_for(gateway, ADMIN_KEY) as console:
        page = (await console.get("/console/admin/system")).text
    assert gateway.runtime.instance_id in page and "served this page</span>" in page and "alive</span>" in page
    assert "1 alive in the last minute" in page
    assert f"<code>{account['user_id']}</code>" in page.split("Top customers", 1)[1]
    assert "<code>sim/gpt-small</code>" in page.split("Top models", 1)[1]
    assert "completed</span>" in page.split("Outcomes", 1)[1]
    assert "Redis: not configured" in page and "Database: sqlite" in page
    cached = page.split("Caches", 1)[1].split("keys", 1)[0]
    assert int(cached.rsplit(">", 1)[1].strip()) >= 1
