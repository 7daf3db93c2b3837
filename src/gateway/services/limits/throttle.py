"""The per-IP throttle of public routes (`POST /auth/register`), built on slowapi's limiter.

Counters live in-process by default; with Redis they are shared by every gateway process,
and while Redis is unreachable the in-process counters take over.
"""

from __future__ import annotations

import math
import time
from typing import Any

from limits import parse as parse_limit
from limits.errors import StorageError
from slowapi import Limiter

from gateway.db.redis_link import TIMEOUT_SECONDS, RedisLink
from gateway.errors import RateLimited


def _limiter(storage_uri: str, **options: Any) -> Limiter:
    return Limiter(key_func=lambda: "", storage_uri=storage_uri, strategy="moving-window", storage_options=options)


class PublicThrottle:
    def __init__(self, *, limit: str, link: RedisLink | None = None) -> None:
        self.limit = limit
        self._item = parse_limit(limit)
        self._link = link
        self._local = _limiter("memory://")
        self._shared = None
        if link is not None:
            self._shared = _limiter(
                link.url,
                key_prefix=link.key("throttle"),
                socket_timeout=TIMEOUT_SECONDS,
                socket_connect_timeout=TIMEOUT_SECONDS,
                wrap_exceptions=True,
            )

    def hit(self, *, scope: str, client: str) -> None:
        """Count one call from `client`; raise RateLimited (with Retry-After) when over."""
        if self._shared is not None and self._link is not None and self._link.healthy:
            try:
                self._count(self._shared, scope, client)
                return
            except StorageError as exc:
                self._link.failed(exc)
        self._count(self._local, scope, client)

    def _count(self, limiter: Limiter, scope: str, client: str) -> None:
        strategy = limiter.limiter
        if strategy.hit(self._item, scope, client):
            return
        reset_at, _remaining = strategy.get_window_stats(self._item, scope, client)
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise RateLimited(
            f"too many requests from this address (limit {self.limit}); retry after {retry_after}s",
            retry_after=retry_after,
        )
