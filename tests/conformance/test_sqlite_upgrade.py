"""Upgrading an existing SQLite database: rows that older code let past a key's limits do not
stop the later migrations (0003 turns the limits into CHECK constraints), and the keys stay
exactly as exhausted as they were."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from gateway.db.backends.sqlite import SqliteDatabase
from gateway.db.billing.holds import NewHold, Placed
from gateway.db.migrations import migrations_for

BEFORE_CHECKS = 3  # 0003_key_budget_checks


def _database_before_checks(path: Path) -> None:
    """A database migrated by 0001 and 0002 only, as the runner records them."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    for migration in migrations_for("sqlite"):
        if migration.version < BEFORE_CHECKS:
            conn.executescript(f"BEGIN;\n{migration.sql}\nCOMMIT;")
            conn.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)", (migration.version, migration.name, time.time())
            )
    now = time.time()
    conn.execute(
        "INSERT INTO users (id, email, username, plan_id, created_at) VALUES ('usr_1', 'a@x.io', 'a', 'free', ?)",
        (now,),
    )
    conn.execute("INSERT INTO balances (user_id, credits, reserved) VALUES ('usr_1', 1000000, 40)")
    keys = [  # id, spend_limit, spent, held, max_requests, request_count
        ("key_requests", None, 0, 0, 3, 5),  # past its request cap
        ("key_spent", 100, 150, 0, None, 0),  # spent past its limit
        ("key_held", 100, 80, 40, None, 0),  # under it, but not with what it holds
    ]
    for key_id, spend_limit, spent, held, max_requests, request_count in keys:
        conn.execute(
            "INSERT INTO api_keys (id, user_id, name, environment, key_hash, mask, created_at, spend_limit, spent,"
            " held, max_requests, request_count) VALUES (?, 'usr_1', ?, 'live', ?, 'gw…', ?, ?, ?, ?, ?, ?)",
            (key_id, key_id, f"hash-{key_id}", now, spend_limit, spent, held, max_requests, request_count),
        )
    conn.execute(
        "INSERT INTO reservations (id, user_id, key_id, amount, instance_id, created_at, key_held)"
        " VALUES ('hold_old', 'usr_1', 'key_held', 40, 'gone', ?, 1)",
        (now,),
    )
    conn.close()


def _hold(key_id: str) -> NewHold:
    return NewHold(
        id=f"hold_{key_id}", user_id="usr_1", key_id=key_id, amount=1, instance_id="here",
        created_at=time.time(), key_limited=True,
    )  # fmt: skip


async def test_keys_past_their_limits_migrate_and_stay_exhausted(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _database_before_checks(path)
    db = SqliteDatabase.open(str(path))
    try:
        applied = await db.migrate()
        assert applied[0] == "0003_key_budget_checks"
        assert await db.holds.place(_hold("key_requests")) is Placed.KEY_REQUEST_CAP
        assert await db.holds.place(_hold("key_spent")) is Placed.KEY_SPEND_LIMIT
        assert await db.holds.place(_hold("key_held")) is Placed.KEY_SPEND_LIMIT
        # The hold made before the upgrade still ends, and takes its amount off the key.
        assert await db.holds.release(hold_id="hold_old") == 40
        async with db.read() as tx:
            rows = await tx.fetchall("SELECT id, spend_limit, spent, held, max_requests, request_count FROM api_keys")
        found = {row["id"]: tuple(row)[1:] for row in rows}
        assert found == {
            "key_requests": (None, 0, 0, 3, 3),
            "key_spent": (150, 150, 0, None, 0),
            "key_held": (120, 80, 0, None, 0),
        }
    finally:
        await db.close()
