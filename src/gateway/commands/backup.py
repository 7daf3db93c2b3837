"""`gateway backup --to PATH`: a consistent copy of a SQLite database taken while the gateway
runs; for PostgreSQL, the pg_dump command to run (the gateway does not dump PostgreSQL itself)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gateway.commands.common import fail, load

# PostgreSQL: nothing was written, and a scheduled `gateway backup && upload` must not take
# that for a backup; 3 tells it apart from a failure (1) and a usage error (2).
NO_BACKUP_USE_PG_DUMP = 3


def register(commands: Any) -> None:
    backup = commands.add_parser(
        "backup",
        help="back up the database (SQLite online; PostgreSQL: the pg_dump command)",
        description="SQLite: a consistent copy of the database taken while the gateway runs (SQLite's backup "
        "API), written aside and moved into place, readable by its owner only. PostgreSQL: the pg_dump command "
        "to run instead.",
        epilog="Exit status: 0 when the SQLite copy is written and checked; 1 on failure (an existing file "
        f"without --force, no database); {NO_BACKUP_USE_PG_DUMP} on PostgreSQL, where nothing is written and "
        "the pg_dump and pg_restore commands for DATABASE_URL (never its password) are printed instead.",
    )
    backup.add_argument("--to", required=True, metavar="PATH", type=Path, help="the backup file to write")
    backup.add_argument("--force", action="store_true", help="replace PATH if it exists")
    backup.set_defaults(run=_backup)


def _backup(args: argparse.Namespace) -> None:
    from gateway.errors import GatewayError
    from gateway.services.operations.backup import Copied, backup

    settings = load(secret=False)
    try:
        done = backup(settings.database_url, args.to, force=args.force)
    except GatewayError as error:
        fail(error.message)
    except OSError as error:  # the disk: full, not writable
        fail(f"the backup could not be written: {error.strerror or error}")
    if isinstance(done, Copied):
        print(f"backed up {settings.database_display} to {done.path} ({done.size:,} bytes, integrity checked)")
        return
    password = (
        "the password in DATABASE_URL is not shown: give it to pg_dump as PGPASSWORD or in ~/.pgpass"
        if done.had_password
        else "pg_dump asks for a password if the server wants one (PGPASSWORD or ~/.pgpass)"
    )
    print("DATABASE_URL is PostgreSQL: back it up with pg_dump (a consistent snapshot while the gateway runs):")
    print(f"  {done.dump}")
    print("restore it (the gateway stopped) with:")
    print(f"  {done.restore}")
    print(f"{password}; through a pooler in transaction mode, use the direct connection's host and port.")
    sys.stdout.flush()
    fail("no backup written: PostgreSQL is backed up with pg_dump (the command is above)", NO_BACKUP_USE_PG_DUMP)
