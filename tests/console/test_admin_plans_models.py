"""Admin: creating and editing plans, and the model catalog with its refresh."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from tests.console_support import console_for
from tests.support import ADMIN_KEY, FakeUpstream, Gateway, json_decimal

NEW_PLAN = {
    "id": "team", "name": "Team <b>", "price_per_month": "49.5", "included_credits": "10", "markup": "1.2",
    "stripe_price_id": "", "requests_per_minute": "120", "requests_per_hour": "", "requests_per_day": "",
    "tokens_per_minute": "", "tokens_per_hour": "", "tokens_per_day": "5000000", "max_tokens_per_request": "4096",
    "max_api_keys": "25", "max_concurrent_requests": "", "allowed_models": "sim/*\nopenai/gpt-4o",
    "features": "streaming = true\nvision: false",
}  # fmt: skip


async def plan(gateway: Gateway, plan_id: str) -> dict[str, Any]:
    response = await gateway.client.get(f"/plans/{plan_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = json_decimal(response)
    return found


async def test_a_plan_is_created_with_every_field(gateway: Gateway) -> None:
    async with console_for(gateway, ADMIN_KEY) as console:
        done = await console.post("/console/admin/plans", NEW_PLAN)
        assert done.status_code == 303 and done.headers["location"] == "/console/admin/plans?done=created#plan-team"
        page = (await console.get("/console/admin/plans?done=created")).text
        assert "Plan created." in page and 'id="plan-team"' in page and "Team &lt;b&gt;" in page
        again = await console.post("/console/admin/plans", NEW_PLAN)
        assert again.status_code == 409 and "Plan not created: a plan &#39;team&#39; already exists" in again.text
        assert 'value="49.5"' in again.text  # the form as typed, open again
    created = await plan(gateway, "team")
    assert created["name"] == "Team <b>" and created["price_per_month"] == Decimal("49.5")
    assert created["included_credits"] == Decimal(10) and created["markup"] == Decimal("1.2")
    assert created["requests_per_minute"] == 120 and created["requests_per_hour"] is None
    assert created["tokens_per_day"] == 5_000_000 and created["max_tokens_per_request"] == 4096
    assert created["max_api_keys"] == 25 and created["max_concurrent_requests"] is None
    assert created["allowed_models"] == ["sim/*", "openai/gpt-4o"]
    assert created["features"] == {"streaming": True, "vision": False}
    assert created["stripe_price_id"] is None


async def test_a_new_plan_refused_shows_why_in_place(gateway: Gateway) -> None:
    async with console_for(gateway, ADMIN_KEY) as console:
        for changes, message in [
            ({"id": "Bad Id"}, "id: String should match pattern"),
            ({"name": ""}, "name: String should have at least 1 character"),
            ({"requests_per_minute": "0"}, "requests_per_minute: Input should be greater than or equal to 1"),
            ({"price_per_month": "-1"}, "&#39;price_per_month&#39; must not be negative"),
            ({"markup": "0"}, "&#39;markup&#39; must be greater than 0"),
            ({"features": "streaming = maybe"}, "features.streaming"),
            ({"features": "= true"}, "features: write one feature a line"),
        ]:
            refused = await console.post("/console/admin/plans", {**NEW_PLAN, **changes})
            assert refused.status_code == 400, changes
            assert "Plan not created: " + message in refused.text, (changes, refused.text[-3000:])
    assert (await gateway.client.get("/plans/team")).status_code == 404


async def test_a_plan_is_edited_and_its_form_shows_the_current_values(gateway: Gateway) -> None:
    async with console_for(gateway, ADMIN_KEY) as console:
        page = (await console.get("/console/admin/plans")).text
        form = page.split('action="/console/admin/plans/pro"', 1)[1].split("</form>", 1)[0]
        assert 'name="requests_per_minute" value="600"' in form and "streaming = true" in form
        edited = {**NEW_PLAN, "name": "Pro 2", "requests_per_minute": "", "features": "", "allowed_models": ""}
        edited.pop("id")
        done = await console.post("/console/admin/plans/pro", edited)
        assert done.status_code == 303 and done.headers["location"] == "/console/admin/plans?done=updated#plan-pro"
        refused = await console.post("/console/admin/plans/pro", {**edited, "max_api_keys": "lots"})
        assert refused.status_code == 400 and "Plan pro not saved: max_api_keys" in refused.text
        assert 'value="lots"' in refused.text
        missing = await console.post("/console/admin/plans/gold", edited)
        assert missing.status_code == 404 and "no plan &#39;gold&#39;" in missing.text
    saved = await plan(gateway, "pro")
    assert saved["name"] == "Pro 2" and saved["requests_per_minute"] is None  # emptied: no limit
    assert saved["features"] == {} and saved["allowed_models"] == ["*"]
    assert saved["price_per_month"] == Decimal("49.5")


async def test_the_models_page_shows_our_prices_and_the_cache(gateway: Gateway) -> None:
    listed = json_decimal(await gateway.client.get("/models"))["data"]
    async with console_for(gateway, ADMIN_KEY) as console:
        page = (await console.get("/console/admin/models")).text
        refreshed = await console.post("/console/admin/models/refresh", {})
        assert refreshed.status_code == 303
        after = (await console.get(refreshed.headers["location"])).text
    for model in listed:
        row = page.split(f"<code>{model['id']}</code>", 1)[1].split("</tr>", 1)[0]
        prompt, completion = re.findall(r'/ 1M" class="num">([0-9,.]+)<', row)[:2]
        assert Decimal(prompt.replace(",", "")) == model["pricing"]["prompt_per_1m"]
        assert Decimal(completion.replace(",", "")) == model["pricing"]["completion_per_1m"]
    assert "fresh</span>" in page and "Refresh from the upstream" in page
    assert "Catalog refreshed" in after
    assert refreshes(after) == refreshes(page) + 1


def refreshes(page: str) -> int:
    found = re.search(r"([0-9,]+) refreshes", page)
    assert found is not None
    return int(found.group(1).replace(",", ""))


async def test_unpriced_models_are_flagged_and_a_failed_refresh_is_said_in_place(
    proxied: Gateway, upstream: FakeUpstream
) -> None:
    upstream.catalog = {"data": [
        {"id": "acme/priced", "name": "Priced", "pricing": {"prompt": "0.000001", "completion": "0.000002"}},
        {"id": "acme/free-lunch", "name": "No price", "pricing": {}},
    ]}  # fmt: skip
    async with console_for(proxied, ADMIN_KEY) as console:
        page = (await console.get("/console/admin/models")).text
        assert "<code>acme/priced</code>" in page and "Not offered: no usable price" in page
        assert "<code>acme/free-lunch</code>" in page.split("Not offered", 1)[1].split("</section>", 1)[0]
        upstream.catalog_status = 502
        failed = await console.post("/console/admin/models/refresh", {})
        assert failed.status_code == 502 and "Refresh failed (the cached catalog stays)" in failed.text
        assert "<code>acme/priced</code>" in failed.text and "Last error" in failed.text
