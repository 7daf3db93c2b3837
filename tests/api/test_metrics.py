"""`GET /metrics`: who may read it, and counters that match known traffic exactly.

Metrics are per process (module-level, as Prometheus counts them), so each test compares a
scrape after its traffic with one before it: the differences are exact.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.stripe_support import STRIPE_SETTINGS, charge_refunded, deliver, event, stripe_mock
from tests.support import ADMIN, Gateway, bearer

METRICS_TOKEN = "scrape-token-0123456789abcdef"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
ID_LIKE = re.compile(r"(usr|key|req|gw|call|evt)_[0-9a-f]{8,}|gw_(live|test)_")  # ids and keys, not `{key_id}`
CHAT = "/v1/chat/completions"


async def scrape(gateway: Gateway) -> tuple[str, Samples]:
    response = await gateway.client.get("/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[sample.name, frozenset(sample.labels.items())] = sample.value
    return response.text, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def labels_of(samples: Samples, label: str, metric: str | None = None) -> set[str]:
    return {v for (name, labels) in samples if metric in (None, name) for k, v in labels if k == label}


@pytest.fixture
async def gateway(gateway_factory: Any) -> Any:
    async with gateway_factory(metrics_token=METRICS_TOKEN, **STRIPE_SETTINGS) as gw:
        yield gw


async def test_only_the_metrics_token_and_admins_may_scrape(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    nobody = await gateway.client.get("/metrics")
    assert nobody.status_code == 401
    assert nobody.json()["error"]["code"] == "invalid_api_key"
    wrong = await gateway.client.get("/metrics", headers=bearer("scrape-token-0123456789abcdeX"))
    assert wrong.status_code == 401
    customer = await gateway.client.get("/metrics", headers=bearer(account["api_key"]))
    assert customer.status_code == 403
    assert customer.json()["error"]["code"] == "admin_required"
    for headers in ({"authorization": f"Bearer {METRICS_TOKEN}"}, ADMIN):
        allowed = await gateway.client.get("/metrics", headers=headers)
        assert allowed.status_code == 200
        assert "# TYPE gateway_http_requests_total counter" in allowed.text
    assert "/metrics" not in (await gateway.client.get("/openapi.json")).json()["paths"]


async def test_without_a_metrics_token_only_admins_may_scrape(gateway_factory: Any) -> None:
    async with gateway_factory() as gateway:
        assert (await gateway.client.get("/metrics", headers=bearer(METRICS_TOKEN))).status_code == 401
        assert (await gateway.client.get("/metrics", headers=ADMIN)).status_code == 200


async def test_counters_match_known_traffic(gateway: Gateway) -> None:
    rich = await gateway.customer("10", email="rich@example.com")
    poor = await gateway.customer("0.0001", email="poor@example.com")
    catalog = {m["id"] for m in (await gateway.client.get("/v1/models")).json()["data"]}
    _, before = await scrape(gateway)

    answers = [await gateway.chat(rich["api_key"], model="sim/gpt-small") for _ in range(3)]
    answers += [await gateway.chat(rich["api_key"], model="sim/gpt-large") for _ in range(2)]
    streamed = await gateway.chat(
        rich["api_key"], model="sim/gpt-small", stream=True, stream_options={"include_usage": True}
    )
    refused = await gateway.chat(poor["api_key"], max_tokens=1_000)
    made_up = [await gateway.chat(rich["api_key"], model=f"made-up/model-{n}") for n in range(5)]
    missing_key = await gateway.client.delete("/user/api-keys/key_no_such_key", headers=bearer(rich["api_key"]))
    unknown = await gateway.client.get("/no/such/path/usr_0123")

    assert all(a.status_code == 200 for a in [*answers, streamed]), [a.text for a in answers]
    assert refused.status_code == 402 and {m.status_code for m in made_up} == {400}
    assert missing_key.status_code in (400, 404) and unknown.status_code == 404
    text, after = await scrape(gateway)

    requests = "gateway_http_requests_total"
    assert delta(before, after, requests, route=CHAT, method="POST", status="200") == 6
    assert delta(before, after, requests, route=CHAT, method="POST", status="402") == 1
    assert delta(before, after, requests, route=CHAT, method="POST", status="400") == 5
    key_route = {"route": "/user/api-keys/{key_id}", "method": "DELETE", "status": str(missing_key.status_code)}
    assert delta(before, after, requests, **key_route) == 1
    assert delta(before, after, requests, route="other", method="GET", status="404") == 1
    assert delta(before, after, requests, route="/v1/models", method="GET", status="200") == 0  # before the first

    calls = "gateway_calls_total"
    assert delta(before, after, calls, model="sim/gpt-small", outcome="completed") == 4
    assert delta(before, after, calls, model="sim/gpt-large", outcome="completed") == 2
    usage = [a.json()["usage"] for a in answers] + [last_usage(streamed.text)]
    for kind in ("prompt", "completion"):
        assert delta(before, after, "gateway_tokens_total", model="sim/gpt-small", type=kind) == sum(
            u[f"{kind}_tokens"] for u in [*usage[:3], usage[5]]
        )
    charged = sum(
        delta(before, after, "gateway_charged_credits_total", model=m) for m in ("sim/gpt-small", "sim/gpt-large")
    )
    assert Decimal(str(charged)).quantize(Decimal("1e-9")) == sum(Decimal(str(u["cost"])) for u in usage)
    assert delta(before, after, "gateway_upstream_latency_seconds_count") == 6
    assert delta(before, after, "gateway_added_latency_seconds_count") == 6
    assert delta(before, after, "gateway_time_to_first_token_seconds_count") == 1

    # Gauges read at the scrape: nothing held any more, the database and catalog there.
    assert value(after, "gateway_holds_in_flight") == 0 and value(after, "gateway_reserved_credits") == 0
    assert value(after, "gateway_database_up") == 1
    assert value(after, "gateway_catalog_models") == len(catalog)
    assert value(after, "gateway_catalog_age_seconds") >= 0
    assert "gateway_redis_up" not in text  # Redis is not configured here
    assert value(after, "gateway_http_requests_in_progress") == 1  # this scrape

    # No label carries an id, and made-up model names made no series.
    for _, labels in after:
        for name, label in labels:
            assert not ID_LIKE.search(label), (name, label)
    # (earlier tests' gateways, in this process, may have counted other catalogs' models)
    assert labels_of(after, "model") - labels_of(before, "model") <= {"sim/gpt-small", "sim/gpt-large"}
    assert not [line for line in text.splitlines() if "made-up" in line or "no/such" in line]


def last_usage(sse: str) -> dict[str, Any]:
    import orjson

    chunks = [orjson.loads(b[6:]) for b in sse.split("\n\n") if b.startswith("data: {")]
    found: dict[str, Any] = [c for c in chunks if c.get("usage")][-1]["usage"]
    return found


async def test_upstream_errors_and_payment_events_are_counted_by_outcome(gateway: Gateway) -> None:
    rich = await gateway.customer("10", email="rich@example.com")
    _, before = await scrape(gateway)
    failed = await gateway.chat(rich["api_key"], model="sim/fail-503")
    assert failed.status_code in {502, 503}, failed.text
    with stripe_mock():
        unknown_type = event("customer.created", {"id": "cus_1", "object": "customer"})
        refund = event("charge.refunded", charge_refunded("ch_1", "pi_unknown", cents=1000, refunded=1000))
        answers = [await deliver(gateway, unknown_type), await deliver(gateway, unknown_type)]
        answers.append(await deliver(gateway, refund))
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    _, after = await scrape(gateway)

    assert delta(before, after, "gateway_calls_total", model="sim/fail-503", outcome="upstream_503") == 1
    assert delta(before, after, "gateway_tokens_total", model="sim/fail-503", type="prompt") == 0
    events = "gateway_payment_events_total"
    assert delta(before, after, events, type="other", outcome="ignored") == 1
    assert delta(before, after, events, type="other", outcome="duplicate") == 1
    assert delta(before, after, events, type="charge.refunded", outcome="deferred") == 1  # its payment is unknown yet
    assert labels_of(after, "type", events) <= {"other", "charge.refunded", *KNOWN_EVENT_TYPES}


KNOWN_EVENT_TYPES = {
    "checkout.session.completed", "checkout.session.async_payment_succeeded", "payment_intent.succeeded",
    "payment_intent.payment_failed", "charge.refunded", "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated", "charge.dispute.closed", "invoice.paid", "customer.subscription.created",
    "customer.subscription.updated", "customer.subscription.deleted",
}  # fmt: skip
