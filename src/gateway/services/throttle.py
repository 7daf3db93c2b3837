"""The per-IP throttle of public routes (`POST /auth/register`), built on slowapi's limiter.

Its counters live in-process by default; the scale-out backend points them at Redis.
"""

from __future__ import annotations

import math
import time

from limits import parse as parse_limit
from slowapi import Limiter

from gateway.errors import RateLimited


class PublicThrottle:
    def __init__(self, *, limit: str, storage_uri: str = "memory://", key_prefix: str = "gw") -> None:
        self._limiter = Limiter(
            key_func=lambda: "", storage_uri=storage_uri, strategy="moving-window", key_prefix=key_prefix
        )
        self._item = parse_limit(limit)
        self.limit = limit

    def hit(self, *, scope: str, client: str) -> None:
        """Count one call from `client`; raise RateLimited (with Retry-After) when over."""
        limiter = self._limiter.limiter
        if limiter.hit(self._item, scope, client):
            return
        reset_at, _remaining = limiter.get_window_stats(self._item, scope, client)
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise RateLimited(
            f"too many requests from this address (limit {self.limit}); retry after {retry_after}s",
            retry_after=retry_after,
        )
