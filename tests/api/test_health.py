"""Probes: `/health/live` while the process serves; `/health/ready` only while it should get
traffic (database reachable and migrated, catalog loaded, not shutting down; Redis down is
"degraded", still ready). `/health` keeps its payload."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from gateway.services.operations.draining import Drain
from tests.support import FakeUpstream, Gateway, free_port

ReadyChecks = {"database", "migrations", "catalog", "redis"}


def _drain(gateway: Gateway) -> Drain:
    drain: Drain = gateway.app.api.state.drain
    return drain


async def test_live_and_ready_on_a_healthy_gateway(gateway: Gateway) -> None:
    live = await gateway.client.get("/health/live")
    assert (live.status_code, live.json()) == (200, {"status": "alive"})
    ready = await gateway.client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready" and body["missing"] == []
    assert set(body["checks"]) == ReadyChecks
    assert body["checks"]["database"] == body["checks"]["migrations"] == "ok"
    assert body["checks"]["catalog"].startswith("ok (") and body["checks"]["redis"] == "not configured"
    assert body["instance_id"] == gateway.runtime.instance_id


async def test_health_keeps_its_payload(gateway: Gateway) -> None:
    body = (await gateway.client.get("/health")).json()
    assert set(body) == {"status", "redis", "database", "upstream", "catalog_models", "catalog_stale"}
    assert body["status"] == "ok"


async def test_shutting_down_is_not_ready_but_still_live(gateway: Gateway) -> None:
    _drain(gateway).begin()  # what SIGTERM does
    ready = await gateway.client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["status"] == "shutting_down" and ready.json()["missing"] == ["shutting down"]
    assert (await gateway.client.get("/health/live")).status_code == 200


async def test_a_database_missing_a_migration_is_not_ready(gateway: Gateway) -> None:
    async with gateway.runtime.db.transaction() as tx:
        await tx.execute("DELETE FROM schema_migrations WHERE version = (SELECT MAX(version) FROM schema_migrations)")
    ready = await gateway.client.get("/health/ready")
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "not_ready" and body["missing"] == ["migrations"]
    assert body["checks"]["migrations"].startswith("1 pending") and body["checks"]["database"] == "ok"


async def test_an_unreachable_database_is_not_ready_and_says_no_more_than_that(gateway: Gateway) -> None:
    async with gateway.runtime.db.transaction() as tx:
        await tx.execute("DROP TABLE schema_migrations")
    body = (await gateway.client.get("/health/ready")).json()
    assert body["missing"] == ["migrations"] and body["checks"]["migrations"] == "not migrated (OperationalError)"

    class Gone:
        dialect = "sqlite"

        def read(self) -> Any:
            raise OSError("connection refused by db-host:5432 for user gateway")

    db, gateway.runtime.db = gateway.runtime.db, Gone()  # type: ignore[assignment]
    try:
        ready = await gateway.client.get("/health/ready")
    finally:
        gateway.runtime.db = db
    assert ready.status_code == 503
    assert ready.json()["missing"] == ["database", "migrations"]
    assert ready.json()["checks"]["database"] == "unreachable (OSError)"
    assert "db-host" not in ready.text


async def test_a_catalog_never_loaded_is_not_ready_until_it_loads(
    gateway_factory: Callable[..., AbstractAsyncContextManager[Gateway]], upstream: FakeUpstream
) -> None:
    upstream.catalog_status = 503
    async with gateway_factory(upstream_base_url=upstream.base_url) as gateway:
        ready = await gateway.client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["missing"] == ["catalog"] and ready.json()["checks"]["catalog"].startswith("not loaded")
        upstream.catalog_status = 200  # the upstream is back: the probe itself fetches again
        ready = await gateway.client.get("/health/ready")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"


async def test_redis_down_is_degraded_yet_ready(
    gateway_factory: Callable[..., AbstractAsyncContextManager[Gateway]],
) -> None:
    async with gateway_factory(redis_url=f"redis://127.0.0.1:{free_port()}/0") as gateway:
        ready = await gateway.client.get("/health/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "degraded" and ready.json()["missing"] == []
        assert ready.json()["checks"]["redis"].startswith("unreachable")
