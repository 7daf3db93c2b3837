"""The metrics' recording functions: labels stay bounded whatever the traffic."""

from __future__ import annotations

import pytest

from gateway.services.operations import metrics
from gateway.services.operations.scrape import is_metrics_token


def sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def test_models_past_the_bound_are_counted_as_other(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "_models", set())
    monkeypatch.setattr(metrics, "MAX_MODELS", 2)
    before = sample("gateway_calls_total", model="other", outcome="completed")
    for model in ("unit/a", "unit/b", "unit/c", "unit/d"):
        metrics.call_ended(
            model=model, outcome="completed", prompt_tokens=1, completion_tokens=2, cost=5, upstream_seconds=0.01
        )
    assert metrics._models == {"unit/a", "unit/b"}
    assert sample("gateway_calls_total", model="other", outcome="completed") - before == 2
    assert sample("gateway_calls_total", model="unit/c", outcome="completed") == 0


def test_unknown_methods_share_one_label() -> None:
    before = sample("gateway_http_requests_total", route="/unit", method="other", status="405")
    metrics.request_started()
    metrics.request_answered("/unit", "BREW", 405)
    metrics.request_started()
    metrics.request_answered("/unit", "X-MADE-UP-0123", 405)
    assert sample("gateway_http_requests_total", route="/unit", method="other", status="405") - before == 2


def test_the_metrics_token_is_a_bearer_compared_exactly() -> None:
    token = "scrape-token-0123456789abcdef"
    assert is_metrics_token(f"Bearer {token}", token)
    assert is_metrics_token(f"bearer  {token} ", token)
    assert not is_metrics_token(f"Bearer {token}x", token)
    assert not is_metrics_token(token, token)  # not a bearer
    assert not is_metrics_token(None, token)
    assert not is_metrics_token(f"Bearer {token}", None)  # unset: nothing opens /metrics this way
