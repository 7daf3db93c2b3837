"""`gateway audit verify` finds a row changed behind the gateway's back; `gateway backup` copies a
live SQLite database consistently, and gives PostgreSQL's pg_dump command without the password."""

from __future__ import annotations

import asyncio
import shlex
import shutil
import sqlite3
import stat
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from gateway.db.database import open_database
from gateway.services.audit import chain
from gateway.services.audit.chain import audit_key
from tests.e2e.cli_support import Operator, customer, database
from tests.e2e.processes import gateway_process
from tests.services import database_url, fresh_database, need_postgres
from tests.support import ADMIN, ADMIN_KEY, SECRET_KEY

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_audit_verify_finds_a_tampered_row(backend: str, tmp_path: Path) -> None:
    async with database(backend, tmp_path) as (url, db):
        ada, bob = await customer(db, "ada@example.com"), await customer(db, "bob@example.com")
        operator = Operator(url, tmp_path)
        for user, amount in ((ada, "5"), (ada, "1"), (bob, "2")):
            await operator.ok("admin", "add-credits", "--user", user.user.id, "--credits", amount, "--reason", "r")
        assert await operator.ok("audit", "verify") == "every audit chain verifies: 3 entries checked\n"
        assert await operator.ok("audit", "verify", "--user", ada.user.id) == (
            f"{ada.user.id}'s audit chain verifies: 2 entries checked\n"
        )
        async with db.transaction() as tx:  # what someone with the database's password could do
            if backend == "sqlite":
                await tx.execute("DROP TRIGGER audit_no_update")
            else:
                await tx.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_no_update")
            await tx.execute(
                "UPDATE audit_log SET details = $2 WHERE user_id = $1 AND seq = 2", ada.user.id, '{"credits":"1000"}'
            )
            row_id = await tx.fetchval("SELECT id FROM audit_log WHERE user_id = $1 AND seq = 2", ada.user.id)
        broken = f"the audit trail is broken: user {ada.user.id}, entry 2 (row id {row_id}): its contents were changed"
        assert (await operator.refused("audit", "verify")).startswith(f"{broken}; ")
        assert await operator.refused("audit", "verify", "--user", ada.user.id) == f"{broken}; 2 entries checked"
        assert "verifies: 1 entries checked" in await operator.ok("audit", "verify", "--user", bob.user.id)
        wrong_key = await operator.refused(
            "audit", "verify", "--user", bob.user.id, SECRET_KEY="another-secret-key-0123456789abcdefghijklmnop"
        )
        assert "entry 1" in wrong_key
        assert "SECRET_KEY is not the one the gateway signs with" in wrong_key
        assert await operator.refused("audit", "verify", "--user", "usr_nobody") == "no user has the id 'usr_nobody'"
        assert (await operator.refused("audit", "verify", SECRET_KEY="")).startswith("SECRET_KEY is not set")


def _credit_until(stop: threading.Event, base_url: str, user_id: str, done: list[int]) -> None:
    """A writer: small top-ups, one after another, until told to stop."""
    with httpx.Client(base_url=base_url, headers=ADMIN, timeout=10) as client:
        while not stop.is_set():
            body = {"user_id": user_id, "credits": "0.001", "reason": "writer", "reference": f"w{len(done)}"}
            response = client.post("/admin/add_credits", json=body)
            assert response.status_code == 200, response.text
            done.append(1)


def _wait_for(done: list[int], count: int) -> None:
    deadline = time.monotonic() + 30
    while len(done) < count:
        assert time.monotonic() < deadline, f"the writer managed {len(done)} writes"
        time.sleep(0.01)


async def test_backup_of_a_live_sqlite_database_is_one_consistent_snapshot(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/gateway.db"
    target = tmp_path / "backups" / "gateway-backup.db"
    target.parent.mkdir()
    settings = {"DATABASE_URL": url, "SECRET_KEY": SECRET_KEY, "ADMIN_API_KEY": ADMIN_KEY}
    with gateway_process(tmp_path, **settings) as gateway:
        registered = await asyncio.to_thread(httpx.post, f"{gateway.url}/auth/register", json={"email": "a@b.co"})
        ada = registered.json()
        stop, done = threading.Event(), []
        writer = threading.Thread(target=_credit_until, args=(stop, gateway.url, ada["user_id"], done))
        writer.start()
        try:
            _wait_for(done, 30)
            out = await Operator(url, tmp_path)("backup", "--to", str(target))
            _wait_for(done, len(done) + 10)  # still writing after the backup
        finally:
            stop.set()
            writer.join()
    assert out.code == 0, out
    assert out.out == f"backed up {url} to {target} ({target.stat().st_size:,} bytes, integrity checked)\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert not list(target.parent.glob(".*partial*"))
    copy = sqlite3.connect(target)
    live = sqlite3.connect(tmp_path / "gateway.db")
    try:
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one file, no -wal beside it
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        copied = copy.execute("SELECT * FROM ledger WHERE user_id = ? ORDER BY id", (ada["user_id"],)).fetchall()
        written = live.execute("SELECT * FROM ledger WHERE user_id = ? ORDER BY id", (ada["user_id"],)).fetchall()
        assert 30 <= len(copied) < len(written)
        assert copied == written[: len(copied)]  # the same rows, up to the moment of the copy
        credits = copy.execute("SELECT credits FROM balances WHERE user_id = ?", (ada["user_id"],)).fetchone()[0]
        assert credits == sum(row[0] for row in copy.execute("SELECT amount FROM ledger WHERE user_id = ?",
                                                              (ada["user_id"],)))  # fmt: skip
    finally:
        copy.close()
        live.close()
    restored = await open_database(f"sqlite:///{target}")  # the copy works as a gateway database
    try:
        assert await chain.verify(restored, key=audit_key(SECRET_KEY), user_id=None) == (len(copied), None)
    finally:
        await restored.close()


async def test_backup_refusals(tmp_path: Path) -> None:
    async with database("sqlite", tmp_path) as (url, _):
        operator = Operator(url, tmp_path, SECRET_KEY="")  # a backup needs no secret
        existing = tmp_path / "existing.db"
        existing.write_text("keep me")
        assert (
            await operator.refused("backup", "--to", str(existing))
            == f"{existing} already exists (--force replaces it)"
        )
        assert existing.read_text() == "keep me"
        assert "backed up" in await operator.ok("backup", "--to", str(existing), "--force")
        assert sqlite3.connect(existing).execute("SELECT COUNT(*) FROM plans").fetchone()[0] == 3
        assert await operator.refused("backup", "--to", str(tmp_path / "no" / "b.db")) == (
            f"the directory {tmp_path / 'no'} does not exist"
        )
        assert await operator.refused("backup", "--to", str(tmp_path)) == (
            f"{tmp_path} is a directory: give the backup file's path"
        )
        assert await operator.refused("backup", "--to", str(tmp_path / "gateway.db"), "--force") == (
            "the backup would overwrite the database itself"
        )
        assert (
            await operator.refused(
                "backup", "--to", str(tmp_path / "b.db"), DATABASE_URL=f"sqlite:///{tmp_path}/typo.db"
            )
            == f"there is no SQLite database at {tmp_path}/typo.db (DATABASE_URL)"
        )
        assert not (tmp_path / "typo.db").exists()
        missing = await operator("backup")
        assert missing.code == 2
        assert "--to" in missing.err


async def test_backup_on_postgresql_prints_the_pg_dump_command_without_the_password(tmp_path: Path) -> None:
    need_postgres()
    async with fresh_database() as name:
        base = database_url(name).replace("postgres@", "postgres:hunter2-secret@", 1)
        url = f"{base}?sslmode=disable&password=hunter3-secret&prepared_statement_cache_size=0"
        target = tmp_path / "gateway dump.pgc"
        await Operator(database_url(name), tmp_path).ok("migrate")
        ran = await Operator(url, tmp_path)("backup", "--to", str(target))
        assert ran.code == 3, ran
        assert ran.error == "no backup written: PostgreSQL is backed up with pg_dump (the command is above)"
        assert "hunter" not in ran.out + ran.err
        assert not target.exists()
        commands = [line.strip() for line in ran.out.splitlines() if line.startswith("  ")]
        dump, restore = (shlex.split(command) for command in commands)
        clean = database_url(name) + "?sslmode=disable"
        assert dump == ["pg_dump", "--format=custom", f"--file={target}", clean]
        assert restore == ["pg_restore", "--clean", "--if-exists", "--no-owner", f"--dbname={clean}", str(target)]
        pg_restore = shutil.which("pg_restore")
        if shutil.which("pg_dump") is None or pg_restore is None:
            pytest.skip("pg_dump is not installed: the command was checked, not run")
        # The printed command, as an operator would paste it.
        await asyncio.to_thread(subprocess.run, dump, check=True, timeout=60)
        listed = await asyncio.to_thread(
            subprocess.run, [pg_restore, "--list", str(target)], check=True, capture_output=True, text=True
        )
        assert "TABLE public ledger" in listed.stdout
