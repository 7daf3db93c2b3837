"""The audit log: append-only, hash-chained per user, and tampering is found."""

from __future__ import annotations

import asyncio

import pytest

from gateway.db.database import Database
from gateway.services.audit import chain as audit
from gateway.services.audit.chain import Auditor
from tests.conformance.helpers import new_user

KEY = audit.audit_key("conformance-secret-" + "x" * 20)


async def chain_of(db: Database, user: str, entries: int) -> Auditor:
    auditor = Auditor(KEY)
    for n in range(entries):
        await auditor.record_now(db, user_id=user, action=f"test.{n}", actor="customer", details={"n": n})
    return auditor


async def test_entries_chain_and_verify(db: Database) -> None:
    user, _ = await new_user(db)
    await chain_of(db, user, 5)
    assert await audit.verify(db, key=KEY, user_id=user) == (5, None)
    checked, broken = await audit.verify(db, key=KEY, user_id=None)
    assert checked == 5 and broken is None


async def test_concurrent_writers_never_fork_a_chain(db: Database) -> None:
    user, _ = await new_user(db)
    auditor = Auditor(KEY)
    await asyncio.gather(*(auditor.record_now(db, user_id=user, action="burst", actor="gateway") for _ in range(30)))
    assert await audit.verify(db, key=KEY, user_id=user) == (30, None)


async def test_the_log_is_append_only(db: Database) -> None:
    user, _ = await new_user(db)
    await chain_of(db, user, 2)
    for statement in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"):
            async with db.transaction() as tx:
                await tx.execute(statement)


async def _without_guard(db: Database, statement: str, *args: object) -> None:
    """What someone with raw database access could do: switch the guard off and edit."""
    async with db.transaction() as tx:
        if db.dialect == "postgres":
            await tx.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_no_update")
            await tx.execute(statement, *args)
            await tx.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_no_update")
        else:
            await tx.execute("DROP TRIGGER audit_no_update")
            await tx.execute("DROP TRIGGER audit_no_delete")
            await tx.execute(statement, *args)


@pytest.mark.parametrize(
    ("statement", "reason", "seq"),
    [
        ("UPDATE audit_log SET details = '{\"n\":99}' WHERE seq = 3 AND user_id = $1", "changed", 3),
        ("DELETE FROM audit_log WHERE seq = 2 AND user_id = $1", "missing", 2),
        ("UPDATE audit_log SET prev_hash = hash WHERE seq = 4 AND user_id = $1", "chain", 4),
        ("UPDATE audit_log SET created_at = created_at + 1 WHERE seq = 1 AND user_id = $1", "changed", 1),
    ],
)
async def test_tampering_is_reported_at_the_first_broken_link(
    db: Database, statement: str, reason: str, seq: int
) -> None:
    user, _ = await new_user(db)
    other, _ = await new_user(db, "other@example.com")
    await chain_of(db, user, 5)
    await chain_of(db, other, 2)
    await _without_guard(db, statement, user)
    _, broken = await audit.verify(db, key=KEY, user_id=user)
    assert broken is not None
    assert (broken.user_id, broken.seq) == (user, seq)
    assert reason in broken.reason
    assert await audit.verify(db, key=KEY, user_id=other) == (2, None)  # other chains are untouched


async def test_a_forged_entry_fails_without_the_secret(db: Database) -> None:
    user, _ = await new_user(db)
    await chain_of(db, user, 2)
    await chain_of(db, user, 0)
    forger = Auditor(audit.audit_key("someone-else-" + "y" * 30))
    await forger.record_now(db, user_id=user, action="forged", actor="admin")
    broken = (await audit.verify(db, key=KEY, user_id=user))[1]
    assert broken is not None and broken.seq == 3
