"""A scrape of `/metrics`: who may read it, the gauges read at that moment, and the text.

Gauges that need the database (holds in flight, credits reserved) or describe the shared
state (database and Redis reachable, catalog age) are read here, once per scrape, by the
process that answers it — never on a request's path. Being read, not recorded, they never go
through the multiprocess files: every process would report the same database anyway.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from gateway.db.database import Database
from gateway.services.billing import balances
from gateway.services.keys.authenticate import bearer_token
from gateway.services.operations import metrics

log = logging.getLogger("gateway.metrics")
DATABASE_TIMEOUT_SECONDS = 2.0  # a scrape must answer even when the database does not


def is_metrics_token(authorization: str | None, token: str | None) -> bool:
    """Whether the bearer is METRICS_TOKEN (constant-time: the comparison leaks no prefix)."""
    sent = bearer_token(authorization)
    return token is not None and sent is not None and hmac.compare_digest(sent.encode(), token.encode())


@dataclass(frozen=True, slots=True)
class State:
    database_up: bool
    holds: int | None  # None: the database did not answer
    reserved: int | None  # nano-credits
    redis_up: bool | None  # None: Redis is not configured
    catalog_models: int
    catalog_age: float | None  # seconds; None: no catalog loaded yet


async def read_state(db: Database, *, redis_up: bool | None, catalog_models: int, catalog_age: float | None) -> State:
    try:
        holds, reserved = await asyncio.wait_for(balances.holds_in_flight(db), DATABASE_TIMEOUT_SECONDS)
    except Exception as exc:
        log.warning("metrics: the database did not answer (%s)", type(exc).__name__)
        return State(False, None, None, redis_up, catalog_models, catalog_age)
    return State(True, holds, reserved, redis_up, catalog_models, catalog_age)


class _StateCollector(Collector):
    def __init__(self, state: State) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        state = self._state
        yield _gauge("gateway_database_up", "1 if the database answered this scrape's query, else 0", state.database_up)
        if state.holds is not None and state.reserved is not None:
            yield _gauge("gateway_holds_in_flight", "Holds of calls in flight, every process together", state.holds)
            reserved = state.reserved / metrics.NANOS_PER_CREDIT
            yield _gauge("gateway_reserved_credits", "Credits held by calls in flight, all customers", reserved)
        if state.redis_up is not None:
            yield _gauge("gateway_redis_up", "1 if Redis answers, 0 while in-process state stands in", state.redis_up)
        yield _gauge("gateway_catalog_models", "Models in the catalog this process serves", state.catalog_models)
        if state.catalog_age is not None:
            age = max(0.0, state.catalog_age)
            yield _gauge("gateway_catalog_age_seconds", "Seconds since the catalog was fetched upstream", age)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


def exposition(state: State) -> bytes:
    """The Prometheus text: recorded metrics (this process's, or every process's in
    multiprocess mode) followed by the gauges read for this scrape."""
    if metrics.MULTIPROCESS:
        recorded = CollectorRegistry()
        MultiProcessCollector(recorded)  # type: ignore[no-untyped-call]  # prometheus-client's own, untyped
    else:
        recorded = metrics.REGISTRY
    read = CollectorRegistry(auto_describe=False)
    read.register(_StateCollector(state))
    return generate_latest(recorded) + generate_latest(read)
