"""`gateway admin create-admin|remove-admin`: admin accounts, each with keys of its own, so the
bootstrap ADMIN_API_KEY can be retired (and a departed admin's access removed)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gateway.commands.common import fail, load, open_tools, printable, run


def register(admin: Any) -> None:
    create = admin.add_parser(
        "create-admin",
        help="open an admin account and print its API key (once)",
        description="Open an account with the admin role and print its new API key on stdout, once (nothing "
        "else goes to stdout, so KEY=$(gateway admin create-admin --email ...) captures it). The key opens "
        "the /admin routes (Authorization: Bearer ...) and the console's admin pages; once every operator "
        "has one, ADMIN_API_KEY can be unset. --promote --user USER_ID makes an existing account an admin "
        "instead (its own keys then work; no key is printed).",
    )
    create.add_argument("--email", help="the new admin account's email")
    create.add_argument("--username", help="3-40 letters, digits, '_', '.' or '-' (default: from the email)")
    create.add_argument("--promote", action="store_true", help="make the existing account --user an admin")
    create.add_argument("--user", metavar="USER_ID", help="with --promote: the account to make an admin")
    create.set_defaults(run=_create_admin)
    remove = admin.add_parser(
        "remove-admin",
        help="make an admin account a customer again",
        description="Take the admin role from an account: its keys stop opening the admin routes and pages "
        "at once on every gateway sharing Redis (within seconds otherwise). The account and its keys stay.",
    )
    remove.add_argument("--user", required=True, metavar="USER_ID", help="the admin's user id")
    remove.set_defaults(run=_remove_admin)


def _create_admin(args: argparse.Namespace) -> None:
    if args.promote:
        if args.user is None or args.email is not None or args.username is not None:
            fail("--promote takes --user USER_ID (and neither --email nor --username)")
        _set_role(args.user, "admin")
        return
    if args.user is not None:
        fail("--user goes with --promote; a new admin account takes --email")
    if args.email is None:
        fail("give --email for a new admin account (or --promote --user USER_ID for an existing one)")
    from gateway.services.accounts.roles import create_admin

    settings = load(secret=True)

    async def work() -> tuple[str, str, str]:
        async with open_tools(settings, may_create=True) as tools:
            opened = await create_admin(
                tools.db, email=args.email, username=args.username, pepper=tools.pepper,
                auth=tools.auth, auditor=tools.auditor,
            )  # fmt: skip
        return opened.user.id, opened.user.email, opened.api_key

    user_id, email, api_key = run(work())
    print(
        f"admin account {user_id} ({email}) opened; its API key follows on stdout, shown this once: keep it "
        "secret. Send it as 'Authorization: Bearer <key>' to /admin routes, or sign in to the console with it.",
        file=sys.stderr,
    )
    print(api_key)


def _remove_admin(args: argparse.Namespace) -> None:
    _set_role(args.user, "customer")


def _set_role(user_id: str, role: str) -> None:
    from gateway.services.accounts.roles import set_role

    if not user_id.strip() or len(user_id) > 100:
        fail("--user must be a user id (1-100 characters)")
    settings = load(secret=True)

    async def work() -> tuple[str, str, bool]:
        from gateway.errors import NotFound

        async with open_tools(settings) as tools:
            try:
                user, changed = await set_role(
                    tools.db, user_id=user_id, role=role, auth=tools.auth, auditor=tools.auditor
                )
            except NotFound:
                fail(f"no user has the id {user_id!r}")
        return user.email, user.status, changed

    email, status, changed = run(work())
    who = f"{user_id} ({printable(email)})"
    if role == "admin":
        print(f"{who} is {'now' if changed else 'already'} an admin: their own API keys open the admin routes")
    else:
        print(f"{who} is {'no longer' if changed else 'not'} an admin")
    if status != "active":
        print(f"note: the account is {status}: its keys are refused until it is reactivated", file=sys.stderr)
