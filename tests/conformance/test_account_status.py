"""Suspending and reactivating an account (services.accounts.status), on every backend: the
keys are refused at once (on every process, on the shared backends), audited in the chain, and
the balance stays."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest

from gateway.db.database import Database
from gateway.errors import InactiveApiKey, InvalidRequest, NotFound
from gateway.services.accounts import profile
from gateway.services.accounts import status as account_status
from gateway.services.audit import chain as audit
from gateway.services.audit.chain import Auditor
from gateway.services.keys.authenticate import KeyAuthenticator
from gateway.services.reports import usage as reports
from tests.conformance.helpers import PEPPER, new_user
from tests.support import Gateway, bearer

KEY = audit.audit_key("conformance-secret-" + "x" * 20)
Gateways = Callable[..., AbstractAsyncContextManager[Gateway]]


async def actions(db: Database, user_id: str) -> list[str]:
    entries = await reports.audit_page(
        db, user_id=user_id, limit=100, before=None, key_id=None, action=None, since=None, until=None
    )
    return [e.action for e in reversed(entries)]


async def test_a_suspended_accounts_keys_are_refused_until_it_is_reactivated(db: Database) -> None:
    user, api_key = await new_user(db)
    auth, auditor = KeyAuthenticator(db=db, pepper=PEPPER, admin_key=None), Auditor(KEY)
    assert (await auth.authenticate(f"Bearer {api_key}")).user_id == user  # now cached

    suspended = await account_status.set_status(
        db, user_id=user, status="suspended", reason="chargeback", auth=auth, auditor=auditor
    )
    assert suspended.status == "suspended"
    assert (await profile.profile(db, user_id=user)).status == "suspended"
    with pytest.raises(InactiveApiKey, match="suspended"):
        await auth.authenticate(f"Bearer {api_key}")  # the cached copy was dropped

    again = await account_status.set_status(
        db, user_id=user, status="suspended", reason=None, auth=auth, auditor=auditor
    )
    assert again.status == "suspended"  # no change, and no second entry
    await account_status.set_status(db, user_id=user, status="active", reason=None, auth=auth, auditor=auditor)
    assert (await auth.authenticate(f"Bearer {api_key}")).user_status == "active"
    assert await actions(db, user) == ["account.suspended", "account.reactivated"]
    assert await audit.verify(db, key=KEY, user_id=user) == (2, None)


async def test_unknown_deleted_and_made_up_statuses_are_refused(db: Database) -> None:
    user, _ = await new_user(db)
    auth, auditor = KeyAuthenticator(db=db, pepper=PEPPER, admin_key=None), Auditor(KEY)
    with pytest.raises(NotFound):
        await account_status.set_status(db, user_id="usr_nobody", status="suspended", reason=None, auth=auth,
                                        auditor=auditor)  # fmt: skip
    with pytest.raises(InvalidRequest, match="'status'"):
        await account_status.set_status(db, user_id=user, status="deleted", reason=None, auth=auth, auditor=auditor)
    await profile.delete_account(db, user_id=user, auth=auth, auditor=auditor)
    with pytest.raises(InvalidRequest, match="deleted"):
        await account_status.set_status(db, user_id=user, status="active", reason=None, auth=auth, auditor=auditor)
    assert (await profile.profile(db, user_id=user)).status == "deleted"


@pytest.mark.shared
async def test_a_suspension_reaches_the_other_gateway_within_a_second(gateways: Gateways) -> None:
    async with gateways() as a, gateways() as b:
        account = await a.customer("2")
        assert (await b.chat(account["api_key"])).status_code == 200  # now cached in b
        started = time.monotonic()
        await account_status.set_status(
            a.runtime.db, user_id=account["user_id"], status="suspended", reason=None, auth=a.runtime.auth,
            auditor=a.runtime.auditor,
        )  # fmt: skip
        assert (await a.chat(account["api_key"])).status_code == 401
        while (await b.client.get("/user/balance", headers=bearer(account["api_key"]))).status_code != 401:
            assert time.monotonic() - started < 1.0, "b still accepts the suspended account's key"
            await asyncio.sleep(0.01)
        assert (await b.chat(account["api_key"])).status_code == 401
