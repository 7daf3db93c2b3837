"""An account's role (services.accounts.roles), on every backend: an admin's own key is an admin
key from the next request on, a removed admin's is not, each change is audited in the chain, and
a new admin account opens through signup's rules."""

from __future__ import annotations

import pytest

from gateway.db.database import Database
from gateway.errors import AdminRequired, AlreadyExists, InvalidRequest, NotFound
from gateway.services.accounts import profile, roles
from gateway.services.audit import chain as audit
from gateway.services.audit.chain import Auditor
from gateway.services.billing import balances
from gateway.services.keys.authenticate import KeyAuthenticator
from tests.conformance.helpers import PEPPER, new_user

KEY = audit.audit_key("conformance-secret-" + "x" * 20)


def parts(db: Database) -> tuple[KeyAuthenticator, Auditor]:
    return KeyAuthenticator(db=db, pepper=PEPPER, admin_key=None), Auditor(KEY)


async def test_a_promoted_users_key_is_an_admin_key_at_once(db: Database) -> None:
    user, api_key = await new_user(db)
    auth, auditor = parts(db)
    with pytest.raises(AdminRequired):
        await auth.authenticate_admin(f"Bearer {api_key}")  # and now cached as a customer's key
    admin, changed = await roles.set_role(db, user_id=user, role="admin", auth=auth, auditor=auditor)
    assert (admin.role, changed) == ("admin", True)
    assert (await auth.authenticate_admin(f"Bearer {api_key}")).principal is not None
    assert (await roles.set_role(db, user_id=user, role="admin", auth=auth, auditor=auditor))[1] is False
    await roles.set_role(db, user_id=user, role="customer", auth=auth, auditor=auditor)
    with pytest.raises(AdminRequired):
        await auth.authenticate_admin(f"Bearer {api_key}")
    assert (await profile.profile(db, user_id=user)).role == "customer"
    assert await audit.verify(db, key=KEY, user_id=user) == (2, None)  # no entry for the repeat


async def test_unknown_deleted_and_made_up_roles_are_refused(db: Database) -> None:
    user, _ = await new_user(db)
    auth, auditor = parts(db)
    with pytest.raises(NotFound):
        await roles.set_role(db, user_id="usr_nobody", role="admin", auth=auth, auditor=auditor)
    with pytest.raises(InvalidRequest, match="'role'"):
        await roles.set_role(db, user_id=user, role="root", auth=auth, auditor=auditor)
    await profile.delete_account(db, user_id=user, auth=auth, auditor=auditor)
    with pytest.raises(InvalidRequest, match="deleted"):
        await roles.set_role(db, user_id=user, role="admin", auth=auth, auditor=auditor)
    assert (await profile.profile(db, user_id=user)).role == "customer"


async def test_create_admin_opens_an_admin_account_with_a_key_of_its_own(db: Database) -> None:
    auth, auditor = parts(db)
    opened = await roles.create_admin(
        db, email=" Ops@Example.com ", username=None, pepper=PEPPER, auth=auth, auditor=auditor
    )
    assert (opened.user.email, opened.user.role) == ("ops@example.com", "admin")
    assert opened.api_key.startswith("gw_live_")
    found = await auth.authenticate_admin(f"Bearer {opened.api_key}")
    assert found.principal is not None
    assert found.principal.user_id == opened.user.id
    assert (await balances.balance_of(db, user_id=opened.user.id)).credits == 0
    with pytest.raises(AlreadyExists, match="email"):
        await roles.create_admin(db, email="ops@example.com", username=None, pepper=PEPPER, auth=auth, auditor=auditor)
