"""Keys: stored by hash only, found by the full key, revoked at once."""

import pytest

from gateway.db.database import Database
from gateway.errors import InactiveApiKey, InvalidApiKey
from gateway.services.audit.chain import Auditor
from gateway.services.keys import manage as api_keys
from gateway.services.keys.authenticate import KeyAuthenticator
from gateway.services.keys.format import key_hash
from gateway.services.keys.manage import KeyChanges
from tests.conformance.helpers import PEPPER, new_user


async def test_only_hashes_are_stored(db: Database) -> None:
    user, api_key = await new_user(db)
    async with db.read() as tx:
        rows = await tx.fetchall("SELECT * FROM api_keys WHERE user_id = $1", user)
    stored = " ".join(str(dict(zip(row.keys(), tuple(row), strict=True))) for row in rows) if rows else ""
    assert api_key not in stored
    assert key_hash(api_key, PEPPER) in stored


async def test_authentication_and_immediate_revocation(db: Database) -> None:
    user, api_key = await new_user(db)
    auth = KeyAuthenticator(db=db, pepper=PEPPER, admin_key=None)
    principal = await auth.authenticate(f"Bearer {api_key}")
    assert principal.user_id == user
    async with db.transaction() as tx:
        await tx.execute("UPDATE api_keys SET active = $2 WHERE user_id = $1", user, False)
    assert (await auth.authenticate(f"Bearer {api_key}")).active, "cached until revoked"
    await auth.forget_key(principal.key_hash)
    with pytest.raises(InactiveApiKey):
        await auth.authenticate(f"Bearer {api_key}")


async def test_concurrent_lookups_share_one_query(db: Database) -> None:
    import asyncio

    _, api_key = await new_user(db)
    auth = KeyAuthenticator(db=db, pepper=PEPPER, admin_key=None)
    results = await asyncio.gather(*(auth.authenticate(f"Bearer {api_key}") for _ in range(20)))
    assert len({r.key_id for r in results}) == 1
    assert auth.cached_keys() == 1


async def test_unknown_keys_are_refused(db: Database) -> None:
    auth = KeyAuthenticator(db=db, pepper=PEPPER, admin_key=None)
    with pytest.raises(InvalidApiKey):
        await auth.authenticate("Bearer gw_live_" + "Z" * 43)


async def test_keys_list_per_user(db: Database) -> None:
    user, _ = await new_user(db)
    other, _ = await new_user(db, "other@example.com")
    await api_keys.create(
        db, user_id=user, name="second", environment="test", changes=KeyChanges(), max_keys=None,
        pepper=PEPPER, auditor=Auditor(b"k" * 32),
    )  # fmt: skip
    mine = await api_keys.list_keys(db, user_id=user, limit=10, after=None)
    theirs = await api_keys.list_keys(db, user_id=other, limit=10, after=None)
    assert [k.name for k in mine] == ["default", "second"]
    assert len(theirs) == 1
