"""Admin: the customers list and search, and a customer's page with its credit and debit form."""

from __future__ import annotations

import re
from decimal import Decimal

from gateway.routes.console.web import money
from tests.console_support import console_for
from tests.support import ADMIN_KEY, Gateway, bearer


async def test_the_list_shows_balance_plan_status_and_recent_spend(gateway: Gateway) -> None:
    account = await gateway.customer("10", email="ada@example.com")
    assert (await gateway.chat(account["api_key"])).status_code == 200
    left = (await gateway.balance(account["api_key"]))["credits"]
    assert left < 10
    async with console_for(gateway, ADMIN_KEY) as console:
        page = (await console.get("/console/admin/customers")).text
    row = page.split("ada@example.com", 1)[1].split("</tr>", 1)[0]
    assert account["user_id"] in row and "enterprise" in row and "active" in row
    assert f">{money(nanos(left))}<" in row  # the balance after the request
    assert f">{money(nanos(Decimal(10) - left))}<" in row  # its cost, as the spend of the last 30 days


def nanos(credits: Decimal) -> int:
    return int(credits * 1_000_000_000)


async def test_search_finds_customers_by_email_or_id(gateway: Gateway) -> None:
    ada = await gateway.customer("1", email="ada@example.com")
    bob = await gateway.customer("1", email="bob@example.org")
    async with console_for(gateway, ADMIN_KEY) as console:
        by_email = (await console.get("/console/admin/customers", q="EXAMPLE.ORG")).text
        assert "bob@example.org" in by_email and "ada@example.com" not in by_email
        by_id = (await console.get("/console/admin/customers", q=ada["user_id"])).text
        assert "ada@example.com" in by_id and "bob@example.org" not in by_id
        nothing = (await console.get("/console/admin/customers", q="100%_")).text
        assert "No customer matches" in nothing and "100%_" in nothing
        everyone = (await console.get("/console/admin/customers")).text
        assert bob["user_id"] in everyone and ada["user_id"] in everyone


async def test_the_list_pages_by_user_id(gateway: Gateway) -> None:
    ids = sorted([(await gateway.register(f"user{n}@example.com"))["user_id"] for n in range(27)])
    async with console_for(gateway, ADMIN_KEY) as console:
        first = (await console.get("/console/admin/customers")).text
        assert ids[0] in first and ids[24] in first and ids[25] not in first
        older = re.search(r'href="(/console/admin/customers\?[^"]+)">Older', first)
        assert older is not None
        second = (await console.get(older.group(1).replace("&amp;", "&"))).text
        assert ids[25] in second and ids[26] in second and ids[24] not in second
        assert "Older" not in second


async def test_html_in_an_email_is_escaped(gateway: Gateway) -> None:
    email = "<script>alert(1)</script>@example.com"
    await gateway.customer("1", email=email)
    async with console_for(gateway, ADMIN_KEY) as console:
        listing = (await console.get("/console/admin/customers")).text
        search = (await console.get("/console/admin/customers", q="<script>")).text
    for page in (listing, search):
        assert "<script>alert" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;@example.com" in page


async def test_the_customer_page_shows_profile_plan_keys_and_ledger(gateway: Gateway) -> None:
    account = await gateway.customer("10", email="ada@example.com")
    async with console_for(gateway, ADMIN_KEY) as console:
        page = (await console.get(f"/console/admin/customers/{account['user_id']}")).text
        missing = await console.get("/console/admin/customers/usr_nobody")
    assert "ada@example.com" in page and account["user_id"] in page
    assert "10.00 credits" in page and "Enterprise" in page and "Paid until" in page
    assert account["api_key"] not in page and account["api_key"][:12] in page  # the mask, never the key
    assert "test top-up" in page  # the ledger row of the top-up
    assert missing.status_code == 404 and "no such user" in missing.text


async def test_a_credit_changes_the_balance_and_shows_in_the_ledger(gateway: Gateway) -> None:
    account = await gateway.customer("10")
    path = f"/console/admin/customers/{account['user_id']}"
    async with console_for(gateway, ADMIN_KEY) as console:
        fields = {"direction": "credit", "amount": "2.5", "reason": "goodwill <b>", "reference": "ticket-42"}
        done = await console.post(f"{path}/credits", fields)
        assert done.status_code == 303 and done.headers["location"] == f"{path}?done=credited"
        page = (await console.get(done.headers["location"])).text
        assert "Credits added." in page
        assert "goodwill &lt;b&gt;" in page and "admin:ticket-42" in page and "12.50 credits" in page
        # The same reference again changes nothing; with other terms it is refused in place.
        again = await console.post(f"{path}/credits", fields)
        assert again.status_code == 303
        other = await console.post(f"{path}/credits", {**fields, "amount": "3"})
        assert other.status_code == 409
        assert "Credits not changed: this reference was already used" in other.text
        assert 'value="3"' in other.text and 'value="ticket-42"' in other.text  # the form as typed
    assert (await gateway.balance(account["api_key"]))["credits"] == Decimal("12.5")
    ledger = (await gateway.client.get("/user/transactions", headers=bearer(account["api_key"]))).json()["data"]
    assert [e["description"] for e in ledger].count("goodwill <b>") == 1


async def test_a_debit_takes_credits_away_and_cannot_go_below_zero(gateway: Gateway) -> None:
    account = await gateway.customer("10")
    path = f"/console/admin/customers/{account['user_id']}/credits"
    async with console_for(gateway, ADMIN_KEY) as console:
        done = await console.post(path, {"direction": "debit", "amount": "4", "reason": "refund by hand"})
        assert done.headers["location"].endswith("?done=debited")
        too_much = await console.post(path, {"direction": "debit", "amount": "7", "reason": "oops"})
        assert too_much.status_code == 400 and "below zero" in too_much.text
        signed = await console.post(path, {"direction": "debit", "amount": "-1", "reason": "x"})
        assert signed.status_code == 400 and "without a sign" in signed.text
        no_reason = await console.post(path, {"direction": "credit", "amount": "1", "reason": " "})
        assert no_reason.status_code == 400 and "reason" in no_reason.text
        zero = await console.post(path, {"direction": "credit", "amount": "0", "reason": "x"})
        assert zero.status_code == 400 and "must not be zero" in zero.text
        bad = await console.post(path, {"direction": "credit", "amount": "1.0000000001", "reason": "x"})
        assert bad.status_code == 400 and "9 decimals" in bad.text
    assert (await gateway.balance(account["api_key"]))["credits"] == Decimal("6")
