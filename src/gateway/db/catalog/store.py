"""Where the fetched catalog is kept so that one fetch serves every process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from redis.asyncio import Redis

from gateway.db.redis_link import RedisLink

LOCK_SECONDS = 30


@dataclass(frozen=True, slots=True)
class StoredCatalog:
    document: Any
    fetched_at: float


class CatalogStore(Protocol):
    async def load(self) -> StoredCatalog | None: ...

    async def save(self, stored: StoredCatalog) -> None: ...

    async def lock(self) -> bool:
        """True if this process may fetch from the upstream now (no one else is)."""

    async def unlock(self) -> None: ...


class LocalCatalogStore:
    """One process: its own memory is the only copy."""

    async def load(self) -> StoredCatalog | None:
        return None

    async def save(self, stored: StoredCatalog) -> None:
        pass

    async def lock(self) -> bool:
        return True

    async def unlock(self) -> None:
        pass


class RedisCatalogStore:
    def __init__(self, link: RedisLink) -> None:
        self._link = link
        self._key = link.key("catalog")
        self._lock_key = link.key("catalog:lock")

    async def load(self) -> StoredCatalog | None:
        raw = await self._link.run(lambda client: client.get(self._key), None)
        if raw is None:
            return None
        try:
            stored = orjson.loads(raw)
            return StoredCatalog(stored["document"], float(stored["fetched_at"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None

    async def save(self, stored: StoredCatalog) -> None:
        payload = orjson.dumps({"document": stored.document, "fetched_at": stored.fetched_at})
        await self._link.run(lambda client: client.set(self._key, payload), None)

    async def lock(self) -> bool:
        async def acquire(client: Redis) -> bool:
            return bool(await client.set(self._lock_key, b"1", nx=True, ex=LOCK_SECONDS))

        # Unreachable Redis: fetch ourselves rather than serve nothing.
        return await self._link.run(acquire, True)

    async def unlock(self) -> None:
        await self._link.run(lambda client: client.delete(self._lock_key), None)
