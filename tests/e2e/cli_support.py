"""The operator's commands as an operator runs them: `python -m gateway …` in a process of its own,
with a clean environment (only the settings a test gives), on a database the test made."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from gateway.db.database import Database, open_database
from gateway.services.accounts import signup
from gateway.services.billing.money import ZERO
from gateway.services.keys.format import hashing_key
from tests.services import database_url, fresh_database, need_postgres
from tests.support import GATEWAY_ENV, SECRET_KEY

PEPPER = hashing_key(SECRET_KEY)


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str

    @property
    def error(self) -> str:
        """The one 'gateway: …' line a failed command writes."""
        lines = [line for line in self.err.splitlines() if line.startswith("gateway: ")]
        assert len(lines) == 1, self.err
        return lines[0].removeprefix("gateway: ")


def gateway_cli(*args: str, cwd: Path, env: dict[str, str]) -> Ran:
    clean = {k: v for k, v in os.environ.items() if k not in GATEWAY_ENV}
    done = subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        env=clean | env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


class Operator:
    """Runs commands with one database's settings (and SECRET_KEY unless told otherwise)."""

    def __init__(self, url: str, cwd: Path, **env: str) -> None:
        self.url = url
        self.cwd = cwd
        self.env = {"DATABASE_URL": url, "SECRET_KEY": SECRET_KEY, **env}

    async def __call__(self, *args: str, **env: str) -> Ran:
        """A command, in a thread: a gateway in this test's event loop keeps serving meanwhile."""
        settings = {k: v for k, v in (self.env | env).items() if v != ""}  # "" removes a setting
        return await asyncio.to_thread(gateway_cli, *args, cwd=self.cwd, env=settings)

    async def ok(self, *args: str, **env: str) -> str:
        ran = await self(*args, **env)
        assert ran.code == 0, ran
        return ran.out

    async def refused(self, *args: str, code: int = 1, **env: str) -> str:
        ran = await self(*args, **env)
        assert ran.code == code, ran
        assert ran.out == "" or code == 3, ran
        assert "Traceback" not in ran.err, ran.err
        return ran.error


@asynccontextmanager
async def database(backend: str, tmp_path: Path) -> AsyncIterator[tuple[str, Database]]:
    """A migrated database of the test's own (SQLite file or PostgreSQL), open for checks."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/gateway.db"
        async with _opened(url) as db:
            yield url, db
        return
    need_postgres()
    async with fresh_database() as name:
        url = database_url(name)
        async with _opened(url) as db:
            yield url, db


@asynccontextmanager
async def _opened(url: str) -> AsyncIterator[Database]:
    db = await open_database(url)
    try:
        await db.migrate()
        yield db
    finally:
        await db.close()


async def customer(db: Database, email: str) -> signup.Registration:
    return await signup.register(db, email=email, username=None, environment="live", signup_credits=ZERO, pepper=PEPPER)
