"""What the gateway call uses of the running gateway. `runtime.Runtime` satisfies it; tests
may hand in anything that does."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from gateway.db.database import Database
from gateway.services.audit.chain import Auditor
from gateway.services.billing.holds import PendingReleases
from gateway.services.catalog.cache import CatalogService
from gateway.services.keys.authenticate import KeyAuthenticator
from gateway.services.keys.client_ip import IpNetwork
from gateway.services.limits.rate_limiter import RateLimiter
from gateway.services.plans.book import PlanBook
from gateway.upstream.base import Upstream


class BalanceWatch(Protocol):
    def settled(self, user_id: str, credits: int) -> None:
        """A settlement left the user `credits` (auto top-up looks here; must not block)."""


class CallContext(Protocol):
    @property
    def db(self) -> Database: ...

    @property
    def auth(self) -> KeyAuthenticator: ...

    @property
    def auditor(self) -> Auditor: ...

    @property
    def plans(self) -> PlanBook: ...

    @property
    def catalog(self) -> CatalogService: ...

    @property
    def limiter(self) -> RateLimiter: ...

    @property
    def releases(self) -> PendingReleases: ...

    @property
    def upstream(self) -> Upstream:
        """Where live keys' requests go."""

    @property
    def simulator(self) -> Upstream:
        """Where test keys' requests go."""

    @property
    def instance_id(self) -> str:
        """This process, as the owner of the holds it places."""

    @property
    def trusted_proxies(self) -> Sequence[IpNetwork]: ...

    @property
    def balance_watch(self) -> BalanceWatch: ...
