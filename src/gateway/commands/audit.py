"""`gateway audit verify`: walk the audit trail's hash chains (every user's, or one user's) with
the gateway's SECRET_KEY, as GET /admin/audit/verify does; exit 1 at the first broken link."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from gateway.commands.common import fail, load, open_tools, run

if TYPE_CHECKING:
    from gateway.services.audit.chain import BrokenLink


def register(commands: Any) -> None:
    audit = commands.add_parser(
        "audit", help="the audit trail", description="The audit trail: append-only and hash-chained per user."
    ).add_subparsers(dest="what", required=True, metavar="COMMAND")
    verify = audit.add_parser(
        "verify",
        help="check that no audit entry was removed, reordered or changed",
        description="Walk the audit trail's hash chains (every user's, or one user's) with the gateway's "
        "SECRET_KEY, as GET /admin/audit/verify does.",
        epilog="Exit status: 0 if every chain verifies, 1 at the first broken link (or any other failure).",
    )
    verify.add_argument("--user", metavar="USER_ID", help="only this user's chain (default: every user's)")
    verify.set_defaults(run=_verify)


def _verify(args: argparse.Namespace) -> None:
    from gateway.errors import NotFound
    from gateway.services.accounts.lookup import resolve_user
    from gateway.services.audit import chain

    if args.user is not None and not 1 <= len(args.user) <= 100:
        fail("--user must be a user id (1-100 characters)")
    settings = load(secret=True)

    async def work() -> tuple[int, BrokenLink | None]:
        async with open_tools(settings) as tools:
            if args.user is not None:
                try:
                    await resolve_user(tools.db, pepper=b"", user_id=args.user, api_key=None)
                except NotFound:
                    fail(f"no user has the id {args.user!r}")
            return await chain.verify(tools.db, key=tools.auditor.key, user_id=args.user)

    checked, broken = run(work())
    whose = f"{args.user}'s audit chain" if args.user else "every audit chain"
    if broken is None:
        print(f"{whose} verifies: {checked} entries checked")
        return
    hint = ""
    if broken.seq == 1 and broken.reason == "its contents were changed":
        hint = " (if every chain breaks at its first entry, SECRET_KEY is not the one the gateway signs with)"
    fail(
        f"the audit trail is broken: user {broken.user_id}, entry {broken.seq} (row id {broken.entry_id}): "
        f"{broken.reason}{hint}; {checked} entries checked"
    )
