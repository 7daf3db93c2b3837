"""Backends the conformance suite runs against. Every test here runs once per backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.db.database import Database
from gateway.db.sqlite import SqliteDatabase

BACKENDS = ["sqlite"]


@pytest.fixture(params=BACKENDS)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    database: Database = SqliteDatabase.open(str(tmp_path / "conformance.db"))
    await database.migrate()
    try:
        yield database
    finally:
        await database.close()
