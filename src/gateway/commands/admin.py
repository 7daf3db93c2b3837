"""`gateway admin …`: what an admin does over HTTP, from the operator's shell, through the same
services (credits, plans, customer search), plus admin accounts (see `admin_accounts`)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from gateway.commands import admin_accounts
from gateway.commands.common import Tools, fail, load, open_tools, printable, run

if TYPE_CHECKING:
    from gateway.db.reports.customers import CustomerRow

MAX_USERS_LISTED = 1000


def register(commands: Any) -> None:
    admin = commands.add_parser(
        "admin",
        help="credits, plans, customers and admin accounts",
        description="What an admin does over HTTP, from the shell, through the same services; and admin "
        "accounts. Settings (DATABASE_URL, SECRET_KEY, REDIS_URL) come from the environment, as the gateway's.",
    ).add_subparsers(dest="what", required=True, metavar="COMMAND")
    credits = admin.add_parser(
        "add-credits",
        help="add credits to (or take them from) a customer",
        description="A top-up (positive) or an adjustment (negative) of a customer's balance, audited, "
        "as POST /admin/add_credits does it. Prints the new balance.",
    )
    target(credits)
    credits.add_argument(
        "--credits", required=True, metavar="AMOUNT",
        help="exact decimal credits, e.g. 12.5; negative takes credits back (not below zero)",
    )  # fmt: skip
    credits.add_argument("--reason", required=True, help="why, kept in the ledger and the audit trail")
    credits.add_argument("--reference", help="applied once per reference: the same command again changes nothing")
    credits.set_defaults(run=_add_credits)
    plan = admin.add_parser(
        "assign-plan",
        help="put a customer on a plan",
        description="Put a customer on a plan for whole calendar months (the free plan does not expire) "
        "and grant its first period's included credits, as POST /admin/assign-plan does.",
    )
    target(plan)
    plan.add_argument("--plan", required=True, metavar="PLAN_ID", help="a plan's id, e.g. pro")
    plan.add_argument("--months", type=int, default=1, metavar="N", help="1-120 (default 1)")
    plan.set_defaults(run=_assign_plan)
    users = admin.add_parser(
        "users", help="find customers", description="Customers whose email or id contains the text, by id."
    )
    users.add_argument("--search", metavar="TEXT", help="part of an email or user id (any case)")
    users.add_argument("--limit", type=int, default=50, metavar="N", help=f"1-{MAX_USERS_LISTED} (default 50)")
    users.add_argument("--after", metavar="USER_ID", help="the next page: the last id of the previous one")
    users.set_defaults(run=_users)
    admin_accounts.register(admin)


def target(parser: argparse.ArgumentParser) -> None:
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", metavar="USER_ID", help="the customer's user id")
    who.add_argument("--email", help="the customer's email")


async def user_id_of(tools: Tools, args: argparse.Namespace) -> str:
    """The user named by --user or --email; a clear refusal for one that does not exist."""
    from gateway.errors import NotFound
    from gateway.services.accounts.lookup import resolve_user, user_by_email

    if args.email is not None:
        try:
            return await user_by_email(tools.db, email=args.email)
        except NotFound:
            fail(f"no user has the email {args.email!r}")
    bounded("--user", args.user, 100)
    try:
        return await resolve_user(tools.db, pepper=b"", user_id=args.user, api_key=None)
    except NotFound:
        fail(f"no user has the id {args.user!r}")


def bounded(option: str, value: str, most: int) -> str:
    """Text as the JSON API takes it: not blank, at most `most` characters."""
    if not value.strip():
        fail(f"{option} must not be blank")
    if len(value) > most:
        fail(f"{option} must be at most {most} characters")
    return value


def _add_credits(args: argparse.Namespace) -> None:
    from gateway.services.billing.credits import admin_credit
    from gateway.services.billing.money import credits_text, parse_credits

    try:
        amount = parse_credits(args.credits)
    except ValueError as error:
        fail(f"--credits {error}")
    if amount == 0:
        fail("--credits must not be zero")
    reason = bounded("--reason", args.reason, 500)
    reference = None if args.reference is None else bounded("--reference", args.reference, 200)
    settings = load(secret=True)

    async def work() -> str:
        async with open_tools(settings) as tools:
            user_id = await user_id_of(tools, args)
            _, balance = await admin_credit(
                tools.db, pepper=tools.pepper, auditor=tools.auditor, user_id=user_id, api_key=None,
                amount=amount, reason=reason, reference=reference,
            )  # fmt: skip
        change = "added" if amount > 0 else "taken back"
        return (
            f"{user_id}: {credits_text(abs(amount))} credits {change}; "
            f"balance {credits_text(balance.credits)} credits ({credits_text(balance.reserved)} reserved)"
        )

    print(run(work()))


def _assign_plan(args: argparse.Namespace) -> None:
    from gateway.errors import NotFound
    from gateway.services.plans import periods

    if not 1 <= args.months <= 120:
        fail("--months must be between 1 and 120")
    plan_id = bounded("--plan", args.plan, 64)
    settings = load(secret=True)

    async def work() -> str:
        async with open_tools(settings) as tools:
            user_id = await user_id_of(tools, args)
            try:
                started, ends = await periods.assign(
                    tools.db, tools.plans, user_id=user_id, plan_id=plan_id, months=args.months,
                    auditor=tools.auditor, auth=tools.auth,
                )  # fmt: skip
            except NotFound as error:
                if error.param != "plan_id":
                    raise
                known = ", ".join(sorted(p.id for p in await tools.plans.all()))
                fail(f"no plan {plan_id!r} (the plans: {known})")
        until = f"until {moment(ends)}" if ends is not None else "with no end (the free plan does not expire)"
        return f"{user_id}: on plan {plan_id!r} from {moment(started)} {until}"

    print(run(work()))


def moment(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _users(args: argparse.Namespace) -> None:
    from gateway.services.reports.customers import customers_search

    if not 1 <= args.limit <= MAX_USERS_LISTED:
        fail(f"--limit must be between 1 and {MAX_USERS_LISTED}")
    if args.search is not None and len(args.search) > 200:
        fail("--search must be at most 200 characters")
    settings = load(secret=False)

    async def work() -> list[CustomerRow]:
        async with open_tools(settings) as tools:
            found = await customers_search(tools.db, query=args.search, limit=args.limit, after=args.after)
        return list(found)

    found = run(work())
    if not found:
        print("no users found" if args.search else "no users yet")
        return
    print(table(found))
    if len(found) == args.limit:
        print(f"(the first {args.limit}: --after {found[-1].id} for the next)")


def table(rows: list[CustomerRow]) -> str:
    from gateway.services.billing.money import credits_text

    header = ("ID", "EMAIL", "ROLE", "PLAN", "STATUS", "BALANCE", "SPENT 30D")
    lines = [(r.id, r.email, r.role, r.plan_id, r.status, credits_text(r.credits), credits_text(r.spent)) for r in rows]
    cells = [header, *[tuple(printable(cell) for cell in line) for line in lines]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    numeric = {5, 6}  # right-aligned, so the decimal amounts line up
    return "\n".join(
        "  ".join(
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i]) for i, cell in enumerate(row)
        ).rstrip()
        for row in cells
    )
