"""What the operator's commands share: settings from the environment, the parts of a gateway a
command needs (without starting the HTTP app), and one way to fail.

A command runs beside the live gateways, on the same database: it changes what the services
change, and tells the gateways through Redis (when REDIS_URL is set) that a user's keys must
be looked up again; without Redis a gateway's key cache expires within seconds anyway.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from gateway.settings import DEV_SECRET_FILE, ConfigError, Settings, load_settings, with_dev_secret

if TYPE_CHECKING:
    from gateway.db.database import Database
    from gateway.services.audit.chain import Auditor
    from gateway.services.keys.authenticate import KeyAuthenticator

T = TypeVar("T")


def fail(message: str, code: int = 1) -> NoReturn:
    print(f"gateway: {message}", file=sys.stderr)
    raise SystemExit(code)


def load(*, secret: bool) -> Settings:
    """Settings as the gateway reads them. With `secret`, SECRET_KEY must be the gateway's:
    keys are found by their HMAC and the audit trail is signed with it. In development the
    secret the gateway generated in this directory (.gateway-secret) is used, as the gateway
    itself does; a command never generates one (it would match nothing)."""
    try:
        settings = load_settings(dev_secret=False)
    except ConfigError as error:
        fail(str(error))
    if not secret or settings.secret_key is not None:
        return settings
    if settings.environment == "development" and DEV_SECRET_FILE.exists():
        return with_dev_secret(settings)
    fail(
        "SECRET_KEY is not set: give this command the gateway's SECRET_KEY "
        "(API keys are found by their HMAC with it, and the audit trail is signed with it)"
    )


class Tools:
    """What the services a command calls take: the route's runtime parts, minus serving. The
    pepper and the auditor need SECRET_KEY (`load(secret=True)`): without it they refuse,
    rather than hash or sign with a wrong key."""

    def __init__(self, settings: Settings, db: Database) -> None:
        from gateway.services.keys.authenticate import KeyAuthenticator
        from gateway.services.plans.book import PlanBook

        self.settings = settings
        self.db = db
        self.plans = PlanBook(db)
        # The pepper only serves `authenticate`, which no command calls; forgetting keys needs none.
        self.auth = KeyAuthenticator(db=db, pepper=b"", admin_key=None)

    @property
    def pepper(self) -> bytes:
        from gateway.services.keys.format import hashing_key

        return hashing_key(self.settings.secret())

    @property
    def auditor(self) -> Auditor:
        from gateway.services.audit.chain import Auditor, audit_key

        return Auditor(audit_key(self.settings.secret()))


@asynccontextmanager
async def open_tools(settings: Settings, *, may_create: bool = False) -> AsyncIterator[Tools]:
    """The database (migrated, as the gateway does at start) and the services' parts. A SQLite
    file that does not exist is refused unless `may_create`: a mistyped DATABASE_URL would
    otherwise answer from a new, empty database."""
    from gateway.db.database import open_database

    missing = None if may_create else missing_sqlite_file(settings.database_url)
    if missing is not None:
        fail(f"there is no SQLite database at {missing} (DATABASE_URL)")
    try:
        db = await open_database(
            settings.database_url, pool_size=2, prepared_statements=settings.database_prepared_statements
        )
    except Exception as error:  # any driver's refusal: unreachable, unknown database, bad login
        fail(f"cannot open the database {settings.database_display}: {error}")
    try:
        await db.migrate()
        tools = Tools(settings, db)
        async with _announcing(settings, tools.auth):
            yield tools
    finally:
        await db.close()


def missing_sqlite_file(url: str) -> str | None:
    """The path of a SQLite DATABASE_URL whose file does not exist (a stat: no need to await)."""
    path = url.removeprefix("sqlite:///")
    return path if url.startswith("sqlite:///") and not Path(path).is_file() else None


@asynccontextmanager
async def _announcing(settings: Settings, auth: KeyAuthenticator) -> AsyncIterator[None]:
    """With Redis, what this command makes a user's keys forget reaches every gateway at once,
    on the channel the gateways listen to."""
    if settings.redis_url is None:
        yield
        return
    from gateway.db.events import RedisBus
    from gateway.db.redis_link import RedisLink
    from gateway.runtime import REVOKE_KEY, REVOKE_USER

    link = RedisLink(settings.redis_url, prefix=settings.redis_prefix)
    bus = RedisBus(link)

    async def revoke_key(key_hash: str) -> None:
        await bus.publish(REVOKE_KEY, key_hash)

    async def revoke_user(user_id: str) -> None:
        await bus.publish(REVOKE_USER, user_id)

    auth.on_revoke, auth.on_revoke_user = revoke_key, revoke_user
    try:
        yield
    finally:
        await bus.close()
        await link.close()


def run(work: Coroutine[Any, Any, T]) -> T:
    """Run a command's work; a service's refusal (an unknown user, a bad amount) is its message."""
    from gateway.errors import GatewayError

    try:
        return asyncio.run(work)
    except GatewayError as error:
        fail(error.message)


def printable(text: str) -> str:
    """A customer's own text (an email may hold any character but '@' and spaces) with its
    control characters escaped: an operator's terminal must not run what a customer typed."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
