"""The gateway's Prometheus metrics: what is counted, and the one recording function for each
thing that happens (a request answered, a call ended, a stream's first piece, a payment event).

Metrics are per process, as Prometheus sees them — module-level, like prometheus-client's own
default registry. With PROMETHEUS_MULTIPROC_DIR set (several workers), prometheus-client keeps
every process's values in files there and a scrape of any process reads them all (`scrape`).

Recording stays cheap on the chat path: one process's figures are plain numbers in dicts,
turned into metric families only when scraped (`_Tally`). Labels stay few by construction: route
templates (never a raw path), catalog model ids, outcomes, statuses — never a user, key or
request id. A call's model is always a catalog entry (a made-up name is refused before a call
starts); past MAX_MODELS distinct ids, further ones are counted as `other` all the same.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

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

_HELP = {
    "gateway_http_requests": (
        "HTTP requests answered, by route template, method and status (499: the client left first)"
    ),
    "gateway_http_requests_in_progress": ("HTTP requests being served (streams included), all live processes together"),
    "gateway_calls": (
        "Gateway calls forwarded upstream, by model and how they ended (completed, upstream_503, timeout, ...)"
    ),
    "gateway_tokens": "Tokens billed (reported by the upstream or estimated), by model and type",
    "gateway_charged_credits": "Credits charged, by model",
    "gateway_upstream_latency_seconds": (
        "From forwarding a call to the end of the upstream's answer (a stream: its usage or last event)"
    ),
    "gateway_time_to_first_token_seconds": (
        "Streams: from the request's arrival to the first piece of the answer sent to the client"
    ),
    "gateway_added_latency_seconds": (
        "The gateway's own time per forwarded call: its whole duration minus the upstream's"
    ),
    "gateway_payment_events": (
        "Stripe webhook events, by type (`other`: a type the gateway does not act on) and outcome"
    ),
}
_HISTOGRAMS = {
    "upstream": ("gateway_upstream_latency_seconds", _LATENCY_BUCKETS),
    "first_token": ("gateway_time_to_first_token_seconds", _LATENCY_BUCKETS),
    "added": ("gateway_added_latency_seconds", _ADDED_BUCKETS),
}
_models: set[str] = set()  # the model labels in use (at most MAX_MODELS, then `other`)


def _model_label(model: str) -> str:
    if model in _models:
        return model
    if len(_models) >= MAX_MODELS:
        return OTHER
    _models.add(model)
    return model


class _Histogram:
    """Bucket counts and a sum, as plain numbers."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last: above every bound (+Inf)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def family(self, name: str) -> HistogramMetricFamily:
        cumulative, buckets = 0, []
        for bound, count in zip((*map(floatToGoString, self.bounds), "+Inf"), self.counts, strict=True):
            cumulative += count
            buckets.append((bound, float(cumulative)))
        return HistogramMetricFamily(name, _HELP[name], buckets=buckets, sum_value=self.total)


class _Tally(Collector):
    """One process's figures as plain numbers, turned into metric families at the scrape.

    Why not prometheus-client's metric objects on the request path: each increment there is
    several calls and a lock, and a chat call records nine things; measured with the shared
    benchmark (chat, 32 connections), they cost 7% of the gateway's requests per second, a dict
    update here costs a tenth of that. Several processes (PROMETHEUS_MULTIPROC_DIR) need
    prometheus-client's shared files, so there `_Shared` records through its objects instead.
    """

    def __init__(self) -> None:
        self.requests: defaultdict[tuple[str, str, int], int] = defaultdict(int)
        self.in_progress = 0
        self.calls: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.tokens: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.charged: defaultdict[str, int] = defaultdict(int)  # nano-credits
        self.payments: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.histograms = {key: _Histogram(bounds) for key, (_, bounds) in _HISTOGRAMS.items()}

    def request_started(self) -> None:
        self.in_progress += 1

    def request_answered(self, route: str, method: str, status: int) -> None:
        self.requests[route, method, status] += 1
        self.in_progress -= 1

    def call_ended(self, model: str, outcome: str, prompt: int, completion: int, cost: int) -> None:
        self.calls[model, outcome] += 1
        self.tokens[model, "prompt"] += prompt
        self.tokens[model, "completion"] += completion
        self.charged[model] += cost

    def observe(self, histogram: str, seconds: float) -> None:
        self.histograms[histogram].observe(seconds)

    def payment_event(self, event_type: str, outcome: str) -> None:
        self.payments[event_type, outcome] += 1

    def collect(self) -> Iterator[Metric]:
        # Copies (`list(...)`): a scrape never iterates a dict a request is adding to.
        requests = [((r, m, str(s)), n) for (r, m, s), n in list(self.requests.items())]
        yield _counter("gateway_http_requests", ["route", "method", "status"], requests)
        in_progress = GaugeMetricFamily("gateway_http_requests_in_progress", _HELP["gateway_http_requests_in_progress"])
        in_progress.add_metric([], float(self.in_progress))
        yield in_progress
        yield _counter("gateway_calls", ["model", "outcome"], list(self.calls.items()))
        yield _counter("gateway_tokens", ["model", "type"], [(k, n) for k, n in list(self.tokens.items()) if n])
        charged = [((m,), n / NANOS_PER_CREDIT) for m, n in list(self.charged.items()) if n]
        yield _counter("gateway_charged_credits", ["model"], charged)
        for key, (name, _) in _HISTOGRAMS.items():
            yield self.histograms[key].family(name)
        yield _counter("gateway_payment_events", ["type", "outcome"], list(self.payments.items()))


def _counter(name: str, labels: list[str], values: Iterable[tuple[tuple[str, ...], float]]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, _HELP[name], labels=labels)
    for label_values, value in values:
        family.add_metric(list(label_values), float(value))
    return family


class _Shared:
    """Several processes: prometheus-client's objects, whose values live in the shared files."""

    def __init__(self) -> None:
        def counter(name: str, labels: list[str]) -> Counter:
            return Counter(name, _HELP[name], labels, registry=REGISTRY)

        self._requests = counter("gateway_http_requests", ["route", "method", "status"])
        self._in_progress = Gauge(
            "gateway_http_requests_in_progress", _HELP["gateway_http_requests_in_progress"], registry=REGISTRY,
            multiprocess_mode="livesum",  # a stopped process's requests are not in progress any more
        )  # fmt: skip
        self._calls = counter("gateway_calls", ["model", "outcome"])
        self._tokens = counter("gateway_tokens", ["model", "type"])
        self._charged = counter("gateway_charged_credits", ["model"])
        self._payments = counter("gateway_payment_events", ["type", "outcome"])
        self._histograms = {
            key: Histogram(name, _HELP[name], buckets=bounds, registry=REGISTRY)
            for key, (name, bounds) in _HISTOGRAMS.items()
        }

    def request_started(self) -> None:
        self._in_progress.inc()

    def request_answered(self, route: str, method: str, status: int) -> None:
        self._requests.labels(route, method, str(status)).inc()
        self._in_progress.dec()

    def call_ended(self, model: str, outcome: str, prompt: int, completion: int, cost: int) -> None:
        self._calls.labels(model, outcome).inc()
        if prompt:
            self._tokens.labels(model, "prompt").inc(prompt)
        if completion:
            self._tokens.labels(model, "completion").inc(completion)
        if cost:
            self._charged.labels(model).inc(cost / NANOS_PER_CREDIT)

    def observe(self, histogram: str, seconds: float) -> None:
        self._histograms[histogram].observe(seconds)

    def payment_event(self, event_type: str, outcome: str) -> None:
        self._payments.labels(event_type, outcome).inc()


_sink: _Tally | _Shared
if MULTIPROCESS:
    _sink = _Shared()
else:
    _sink = _Tally()
    REGISTRY.register(_sink)


def request_started() -> None:
    _sink.request_started()


def request_answered(route: str, method: str, status: int) -> None:
    """`route` is a template (`/user/api-keys/{key_id}`) or `other`, never a raw path."""
    _sink.request_answered(route, method if method in METHODS else OTHER, status)


def call_ended(
    *, model: str, outcome: str, prompt_tokens: int, completion_tokens: int, cost: int, upstream_seconds: float | None
) -> None:
    """A forwarded call's end: `model` a catalog id, `cost` in nano-credits."""
    _sink.call_ended(_model_label(model), outcome, prompt_tokens, completion_tokens, cost)
    if upstream_seconds is not None:
        _sink.observe("upstream", upstream_seconds)


def first_token(seconds: float) -> None:
    _sink.observe("first_token", seconds)


def added_latency(seconds: float) -> None:
    _sink.observe("added", max(0.0, seconds))


def payment_event(event_type: str, outcome: str) -> None:
    """`event_type` one the gateway knows, or `other` (the caller bounds it)."""
    _sink.payment_event(event_type, outcome)


def process_stopping() -> None:
    """Multiprocess mode: this process's live gauges leave the shared directory with it (its
    counters stay: totals never go down when a worker is replaced)."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]  # untyped upstream
