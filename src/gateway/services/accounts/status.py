"""Suspending and reactivating an account (admins): a suspended account's keys are refused
everywhere at once, its console sessions end, and its balance and history stay as they are."""

from __future__ import annotations

from dataclasses import replace

from gateway.db.accounts import users
from gateway.db.accounts.users import UserRow
from gateway.db.console import sessions as console_sessions
from gateway.db.database import Database
from gateway.errors import InvalidRequest
from gateway.services.accounts.lookup import changeable_user
from gateway.services.audit.chain import Auditor
from gateway.services.keys.authenticate import KeyAuthenticator

_ACTIONS: dict[str, str] = {"active": "account.reactivated", "suspended": "account.suspended"}


async def set_status(
    db: Database,
    *,
    user_id: str,
    status: str,
    reason: str | None,
    auth: KeyAuthenticator,
    auditor: Auditor,
) -> UserRow:
    """Suspend or reactivate the user, audited in the same transaction. Setting the status the
    account already has changes nothing; a deleted account stays deleted."""
    if status not in _ACTIONS:
        raise InvalidRequest("'status' must be 'active' or 'suspended'", param="status")
    async with db.transaction() as tx:
        user = await changeable_user(tx, user_id=user_id)
        if user.status == status:
            return user
        await users.set_status(tx, user_id=user_id, status=status)
        if status == "suspended":  # its console sessions end for good, not just while suspended
            await console_sessions.delete_for_user(tx, user_id=user_id)
        await auditor.record(
            tx, user_id=user_id, action=_ACTIONS[status], actor="admin",
            details={"status": status, "reason": reason or ""},
        )  # fmt: skip
    # Every process drops the keys it cached, so the next request (and console page) of the
    # account is checked against the new status, not a copy authenticated before it.
    await auth.forget_user(user_id)
    return replace(user, status=status)
