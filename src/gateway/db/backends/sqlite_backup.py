"""An online copy of a SQLite database through SQLite's backup API.

The copy is one snapshot: the backup runs in a single step, inside one read transaction, so
it holds every row committed before it began and none after (WAL lets the gateway keep
writing meanwhile). A file copy (`cp`) of a live database could instead tear a page or miss
what is still in the `-wal` file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

# The copy holds key hashes, emails and the ledger: readable by its owner only.
BACKUP_MODE = 0o600


def copy_database(source: Path, target: Path, *, replace: bool) -> int:
    """Write a consistent copy of the database at `source` to `target`; returns its size in
    bytes. `target` appears whole or not at all (written aside, then moved into place); an
    existing `target` is replaced only if `replace`, else FileExistsError."""
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, BACKUP_MODE)
    os.close(descriptor)
    try:
        _snapshot(source, partial)
        _move_into_place(partial, target, replace=replace)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return target.stat().st_size


def _snapshot(source: Path, partial: Path) -> None:
    reader = sqlite3.connect(source)
    try:
        reader.execute("PRAGMA busy_timeout=5000")
        writer = sqlite3.connect(partial)
        try:
            reader.backup(writer)  # pages=-1: all of it in one step, one snapshot
            # A self-contained file: no -wal beside it to lose when it is copied elsewhere.
            writer.execute("PRAGMA journal_mode=DELETE")
            checked = writer.execute("PRAGMA quick_check").fetchone()[0]
            if checked != "ok":
                raise sqlite3.DatabaseError(f"the copy failed its integrity check: {checked}")
        finally:
            writer.close()
    finally:
        reader.close()
    with partial.open("rb") as written:
        os.fsync(written.fileno())


def _move_into_place(partial: Path, target: Path, *, replace: bool) -> None:
    if replace:
        partial.replace(target)
        return
    try:
        os.link(partial, target)  # atomic, and never over a file that appeared meanwhile
    except FileExistsError:
        raise
    except OSError:  # a filesystem without hard links: check, then move
        if target.exists():
            raise FileExistsError(target) from None
        partial.replace(target)
