"""Whether this process should be sent traffic (`GET /health/ready`): the database answers and
has every migration this code needs, the model catalog is loaded, and the process is not
shutting down. Redis unreachable is "degraded", not "not ready": requests are still served
(with in-process state) and money never depends on Redis.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal

from gateway.db import migrations
from gateway.db.database import Database
from gateway.errors import GatewayError
from gateway.services.catalog.cache import CatalogService

# A probe answers within a load balancer's timeout even when what it checks hangs.
CHECK_SECONDS = 2.0
Status = Literal["ready", "degraded", "not_ready", "shutting_down"]


@dataclass(frozen=True, slots=True)
class Readiness:
    status: Status
    checks: dict[str, str] = field(default_factory=dict)  # what was checked: "ok", or what is wrong
    missing: list[str] = field(default_factory=list)  # the checks that keep it from being ready

    @property
    def ready(self) -> bool:
        return self.status in ("ready", "degraded")


async def _database(db: Database) -> tuple[str, str]:
    """(database, migrations): each "ok" or what is wrong. Errors are named by their kind
    only: the probe is public, and a driver's message may carry a host or a user name."""
    try:
        async with db.read() as tx:
            await migrations.ping(tx)
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})", "unknown (the database is unreachable)"
    try:
        async with db.read() as tx:
            applied = await migrations.applied_versions(tx)
    except Exception as exc:
        return "ok", f"not migrated ({type(exc).__name__})"
    pending = [m for m in migrations.migrations_for(db.dialect) if m.version not in applied]
    if pending:
        return "ok", f"{len(pending)} pending (run `python -m gateway migrate`, or restart)"
    return "ok", "ok"


async def _catalog(catalog: CatalogService) -> str:
    if catalog.status()["fetched_at"] is None:
        try:
            # A probe also retries the fetch (shared with any caller's; a timeout here does not
            # cancel it): a process that started while the upstream was down gets ready.
            await catalog.current()
        except GatewayError as exc:
            return f"not loaded ({exc.message})"
    return f"ok ({catalog.status()['models']} models)"


async def readiness(
    *, db: Database, catalog: CatalogService, redis: str, redis_degraded: bool, draining: bool
) -> Readiness:
    """`redis`: the Redis status line of `/health`; `redis_degraded`: it is unreachable."""
    if draining:
        return Readiness("shutting_down", missing=["shutting down"])
    try:
        database, schema = await asyncio.wait_for(_database(db), CHECK_SECONDS)
    except TimeoutError:
        database, schema = "unreachable (no answer in time)", "unknown (the database is unreachable)"
    try:
        loaded = await asyncio.wait_for(_catalog(catalog), CHECK_SECONDS)
    except TimeoutError:
        loaded = "not loaded (the upstream's catalog did not come in time)"
    checks = {"database": database, "migrations": schema, "catalog": loaded, "redis": redis}
    missing = [name for name in ("database", "migrations", "catalog") if not checks[name].startswith("ok")]
    if missing:
        return Readiness("not_ready", checks, missing)
    return Readiness("degraded" if redis_degraded else "ready", checks)
