"""The gateway's Prometheus metrics: what is counted, and the one recording function for each
thing that happens (a request answered, a call ended, a stream's first piece, a payment event).

Metrics are per process, as Prometheus sees them — module-level, like prometheus-client's own
default registry. With PROMETHEUS_MULTIPROC_DIR set (several workers), prometheus-client keeps
every process's values in files there and a scrape of any process reads them all (`scrape`).

Recording stays cheap on the chat path: a label set's child is looked up once and kept in a
dict, so recording is a dict lookup and an increment. Labels stay few by construction: route
templates (never a raw path), catalog model ids, outcomes, statuses — never a user, key or
request id. A call's model is always a catalog entry (a made-up name is refused before a call
starts); past MAX_MODELS distinct ids, further ones are counted as `other` all the same.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, multiprocess

from gateway.settings import ConfigError

# The `_created` series double every counter's output and nobody alerts on them.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus-client

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
if MULTIPROCESS and not os.path.isdir(os.environ["PROMETHEUS_MULTIPROC_DIR"]):
    # prometheus-client would fail on its first file with a bare FileNotFoundError.
    raise ConfigError(
        f"PROMETHEUS_MULTIPROC_DIR={os.environ['PROMETHEUS_MULTIPROC_DIR']!r} is not a directory: "
        "create it (empty) before starting the gateway's processes"
    )
OTHER = "other"
MAX_MODELS = 1000  # label sets per model series, whatever the catalog grows to
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
NANOS_PER_CREDIT = 1_000_000_000

REGISTRY = CollectorRegistry(auto_describe=True)
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
# The gateway's own time is expected in the sub-millisecond to millisecond range.
_ADDED_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

REQUESTS = Counter(
    "gateway_http_requests",
    "HTTP requests answered, by route template, method and status (499: the client left first)",
    ["route", "method", "status"],
    registry=REGISTRY,
)
IN_PROGRESS = Gauge(
    "gateway_http_requests_in_progress",
    "HTTP requests being served (streams included), all live processes together",
    registry=REGISTRY,
    multiprocess_mode="livesum",  # a stopped process's requests are not in progress any more
)
CALLS = Counter(
    "gateway_calls",
    "Gateway calls forwarded upstream, by model and how they ended (completed, upstream_503, timeout, ...)",
    ["model", "outcome"],
    registry=REGISTRY,
)
TOKENS = Counter(
    "gateway_tokens",
    "Tokens billed (reported by the upstream or estimated), by model and type",
    ["model", "type"],
    registry=REGISTRY,
)
CHARGED = Counter("gateway_charged_credits", "Credits charged, by model", ["model"], registry=REGISTRY)
UPSTREAM_LATENCY = Histogram(
    "gateway_upstream_latency_seconds",
    "From forwarding a call to the end of the upstream's answer (a stream: its usage or last event)",
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
FIRST_TOKEN = Histogram(
    "gateway_time_to_first_token_seconds",
    "Streams: from the request's arrival to the first piece of the answer sent to the client",
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
ADDED_LATENCY = Histogram(
    "gateway_added_latency_seconds",
    "The gateway's own time per forwarded call: its whole duration minus the upstream's",
    buckets=_ADDED_BUCKETS,
    registry=REGISTRY,
)
PAYMENT_EVENTS = Counter(
    "gateway_payment_events",
    "Stripe webhook events, by type (`other`: a type the gateway does not act on) and outcome",
    ["type", "outcome"],
    registry=REGISTRY,
)


@dataclass(slots=True)
class _ModelSeries:
    """One model's children, looked up once."""

    label: str
    prompt: Counter
    completion: Counter
    charged: Counter
    calls: dict[str, Counter] = field(default_factory=dict)


_requests: dict[tuple[str, str, int], Counter] = {}
_models: dict[str, _ModelSeries] = {}
_payments: dict[tuple[str, str], Counter] = {}


def request_started() -> None:
    IN_PROGRESS.inc()


def request_answered(route: str, method: str, status: int) -> None:
    """`route` is a template (`/user/api-keys/{key_id}`) or `other`, never a raw path."""
    if method not in METHODS:
        method = OTHER
    key = (route, method, status)
    child = _requests.get(key)
    if child is None:
        child = _requests[key] = REQUESTS.labels(route, method, str(status))
    child.inc()
    IN_PROGRESS.dec()


def _series(model: str) -> _ModelSeries:
    found = _models.get(model)
    if found is not None:
        return found
    if len(_models) >= MAX_MODELS:
        model = OTHER
        found = _models.get(model)
        if found is not None:
            return found
    series = _ModelSeries(
        label=model,
        prompt=TOKENS.labels(model, "prompt"),
        completion=TOKENS.labels(model, "completion"),
        charged=CHARGED.labels(model),
    )
    _models[model] = series
    return series


def call_ended(
    *, model: str, outcome: str, prompt_tokens: int, completion_tokens: int, cost: int, upstream_seconds: float | None
) -> None:
    """A forwarded call's end: `model` a catalog id, `cost` in nano-credits."""
    series = _series(model)
    calls = series.calls.get(outcome)
    if calls is None:
        calls = series.calls[outcome] = CALLS.labels(series.label, outcome)
    calls.inc()
    if prompt_tokens:
        series.prompt.inc(prompt_tokens)
    if completion_tokens:
        series.completion.inc(completion_tokens)
    if cost:
        series.charged.inc(cost / NANOS_PER_CREDIT)
    if upstream_seconds is not None:
        UPSTREAM_LATENCY.observe(upstream_seconds)


def first_token(seconds: float) -> None:
    FIRST_TOKEN.observe(seconds)


def added_latency(seconds: float) -> None:
    ADDED_LATENCY.observe(max(0.0, seconds))


def payment_event(event_type: str, outcome: str) -> None:
    """`event_type` one the gateway knows, or `other` (the caller bounds it)."""
    key = (event_type, outcome)
    child = _payments.get(key)
    if child is None:
        child = _payments[key] = PAYMENT_EVENTS.labels(event_type, outcome)
    child.inc()


def process_stopping() -> None:
    """Multiprocess mode: this process's live gauges leave the shared directory with it (its
    counters stay: totals never go down when a worker is replaced)."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]  # untyped upstream
