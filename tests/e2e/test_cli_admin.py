"""`gateway admin …`: credits, plans, customer search and admin accounts from the operator's shell,
through the services the admin routes call, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gateway.db.accounts import users
from gateway.services.audit import chain
from gateway.services.audit.chain import audit_key
from gateway.services.billing import balances
from gateway.services.billing.money import parse_credits
from tests.e2e.cli_support import Operator, customer, database, gateway_cli
from tests.support import SECRET_KEY

pytestmark = pytest.mark.e2e
BACKENDS = ["sqlite", "postgres"]
COMMANDS = [
    ["admin"], ["admin", "add-credits"], ["admin", "assign-plan"], ["admin", "users"], ["admin", "create-admin"],
    ["admin", "remove-admin"], ["audit"], ["audit", "verify"], ["backup"],
]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command: list[str], tmp_path: Path) -> None:
    ran = gateway_cli(*command, "--help", cwd=tmp_path, env={})
    assert ran.code == 0, ran
    assert ran.out.startswith(f"usage: gateway {' '.join(command)}")


def test_the_parser_loads_no_command_code(tmp_path: Path) -> None:
    """`gateway migrate` (or serve) pays for none of the operator commands, nor they for uvicorn."""
    probe = textwrap.dedent("""
        import sys
        from gateway.cli import main
        try:
            main(["migrate", "--help"])
        except SystemExit:
            pass
        heavy = ("uvicorn", "gateway.db.database", "gateway.services.billing.credits", "gateway.commands.common")
        print([name for name in heavy if name in sys.modules], file=sys.stderr)
    """)
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert done.stderr.strip() == "['gateway.commands.common']"  # settings only: its imports are lazy


@pytest.mark.parametrize("backend", BACKENDS)
async def test_add_credits_changes_the_balance_once_per_reference(backend: str, tmp_path: Path) -> None:
    async with database(backend, tmp_path) as (url, db):
        ada = await customer(db, "ada@example.com")
        operator = Operator(url, tmp_path)
        out = await operator.ok("admin", "add-credits", "--user", ada.user.id, "--credits", "12.5", "--reason", "gift")
        assert out == f"{ada.user.id}: 12.5 credits added; balance 12.5 credits (0 reserved)\n"
        taken = await operator.ok(
            "admin", "add-credits", "--email", "ADA@example.com", "--credits", "-2.000000001", "--reason", "fix",
            "--reference", "fix-1",
        )  # fmt: skip
        assert "2.000000001 credits taken back; balance 10.499999999 credits" in taken
        again = await operator.ok(
            "admin", "add-credits", "--email", "ada@example.com", "--credits", "-2.000000001", "--reason", "fix",
            "--reference", "fix-1",
        )  # fmt: skip
        assert "balance 10.499999999 credits" in again
        balance = await balances.balance_of(db, user_id=ada.user.id)
        assert balance.credits == parse_credits("10.499999999")
        assert await balances.ledger_total(db, user_id=ada.user.id) == balance.credits
        checked, broken = await chain.verify(db, key=audit_key(SECRET_KEY), user_id=ada.user.id)
        assert (checked, broken) == (2, None)  # one entry per change, none for the repeat


async def test_add_credits_refusals_are_clear(tmp_path: Path) -> None:
    async with database("sqlite", tmp_path) as (url, db):
        ada = await customer(db, "ada@example.com")
        operator = Operator(url, tmp_path)

        async def refused(*args: str, **env: str) -> str:
            return await operator.refused("admin", "add-credits", *args, **env)

        user = ("--user", ada.user.id, "--reason", "r")
        assert await refused(*user, "--credits", "ten") == "--credits must be plain decimal text, such as '12.5'"
        assert await refused(*user, "--credits", "NaN") == "--credits must be plain decimal text, such as '12.5'"
        assert await refused(*user, "--credits", "1.0000000001") == "--credits must have at most 9 decimals"
        assert await refused(*user, "--credits", "0") == "--credits must not be zero"
        assert await refused(*user, "--credits", "1e12") == (
            "--credits must be between -1000000000 and 1000000000 credits"
        )
        assert await refused(*user, "--credits", "-1") == (
            "an adjustment of -1 would take the balance below zero (spendable: 0)"
        )
        assert await refused("--user", "usr_nobody", "--credits", "1", "--reason", "r") == (
            "no user has the id 'usr_nobody'"
        )
        assert await refused("--email", "nobody@example.com", "--credits", "1", "--reason", "r") == (
            "no user has the email 'nobody@example.com'"
        )
        assert await refused("--email", "not an email", "--credits", "1", "--reason", "r") == (
            "'email' is not a valid email address"
        )
        assert await refused("--user", ada.user.id, "--credits", "1", "--reason", "  ") == "--reason must not be blank"
        assert (await refused(*user, "--credits", "1", SECRET_KEY="")).startswith("SECRET_KEY is not set")
        assert (await refused(*user, "--credits", "1", SECRET_KEY="short")).startswith("invalid configuration")
        await operator.ok(*["admin", "add-credits", *user, "--credits", "1", "--reference", "once"])
        assert await refused(*user, "--credits", "2", "--reference", "once") == (
            "this reference was already used with a different user or amount"
        )
        both = await operator("admin", "add-credits", *user, "--email", "ada@example.com", "--credits", "1")
        assert both.code == 2
        assert "not allowed with argument" in both.err
        assert await refused(*user, "--credits", "1", DATABASE_URL=f"sqlite:///{tmp_path}/typo.db") == (
            f"there is no SQLite database at {tmp_path}/typo.db (DATABASE_URL)"
        )
        assert not (tmp_path / "typo.db").exists()
        assert (await balances.balance_of(db, user_id=ada.user.id)).credits == parse_credits("1")


@pytest.mark.parametrize("backend", BACKENDS)
async def test_assign_plan(backend: str, tmp_path: Path) -> None:
    async with database(backend, tmp_path) as (url, db):
        ada = await customer(db, "ada@example.com")
        operator = Operator(url, tmp_path)
        out = await operator.ok("admin", "assign-plan", "--user", ada.user.id, "--plan", "pro", "--months", "2")
        assert out.startswith(f"{ada.user.id}: on plan 'pro' from ")
        assert " until " in out
        async with db.read() as tx:
            row = await users.get(tx, ada.user.id)
        assert row is not None
        assert row.plan_id == "pro"
        assert row.plan_expires_at is not None
        assert 58 * 86_400 < row.plan_expires_at - time.time() < 63 * 86_400
        free = await operator.ok("admin", "assign-plan", "--email", "ada@example.com", "--plan", "free")
        assert "on plan 'free'" in free
        assert "no end" in free
        refused = operator.refused
        assert await refused("admin", "assign-plan", "--user", ada.user.id, "--plan", "gold") == (
            "no plan 'gold' (the plans: enterprise, free, pro)"
        )
        assert await refused("admin", "assign-plan", "--user", ada.user.id, "--plan", "pro", "--months", "0") == (
            "--months must be between 1 and 120"
        )
        assert await refused("admin", "assign-plan", "--user", "usr_nobody", "--plan", "pro") == (
            "no user has the id 'usr_nobody'"
        )
        bad_months = await operator("admin", "assign-plan", "--user", ada.user.id, "--plan", "pro", "--months", "x")
        assert bad_months.code == 2
        assert "invalid int value" in bad_months.err


@pytest.mark.parametrize("backend", BACKENDS)
async def test_users_lists_and_searches(backend: str, tmp_path: Path) -> None:
    async with database(backend, tmp_path) as (url, db):
        ada = await customer(db, "ada@example.com")
        await customer(db, "bob@example.org")
        await customer(db, "evil\x1b[2j@example.com")  # an email may hold control characters
        operator = Operator(url, tmp_path)
        await operator.ok("admin", "add-credits", "--user", ada.user.id, "--credits", "3.25", "--reason", "r")
        listed = (await operator.ok("admin", "users")).splitlines()
        assert listed[0].split() == ["ID", "EMAIL", "ROLE", "PLAN", "STATUS", "BALANCE", "SPENT", "30D"]
        assert len(listed) == 4
        ada_line = next(line for line in listed if "ada@example.com" in line)
        assert ada_line.split() == [ada.user.id, "ada@example.com", "customer", "free", "active", "3.25", "0"]
        assert "\x1b" not in "\n".join(listed)
        assert any("evil\\x1b[2j@example.com" in line for line in listed)
        found = (await operator.ok("admin", "users", "--search", "EXAMPLE.ORG")).splitlines()
        assert [line.split()[1] for line in found[1:]] == ["bob@example.org"]
        first = (await operator.ok("admin", "users", "--limit", "1")).splitlines()
        assert len(first) == 3
        assert first[2].startswith("(the first 1: --after ")
        assert await operator.ok("admin", "users", "--search", "nobody") == "no users found\n"
        assert await operator.refused("admin", "users", "--limit", "0") == "--limit must be between 1 and 1000"
        # Reading needs no SECRET_KEY.
        assert "ada@example.com" in await operator.ok("admin", "users", SECRET_KEY="")


async def test_in_development_the_gateways_generated_secret_is_used_never_made(tmp_path: Path) -> None:
    """A gateway started without SECRET_KEY keeps one in .gateway-secret (development only): the
    commands run from the same directory use it, and never generate one of their own."""
    async with database("sqlite", tmp_path) as (url, db):
        ada = await customer(db, "ada@example.com")
        operator = Operator(url, tmp_path, SECRET_KEY="")
        assert (await operator.refused("admin", "add-credits", "--user", ada.user.id, "--credits", "1", "--reason", "r")
                ).startswith("SECRET_KEY is not set")  # fmt: skip
        assert not (tmp_path / ".gateway-secret").exists()
        (tmp_path / ".gateway-secret").write_text(SECRET_KEY + "\n")
        await operator.ok("admin", "add-credits", "--user", ada.user.id, "--credits", "1", "--reason", "r")
        assert "1 entries checked" in await operator.ok("audit", "verify", SECRET_KEY=SECRET_KEY)
        production = await operator("audit", "verify", ENVIRONMENT="production")  # the file is not used there
        assert production.code == 1
        assert production.err.startswith("gateway: invalid configuration:\n")
        assert "SECRET_KEY: required when ENVIRONMENT=production" in production.err
