"""The Overview (balance, plan, spend, the daily chart) and Usage (the request log, its filters,
pages and CSV export) pages: what they show, and only ever the viewer's own data."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from gateway.routes.console.web import money
from tests.console_support import console_for
from tests.support import Gateway


async def test_the_overview_shows_balance_spend_and_a_chart_by_model(gateway: Gateway) -> None:
    account = await gateway.customer("5")
    for model in ("sim/gpt-small", "sim/gpt-small", "sim/gpt-large"):
        assert (await gateway.chat(account["api_key"], model=model)).status_code == 200
    balance = await gateway.balance(account["api_key"])
    async with console_for(gateway, account["api_key"]) as console:
        page = (await console.get("/console")).text
    assert money(int(Decimal(str(balance["credits"])) * 10**9)) in page
    assert "<svg" in page and "Daily spend by model" in page
    assert "sim/gpt-small" in page and "sim/gpt-large" in page
    assert "running low" not in page and "out of credits" not in page


async def test_the_overview_warns_when_credits_are_out(gateway: Gateway) -> None:
    account = await gateway.customer("0")
    async with console_for(gateway, account["api_key"]) as console:
        page = (await console.get("/console")).text
    assert "You are out of credits" in page and 'href="/console/billing"' in page
    assert "No spend in the last 30 days" in page


async def test_usage_lists_requests_and_filters_them(gateway: Gateway) -> None:
    account = await gateway.customer("5")
    small = await gateway.chat(account["api_key"], model="sim/gpt-small")
    large = await gateway.chat(account["api_key"], model="sim/gpt-large")
    async with console_for(gateway, account["api_key"]) as console:
        every = (await console.get("/console/usage")).text
        assert small.headers["x-request-id"] in every and large.headers["x-request-id"] in every
        only_large = (await console.get("/console/usage", model="sim/gpt-large")).text
        assert large.headers["x-request-id"] in only_large and small.headers["x-request-id"] not in only_large
        future = (await console.get("/console/usage", start="2999-01-01", tz="Europe/Paris")).text
        assert "No requests match" in future
        refused = await console.get("/console/usage", start="yesterday")
        assert refused.status_code == 400 and "expected a date" in refused.text


async def test_usage_pages_through_older_requests(gateway: Gateway) -> None:
    account = await gateway.customer("5")
    ids = [(await gateway.chat(account["api_key"])).headers["x-request-id"] for _ in range(53)]
    async with console_for(gateway, account["api_key"]) as console:
        first = (await console.get("/console/usage")).text
        assert ids[-1] in first and ids[0] not in first
        older = first.split('<nav class="pager" aria-label="Pages"><a href="')[1].split('"')[0]
        second = (await console.get(older.replace("&amp;", "&"))).text
        assert ids[0] in second and ids[-1] not in second


async def test_the_csv_export_has_every_matching_request_and_nothing_of_others(gateway: Gateway) -> None:
    ada = await gateway.customer("5", email="ada@example.com")
    bob = await gateway.customer("5", email="bob@example.com")
    mine = [(await gateway.chat(ada["api_key"])).headers["x-request-id"] for _ in range(3)]
    theirs = (await gateway.chat(bob["api_key"])).headers["x-request-id"]
    async with console_for(gateway, ada["api_key"]) as console:
        export = await console.get("/console/usage.csv")
        pages = [(await console.get("/console/usage")).text, (await console.get("/console")).text]
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert sorted(r["request_id"] for r in rows) == sorted(mine)
    assert all(Decimal(r["cost_credits"]) > 0 and r["outcome"] == "completed" for r in rows)
    assert all(theirs not in text and bob["user_id"] not in text for text in [export.text, *pages])


async def test_a_key_name_with_html_is_escaped_in_usage(gateway: Gateway) -> None:
    account = await gateway.customer("5")
    created = await gateway.client.post(
        "/user/api-keys", json={"key_name": "<script>alert(1)</script>"},
        headers={"authorization": f"Bearer {account['api_key']}"},
    )  # fmt: skip
    assert (await gateway.chat(created.json()["api_key"])).status_code == 200
    async with console_for(gateway, account["api_key"]) as console:
        page = (await console.get("/console/usage")).text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


async def test_usage_dates_at_the_calendar_edge_are_refused_not_a_server_error(gateway: Gateway) -> None:
    account = await gateway.customer("5")
    async with console_for(gateway, account["api_key"]) as console:
        for path in ("/console/usage", "/console/usage.csv"):
            refused = await console.get(path, end="9999-12-31")
            assert refused.status_code == 400, (path, refused.status_code)
            assert "expected a date" in refused.text
