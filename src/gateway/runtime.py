"""Everything a running gateway holds: created in the app's lifespan, closed at shutdown.

Routes reach it through `deps`; nothing here is module-level, so tests build as many
gateways (with their own settings) as they like.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Literal

from gateway.db.catalog.store import CatalogStore, LocalCatalogStore, RedisCatalogStore
from gateway.db.database import Database, open_database
from gateway.db.events import EventBus, LocalBus, RedisBus
from gateway.db.limits.windows import MemoryWindows, WindowStore
from gateway.db.limits.windows_redis import RedisWindows
from gateway.db.redis_link import RedisLink
from gateway.errors import GatewayError
from gateway.ids import new_id
from gateway.services.audit.chain import Auditor, audit_key
from gateway.services.billing import sweeping
from gateway.services.billing.holds import PendingReleases
from gateway.services.billing.money import Nanos, parse_credits
from gateway.services.call.context import BalanceWatch
from gateway.services.catalog.cache import CatalogService
from gateway.services.catalog.entries import load_price_file
from gateway.services.console.sessions import ConsoleSessions
from gateway.services.keys.authenticate import KeyAuthenticator
from gateway.services.keys.client_ip import IpNetwork
from gateway.services.keys.format import hashing_key
from gateway.services.limits.rate_limiter import RateLimiter
from gateway.services.limits.throttle import PublicThrottle
from gateway.services.payments.setup import PaymentParts, start_payments
from gateway.services.plans import periods
from gateway.services.plans.book import PlanBook
from gateway.settings import Settings
from gateway.upstream.base import Upstream
from gateway.upstream.http import HttpUpstream
from gateway.upstream.simulated import SimulatedUpstream

log = logging.getLogger("gateway")


class _NoWatch:
    def settled(self, user_id: str, credits: int) -> None:
        pass


NO_WATCH = _NoWatch()
REVOKE_KEY, REVOKE_USER, CATALOG_CHANGED, PLANS_CHANGED = "revoke-key", "revoke-user", "catalog", "plans"
AUTO_TOPUPS_CHANGED = "auto-topups"
PLAN_CREDITS_EVERY_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class Health:
    status: Literal["ok", "degraded"]  # degraded: Redis is unreachable, in-process state serves
    redis: str


@dataclass
class Runtime:
    """The running gateway's parts. It is also what the gateway call uses
    (`services.call.context.CallContext`)."""

    settings: Settings
    db: Database
    pepper: bytes
    auth: KeyAuthenticator
    auditor: Auditor
    plans: PlanBook
    catalog: CatalogService
    limiter: RateLimiter
    releases: PendingReleases  # holds whose call could not write its end, released later
    upstream: Upstream  # where live keys' requests go
    simulator: Upstream  # where test keys' requests go
    instance_id: str  # this process, as the owner of the holds it places
    throttle: PublicThrottle
    console: ConsoleSessions
    signin_throttle: PublicThrottle  # console sign-in attempts, per client address
    signup_credits: Nanos
    bus: EventBus
    redis: RedisLink | None
    payments: PaymentParts | None = None  # None: STRIPE_SECRET_KEY is not set
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def trusted_proxies(self) -> list[IpNetwork]:
        return self.settings.trusted_proxies

    @property
    def balance_watch(self) -> BalanceWatch:
        return self.payments.auto_topups if self.payments is not None else NO_WATCH

    def health(self) -> Health:
        if self.redis is None:
            return Health("ok", "not configured")
        if self.redis.healthy:
            return Health("ok", "ok")
        return Health("degraded", f"unreachable ({self.redis.last_error}): in-process fallback")


def _upstream(settings: Settings, simulator: Upstream) -> Upstream:
    if settings.upstream_base_url is None:
        return simulator
    api_key = settings.upstream_api_key.get_secret_value() if settings.upstream_api_key else None
    return HttpUpstream(base_url=settings.upstream_base_url, api_key=api_key, timeout=settings.upstream_timeout)


async def start_runtime(settings: Settings) -> Runtime:
    db = await open_database(
        settings.database_url,
        pool_size=settings.database_pool_size,
        prepared_statements=settings.database_prepared_statements,
    )
    applied = await db.migrate()
    if applied:
        log.info("database migrated: %s", ", ".join(applied))
    redis = RedisLink(settings.redis_url, prefix=settings.redis_prefix) if settings.redis_url else None
    bus: EventBus = RedisBus(redis) if redis else LocalBus()
    store: CatalogStore = RedisCatalogStore(redis) if redis else LocalCatalogStore()
    pepper = hashing_key(settings.secret())
    simulator = SimulatedUpstream(timeout=settings.upstream_timeout)
    upstream = _upstream(settings, simulator)
    catalog = CatalogService(
        fetch=upstream.models,
        markup=settings.credit_markup,
        ttl=settings.model_cache_ttl,
        overrides=load_price_file(settings.price_file),
        store=store,
        announce=lambda: bus.publish(CATALOG_CHANGED, ""),
    )
    admin_key = settings.admin_api_key.get_secret_value() if settings.admin_api_key else None
    auth = KeyAuthenticator(db=db, pepper=pepper, admin_key=admin_key)
    local_windows = MemoryWindows()
    windows: WindowStore = RedisWindows(redis, local_windows) if redis else local_windows
    runtime = Runtime(
        settings=settings,
        db=db,
        pepper=pepper,
        auth=auth,
        auditor=Auditor(audit_key(settings.secret())),
        plans=PlanBook(db),
        catalog=catalog,
        limiter=RateLimiter(windows, finish_inline=settings.vercel),
        releases=PendingReleases(db),
        upstream=upstream,
        simulator=simulator,
        instance_id=new_id("gw"),
        throttle=PublicThrottle(limit=settings.register_rate_limit, link=redis),
        console=ConsoleSessions(db=db, auth=auth, pepper=pepper, lifetime=settings.console_session_hours * 3600),
        signin_throttle=PublicThrottle(limit=settings.console_signin_rate_limit, link=redis),
        signup_credits=parse_credits(settings.signup_credits),
        bus=bus,
        redis=redis,
    )
    runtime.payments = await start_payments(settings, db=db, auth=runtime.auth)
    await _connect_events(runtime)
    await _sweep(runtime)
    runtime._tasks.append(asyncio.create_task(_keep_alive(runtime), name="gateway-heartbeat"))
    runtime._tasks.append(asyncio.create_task(_warm_catalog(catalog), name="gateway-catalog"))
    runtime._tasks.append(asyncio.create_task(_grant_plan_credits(runtime), name="gateway-plan-credits"))
    _announce(settings)
    return runtime


async def _connect_events(runtime: Runtime) -> None:
    """Revocations and catalog changes reach every process; after a gap, caches restart."""
    auth, catalog, bus = runtime.auth, runtime.catalog, runtime.bus

    async def revoke(key_hash: str) -> None:
        auth.forget_key_here(key_hash)

    async def resync() -> None:
        auth.forget_everything_here()  # revocations may have been missed
        await runtime.plans.forget_here()
        await catalog.adopt_shared()
        if runtime.payments is not None:
            await runtime.payments.auto_topups.reload()

    async def revoke_user(user_id: str) -> None:
        auth.forget_user_here(user_id)

    auth.on_revoke = lambda key_hash: bus.publish(REVOKE_KEY, key_hash)
    auth.on_revoke_user = lambda user_id: bus.publish(REVOKE_USER, user_id)
    runtime.plans.on_change = lambda: bus.publish(PLANS_CHANGED, "")
    bus.subscribe(REVOKE_KEY, revoke)
    bus.subscribe(REVOKE_USER, revoke_user)
    bus.subscribe(CATALOG_CHANGED, catalog.adopt_shared)
    bus.subscribe(PLANS_CHANGED, runtime.plans.forget_here)
    if runtime.payments is not None:
        auto_topups = runtime.payments.auto_topups
        auto_topups.on_change = lambda: bus.publish(AUTO_TOPUPS_CHANGED, "")
        bus.subscribe(AUTO_TOPUPS_CHANGED, auto_topups.reload)
    bus.on_resync(resync)
    if runtime.redis is not None:
        runtime.redis.on_recover(resync)
        await runtime.redis.start()
    await bus.start()


async def stop_runtime(runtime: Runtime) -> None:
    for task in runtime._tasks:
        task.cancel()
    for task in runtime._tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if runtime.payments is not None:
        await runtime.payments.stop()
    if await runtime.releases.retry():
        log.warning("%d holds could not be released; other processes will sweep them", len(runtime.releases))
    try:  # every call has ended (see `operations.draining`): what it still holds goes back now
        released = await sweeping.release_own(runtime.db, instance_id=runtime.instance_id)
    except Exception:
        log.exception("releasing this process's last holds failed; other processes will sweep them")
    else:
        if released:
            log.warning("released %d holds of calls cut at shutdown", released)
    await sweeping.leave(runtime.db, instance_id=runtime.instance_id)
    await runtime.limiter.drain()
    await runtime.bus.close()
    if runtime.redis is not None:
        await runtime.redis.close()
    await runtime.upstream.close()
    await runtime.db.close()


async def _sweep(runtime: Runtime) -> None:
    await runtime.releases.retry()
    await sweeping.heartbeat(runtime.db, instance_id=runtime.instance_id)
    released = await sweeping.release_orphans(runtime.db, stale_after=runtime.settings.instance_stale_seconds)
    if released:
        log.warning("released %d reservations left by stopped gateway processes", released)


async def _keep_alive(runtime: Runtime) -> None:
    """Prove this process is alive, and release what dead ones held."""
    settings = runtime.settings
    while True:
        await asyncio.sleep(settings.instance_heartbeat_seconds)
        try:
            await _sweep(runtime)
        except Exception:
            log.exception("heartbeat failed; retrying")


async def _grant_plan_credits(runtime: Runtime) -> None:
    """Each paid plan period's included credits, granted once (any process may do it); and
    expired console sessions removed."""
    while True:
        try:
            await periods.grant_due_credits(runtime.db, runtime.plans)
            await runtime.console.forget_expired()
        except Exception:
            log.exception("granting plan credits failed; retrying later")
        await asyncio.sleep(PLAN_CREDITS_EVERY_SECONDS)


async def _warm_catalog(catalog: CatalogService) -> None:
    """Fetch the catalog now so the first request need not wait for it."""
    try:
        await catalog.current()
    except GatewayError as exc:
        log.warning("could not fetch the model catalog yet (%s); will retry on demand", exc.message)


def _announce(settings: Settings) -> None:
    upstream = settings.upstream_base_url or "the built-in simulator (UPSTREAM_BASE_URL is unset)"
    log.info("database: %s; redis: %s", settings.database_display, "on" if settings.redis_url else "off")
    log.info("upstream: %s", upstream)
    if settings.admin_api_key is None:
        log.warning(
            "admin routes are closed: set ADMIN_API_KEY (any string, 32+ chars in production), "
            "e.g. export ADMIN_API_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
