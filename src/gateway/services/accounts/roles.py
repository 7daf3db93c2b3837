"""Who administers the gateway: an account's role ('customer' or 'admin'), changed by an
operator and audited. An admin's own keys open the admin routes and console pages
(`KeyAuthenticator` reads the role with the key), so the bootstrap ADMIN_API_KEY can be retired."""

from __future__ import annotations

from dataclasses import replace

from gateway.db.accounts import users
from gateway.db.accounts.users import UserRow
from gateway.db.database import Database
from gateway.errors import InvalidRequest
from gateway.services.accounts import signup
from gateway.services.accounts.lookup import changeable_user
from gateway.services.accounts.signup import Registration
from gateway.services.audit.chain import Auditor
from gateway.services.billing.money import ZERO
from gateway.services.keys.authenticate import KeyAuthenticator

ROLES = ("customer", "admin")


async def set_role(
    db: Database, *, user_id: str, role: str, auth: KeyAuthenticator, auditor: Auditor
) -> tuple[UserRow, bool]:
    """Give the user `role`, audited in the same transaction: (the user, whether it changed).
    A deleted account stays as it is; a suspended one may change role (its keys stay refused
    until it is reactivated)."""
    if role not in ROLES:
        raise InvalidRequest("'role' must be 'customer' or 'admin'", param="role")
    async with db.transaction() as tx:
        user = await changeable_user(tx, user_id=user_id)
        if user.role == role:
            return user, False
        await users.set_role(tx, user_id=user_id, role=role)
        await auditor.record(
            tx, user_id=user_id, action="account.role_changed", actor="admin",
            details={"role": role, "previous": user.role},
        )  # fmt: skip
    # Keys are cached with the role they had: every process forgets this user's, so a promotion
    # (or a demotion) holds from the next request on, not a cache lifetime later.
    await auth.forget_user(user_id)
    return replace(user, role=role), True


async def create_admin(
    db: Database,
    *,
    email: str,
    username: str | None,
    pepper: bytes,
    auth: KeyAuthenticator,
    auditor: Auditor,
) -> Registration:
    """A new account with the admin role and a live key of its own. It opens like any account
    (signup's rules: a valid, unused email and username), without signup credits: it is an
    operator's account, not a customer's."""
    opened = await signup.register(
        db, email=email, username=username, environment="live", signup_credits=ZERO, pepper=pepper
    )
    admin, _ = await set_role(db, user_id=opened.user.id, role="admin", auth=auth, auditor=auditor)
    return replace(opened, user=admin)
