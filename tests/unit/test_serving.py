"""`serve --workers N`: more than one process only where every guarantee holds across them."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.services.operations import serving
from gateway.services.operations.serving import server_shutdown_limit, workers_refusal
from tests.support import make_settings

POSTGRES = "postgresql://gateway@db-host:5432/gateway"


def test_one_process_serves_anywhere(tmp_path: Path) -> None:
    assert workers_refusal(make_settings(tmp_path), 1) is None
    assert workers_refusal(make_settings(tmp_path, database_url=POSTGRES), 1) is None


def test_sqlite_refuses_several(tmp_path: Path) -> None:
    refusal = workers_refusal(make_settings(tmp_path), 2)
    assert refusal is not None and "SQLite serves one gateway process" in refusal and "PostgreSQL and Redis" in refusal


def test_postgresql_without_redis_refuses_several(tmp_path: Path) -> None:
    refusal = workers_refusal(make_settings(tmp_path, database_url=POSTGRES), 4)
    assert refusal is not None and "needs REDIS_URL" in refusal and "4 times" in refusal


def test_postgresql_and_redis_run_several(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, database_url=POSTGRES, redis_url="redis://127.0.0.1:6379/0")
    assert workers_refusal(settings, 8) is None


@pytest.mark.parametrize("workers", [0, -1, 65])
def test_a_count_out_of_range_is_refused(tmp_path: Path, workers: int) -> None:
    refusal = workers_refusal(make_settings(tmp_path), workers)
    assert refusal is not None and "from 1 to 64" in refusal


def test_the_servers_own_limit_comes_after_the_apps_grace(tmp_path: Path) -> None:
    assert server_shutdown_limit(make_settings(tmp_path)) == 35
    assert server_shutdown_limit(make_settings(tmp_path, shutdown_grace_seconds=2.5)) == 8


def test_the_serve_command_starts_the_metrics_directory_empty(tmp_path: Path) -> None:
    (tmp_path / "counter_123.db").write_bytes(b"old run")
    (tmp_path / "keep.txt").write_text("not prometheus-client's")
    assert serving.fresh_metrics_dir(2, {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_several_workers_without_a_metrics_directory_are_warned_of(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="gateway.serve"):
        assert serving.fresh_metrics_dir(3, {}) == 0
        assert serving.fresh_metrics_dir(1, {}) == 0
    assert [r.getMessage() for r in caplog.records] == [
        "3 workers without PROMETHEUS_MULTIPROC_DIR: each scrape sees one worker's metrics"
    ]
