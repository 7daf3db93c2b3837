"""The model catalog: gateway prices, caching, stale serving, refresh."""

from decimal import Decimal
from typing import Any

from tests.support import ADMIN, FakeUpstream, Gateway, json_decimal


async def test_models_show_the_gateways_prices_per_million(gateway_factory: Any) -> None:
    async with gateway_factory(credit_markup="1.2") as gateway:
        response = await gateway.client.get("/models")
        assert response.status_code == 200
        models = {m["id"]: m for m in json_decimal(response)["data"]}
        small = models["sim/gpt-small"]
        assert small["pricing"]["prompt_per_1m"] == Decimal("0.18")  # 0.15 × 1.2
        assert small["pricing"]["completion_per_1m"] == Decimal("0.72")
        assert small["context_length"] == 128_000
        assert "sim/unpriced" not in models and "sim/variable" not in models


async def test_openai_list_and_providers(gateway: Gateway) -> None:
    listed = (await gateway.client.get("/v1/models")).json()
    assert listed["object"] == "list"
    assert {"id": "sim/gpt-small", "object": "model", "created": 1_700_000_000, "owned_by": "sim"} in listed["data"]
    providers = (await gateway.client.get("/models/providers")).json()
    assert providers["data"] == [{"provider": "sim", "models": len(listed["data"])}]


async def test_the_catalog_is_cached(proxied: Gateway, upstream: FakeUpstream) -> None:
    for _ in range(5):
        assert (await proxied.client.get("/v1/models")).status_code == 200
    assert upstream.catalog_calls == 1


async def test_stale_catalog_is_served_while_the_upstream_is_down(gateway_factory: Any, upstream: FakeUpstream) -> None:
    async with gateway_factory(upstream_base_url=upstream.base_url, model_cache_ttl=0) as gateway:
        assert (await gateway.client.get("/v1/models")).status_code == 200
        upstream.catalog_status = 503
        for _ in range(3):
            assert (await gateway.client.get("/v1/models")).status_code == 200
        refresh = await gateway.client.post("/admin/refresh-models", headers=ADMIN)
        assert refresh.status_code == 502
        status = (await gateway.client.get("/admin/cache-status", headers=ADMIN)).json()["catalog"]
        assert status["stale"] is True
        assert status["age_seconds"] >= 0
        assert status["last_error"]
        account = await gateway.customer("1")
        assert (await gateway.chat(account["api_key"])).status_code == 200  # still priced, still served


async def test_no_catalog_yet_is_fetched_on_demand_and_failures_are_not_cached(
    gateway_factory: Any, upstream: FakeUpstream
) -> None:
    upstream.catalog_status = 500
    async with gateway_factory(upstream_base_url=upstream.base_url) as gateway:
        down = await gateway.client.get("/v1/models")
        assert down.status_code == 503
        upstream.catalog_status = 200
        up = await gateway.client.get("/v1/models")
        assert up.status_code == 200


async def test_admin_refresh_picks_up_new_prices(proxied: Gateway, upstream: FakeUpstream) -> None:
    account = await proxied.customer("1")
    assert json_decimal(await proxied.chat(account["api_key"]))["usage"]["cost"] == Decimal("0.00001335")
    upstream.catalog = {"data": [{"id": "sim/gpt-small", "pricing": {"prompt": "0.000001", "completion": "0.000001"}}]}
    refreshed = await proxied.client.post("/admin/refresh-models", headers=ADMIN)
    assert refreshed.status_code == 200 and refreshed.json()["models"] == 1
    assert json_decimal(await proxied.chat(account["api_key"]))["usage"]["cost"] == Decimal("0.000029")
    assert (await proxied.chat(account["api_key"], model="sim/gpt-large")).status_code == 400
    status = (await proxied.client.get("/admin/cache-status", headers=ADMIN)).json()["catalog"]
    assert status["models"] == 1 and status["stale"] is False


async def test_a_price_file_supplies_missing_prices(
    gateway_factory: Any, upstream: FakeUpstream, tmp_path: Any
) -> None:
    price_file = tmp_path / "prices.json"
    price_file.write_text(
        '{"data": [{"id": "sim/unpriced", "pricing": {"prompt": "0.000002", "completion": "0.000004"}}]}'
    )
    async with gateway_factory(upstream_base_url=upstream.base_url, price_file=str(price_file)) as gateway:
        account = await gateway.customer("1")
        response = await gateway.chat(account["api_key"], model="sim/unpriced")
        assert response.status_code == 200
        assert json_decimal(response)["usage"]["cost"] == Decimal("0.000098")  # 9 × 2e-6 + 20 × 4e-6


async def test_one_model_in_the_openai_format(gateway: Gateway) -> None:
    found = await gateway.client.get("/v1/models/sim/gpt-small")
    assert found.status_code == 200
    assert found.json() == {"id": "sim/gpt-small", "object": "model", "created": 1_700_000_000, "owned_by": "sim"}
    assert (await gateway.client.get("/v1/models/sim%2Fgpt-large")).json()["id"] == "sim/gpt-large"
    missing = await gateway.client.get("/v1/models/no/such-model")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
