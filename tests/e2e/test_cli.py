"""Operators migrate before a deploy with `python -m gateway migrate`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.cluster import postgres_database
from tests.services import database_url
from tests.support import GATEWAY_ENV

pytestmark = pytest.mark.e2e


def migrate(url: str, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in GATEWAY_ENV} | {"DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "migrate"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_migrate_applies_once(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/migrated.db"
        assert "applied: 0001_initial" in migrate(url, tmp_path)
        assert "up to date" in migrate(url, tmp_path)
        return
    with postgres_database() as name:
        url = database_url(name)
        assert "applied: 0001_initial" in migrate(url, tmp_path)
        assert "up to date" in migrate(url, tmp_path)


def test_supabase_style_postgres_scheme_is_accepted(tmp_path: Path) -> None:
    with postgres_database() as name:
        url = database_url(name).replace("postgresql://", "postgres://", 1)
        assert "applied: 0001_initial" in migrate(url, tmp_path)
