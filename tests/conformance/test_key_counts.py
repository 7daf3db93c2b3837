"""A key's request cap across an update of the key: requests in flight (holds placed, no usage
row yet) stay counted when its limits change, so the cap still holds."""

from __future__ import annotations

import pytest

from gateway.db.database import Database
from gateway.services.audit.chain import Auditor
from gateway.services.billing import credits
from gateway.services.billing import holds as billing
from gateway.services.billing.holds import KeyRequestCapReached
from gateway.services.billing.money import Nanos
from gateway.services.keys import manage as api_keys
from gateway.services.keys.authenticate import KeyAuthenticator
from gateway.services.keys.manage import KeyChanges
from tests.conformance.helpers import PEPPER, new_user
from tests.conformance.test_reservations import record


async def _capped_key(db: Database, user: str, max_requests: int | None) -> str:
    created = await api_keys.create(
        db, user_id=user, name="capped", environment="live", changes=KeyChanges(max_requests=max_requests),
        max_keys=None, pepper=PEPPER, auditor=Auditor(b"k" * 32),
    )  # fmt: skip
    return created.key.id


async def _update(db: Database, user: str, key_id: str, changes: KeyChanges) -> None:
    auth = KeyAuthenticator(db=db, pepper=PEPPER, admin_key=None)
    await api_keys.update(db, user_id=user, key_id=key_id, changes=changes, auth=auth, auditor=Auditor(b"k" * 32))


async def _place(db: Database, user: str, key_id: str, *, limited: bool = True) -> billing.Hold:
    return await billing.place(db, user_id=user, key_id=key_id, key_limited=limited, instance_id="gw", amount=Nanos(10))


async def test_requests_in_flight_stay_counted_when_the_key_is_updated(db: Database) -> None:
    user, _ = await new_user(db)
    await credits.credit(db, user_id=user, amount=Nanos(1_000), kind="topup", reference="fund")
    key_id = await _capped_key(db, user, 3)
    first = await _place(db, user, key_id)
    await _place(db, user, key_id)  # two requests in flight
    await _update(db, user, key_id, KeyChanges(name="renamed"))
    await _place(db, user, key_id)
    with pytest.raises(KeyRequestCapReached):
        await _place(db, user, key_id)
    await billing.settle(db, hold=first, cost=Nanos(4), record=record(user))  # one usage row, one hold fewer
    await _update(db, user, key_id, KeyChanges(name="again"))
    with pytest.raises(KeyRequestCapReached):
        await _place(db, user, key_id)
    async with db.read() as tx:
        row = await tx.fetchrow("SELECT request_count, spent, held FROM api_keys WHERE id = $1", key_id)
    assert row is not None and (row["request_count"], row["spent"], row["held"]) == (3, 4, 20)


async def test_a_cap_set_while_requests_are_in_flight_counts_them(db: Database) -> None:
    user, _ = await new_user(db)
    await credits.credit(db, user_id=user, amount=Nanos(1_000), kind="topup", reference="fund")
    key_id = await _capped_key(db, user, None)
    for _ in range(2):  # placed while the key had no cap: not counted on its row
        await _place(db, user, key_id, limited=False)
    with pytest.raises(Exception, match="max_requests"):
        await _update(db, user, key_id, KeyChanges(max_requests=1))
    await _update(db, user, key_id, KeyChanges(max_requests=3))
    await _place(db, user, key_id)
    with pytest.raises(KeyRequestCapReached):
        await _place(db, user, key_id)
