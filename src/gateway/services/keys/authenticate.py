"""Who is calling: bearer key → `Principal`, cached briefly, revoked at once.

Lookups are cached for at most KEY_CACHE_SECONDS (the bound the SPEC sets on how late
another process may notice a revocation without Redis). A key that this process rotates,
deactivates or deletes is forgotten here at once; `on_revoke` tells the other processes.
Concurrent lookups of one key share a single database query.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from cachetools import TTLCache

from gateway.db.database import Database
from gateway.db.keys import api_keys
from gateway.db.keys.api_keys import KeyPolicy
from gateway.errors import (
    AdminRequired,
    ExpiredApiKey,
    InactiveApiKey,
    InvalidApiKey,
)
from gateway.services.keys.client_ip import IpNetwork, parse_networks
from gateway.services.keys.format import environment_of, key_hash

KEY_CACHE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    user_id: str
    environment: str
    mask: str
    key_hash: str
    active: bool
    user_status: str
    is_admin: bool
    plan_id: str
    plan_expires_at: float | None = None
    policy: KeyPolicy = field(default_factory=KeyPolicy)
    limit_overrides: dict[str, int | None] = field(default_factory=dict)
    ip_networks: tuple[IpNetwork, ...] = ()

    @property
    def is_test(self) -> bool:
        return self.environment == "test"

    @property
    def expires_at(self) -> float | None:
        return self.policy.expires_at

    @property
    def limited_spend(self) -> bool:
        """Whether this key's requests must also be held against its own spend limit or cap."""
        return self.policy.spend_limit is not None or self.policy.max_requests is not None

    @property
    def restricted(self) -> bool:
        """Whether this key only works from some addresses or domains."""
        return bool(self.ip_networks or self.policy.domain_referrers)


@dataclass(frozen=True, slots=True)
class Admin:
    """The bootstrap admin (ADMIN_API_KEY) or an admin user's key."""

    principal: Principal | None


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class KeyAuthenticator:
    def __init__(
        self,
        *,
        db: Database,
        pepper: bytes,
        admin_key: str | None,
        ttl: float = KEY_CACHE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._pepper = pepper
        self._admin_key = admin_key.encode() if admin_key else None
        self._cache: TTLCache[str, Principal | None] = TTLCache(maxsize=100_000, ttl=ttl)
        self._pending: dict[str, asyncio.Future[Principal | None]] = {}
        # Keys revoked while their lookup was in flight: that lookup's answer is not cached.
        self._revoked_in_flight: set[str] = set()
        self._clock = clock
        self.on_revoke: Callable[[str], Awaitable[None]] | None = None
        self.on_revoke_user: Callable[[str], Awaitable[None]] | None = None

    async def authenticate(self, authorization: str | None) -> Principal:
        token = bearer_token(authorization)
        if token is None:
            raise InvalidApiKey("missing bearer API key (Authorization: Bearer gw_live_...)")
        if environment_of(token) is None:
            raise InvalidApiKey("invalid API key")
        return await self.authenticate_hash(key_hash(token, self._pepper))

    async def authenticate_hash(self, hashed: str) -> Principal:
        """A key known by its hash (a console session's), with the same checks as a bearer key:
        a rotated, revoked or deleted key fails here on every process."""
        principal = await self._lookup(hashed)
        if principal is None:
            raise InvalidApiKey("invalid API key")
        self._check_usable(principal)
        return principal

    @property
    def admin_key(self) -> str | None:
        return self._admin_key.decode() if self._admin_key is not None else None

    def is_admin_key(self, token: str) -> bool:
        return self._admin_key is not None and hmac.compare_digest(token.encode(), self._admin_key)

    async def authenticate_admin(self, authorization: str | None) -> Admin:
        token = bearer_token(authorization)
        if token is not None and self.is_admin_key(token):
            return Admin(principal=None)
        if token is not None and environment_of(token) is not None:
            principal = await self.authenticate(authorization)
            if principal.is_admin:
                return Admin(principal=principal)
            raise AdminRequired()
        if token is None:
            raise InvalidApiKey("missing bearer admin key")
        if self._admin_key is None:
            raise AdminRequired("admin routes are closed: ADMIN_API_KEY is not set")
        raise InvalidApiKey("invalid admin key")

    # One verb for the cache: `forget_*` here and, through `on_revoke*`, in every process;
    # `forget_*_here` in this process only (what the other processes do when told).

    async def forget_key(self, key_hash_: str) -> None:
        """A key was rotated, changed or deleted: forget it everywhere."""
        self.forget_key_here(key_hash_)
        if self.on_revoke is not None:
            await self.on_revoke(key_hash_)

    async def forget_user(self, user_id: str) -> None:
        """A user's plan, limits or account changed: forget every key of theirs, everywhere."""
        self.forget_user_here(user_id)
        if self.on_revoke_user is not None:
            await self.on_revoke_user(user_id)

    def forget_key_here(self, key_hash_: str) -> None:
        self._cache.pop(key_hash_, None)
        if key_hash_ in self._pending:
            self._revoked_in_flight.add(key_hash_)

    def forget_user_here(self, user_id: str) -> None:
        for hashed in [h for h, p in list(self._cache.items()) if p is not None and p.user_id == user_id]:
            self.forget_key_here(hashed)

    def forget_everything_here(self) -> None:
        """The cache may be stale wholesale (revocations may have been missed)."""
        self._cache.clear()

    def cached_keys(self) -> int:
        return len(self._cache)

    def _check_usable(self, principal: Principal) -> None:
        if principal.user_status != "active":
            raise InactiveApiKey(f"this account is {principal.user_status}")
        if not principal.active:
            raise InactiveApiKey()
        if principal.expires_at is not None and principal.expires_at <= self._clock():
            raise ExpiredApiKey()

    async def _lookup(self, hashed: str) -> Principal | None:
        try:
            return self._cache[hashed]
        except KeyError:
            pass
        pending = self._pending.get(hashed)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Principal | None] = asyncio.get_running_loop().create_future()
        self._pending[hashed] = future
        try:
            principal = await self._load(hashed)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters (if any) re-raise it themselves
            raise
        finally:
            self._pending.pop(hashed, None)
        if hashed in self._revoked_in_flight:
            self._revoked_in_flight.discard(hashed)
        else:
            self._cache[hashed] = principal
        future.set_result(principal)
        return principal

    async def _load(self, hashed: str) -> Principal | None:
        async with self._db.autocommit() as tx:
            found = await api_keys.find_by_hash(tx, hashed)
        if found is None:
            return None
        key = found.key
        return Principal(
            key_id=key.id,
            user_id=key.user_id,
            environment=key.environment,
            mask=key.mask,
            key_hash=hashed,
            active=key.active,
            user_status=found.user_status,
            is_admin=found.user_role == "admin",
            plan_id=found.plan_id,
            plan_expires_at=found.plan_expires_at,
            policy=key.policy,
            limit_overrides=found.limit_overrides,
            ip_networks=parse_networks(key.policy.ip_allowlist),
        )
