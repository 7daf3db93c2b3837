"""`/metrics` with several gateway processes sharing PROMETHEUS_MULTIPROC_DIR (PostgreSQL +
Redis): one scrape of any process counts every process's requests and calls."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.cluster import Cluster
from tests.support import ADMIN, bearer

pytestmark = pytest.mark.e2e
METRICS_TOKEN = "scrape-token-0123456789abcdef"
HELLO = {"model": "sim/gpt-small", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 20}


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_one_scrape_counts_every_process(tmp_path: Path) -> None:
    shared = tmp_path / "prometheus"
    shared.mkdir()  # empty at start, as prometheus-client's multiprocess mode requires
    with ExitStack() as stack:
        cluster = Cluster(tmp_path, stack, PROMETHEUS_MULTIPROC_DIR=str(shared), METRICS_TOKEN=METRICS_TOKEN)
        first, second = cluster.start(2)
        account = cluster.customer(first, "5", "multi@example.com")
        for process, count in ((first, 3), (second, 5)):
            for _ in range(count):
                assert httpx.get(f"{process.url}/v1/models").status_code == 200
            for _ in range(count):
                answer = httpx.post(
                    f"{process.url}/v1/chat/completions", json=HELLO, headers=bearer(account["api_key"])
                )
                assert answer.status_code == 200, answer.text
        scraped = httpx.get(f"{second.url}/metrics", headers=ADMIN)
        assert scraped.status_code == 200, scraped.text
        found = samples(scraped.text)
        assert {p.name for p in shared.iterdir()} >= {f"counter_{first.popen.pid}.db", f"counter_{second.popen.pid}.db"}

    def value(name: str, **labels: str) -> float:
        return found.get((name, frozenset(labels.items())), 0.0)

    models = {"route": "/v1/models", "method": "GET", "status": "200"}
    assert value("gateway_http_requests_total", **models) == 8
    chat = {"route": "/v1/chat/completions", "method": "POST", "status": "200"}
    assert value("gateway_http_requests_total", **chat) == 8
    assert value("gateway_calls_total", model="sim/gpt-small", outcome="completed") == 8
    assert value("gateway_tokens_total", model="sim/gpt-small", type="completion") == 8 * 20
    assert value("gateway_upstream_latency_seconds_count") == 8
    assert value("gateway_http_requests_in_progress") == 1  # the scrape itself, across both processes
    assert value("gateway_holds_in_flight") == 0 and value("gateway_database_up") == 1
    assert value("gateway_redis_up") == 1
