"""Backups an operator takes while the gateway runs: SQLite is copied online, as one consistent
snapshot; PostgreSQL is pg_dump's job, so the operator gets the exact command for this
database (without its password: that stays in PGPASSWORD or ~/.pgpass)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from gateway.db.backends.sqlite_backup import copy_database
from gateway.errors import InvalidRequest

# libpq's connection parameters that may travel in a URL's query and say nothing secret;
# anything else (a password, a driver's own option that pg_dump would refuse) is left out.
_LIBPQ_PARAMETERS = frozenset({
    "application_name", "channel_binding", "connect_timeout", "gssencmode", "hostaddr", "options",
    "service", "sslcert", "sslcrl", "sslkey", "sslmode", "sslrootcert", "target_session_attrs",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Copied:
    path: Path
    size: int


@dataclass(frozen=True, slots=True)
class UsePgDump:
    """No file was written: the database is PostgreSQL. The commands to back it up and to
    restore it, with the URL's host, port, user and database but never its password."""

    dump: str
    restore: str
    had_password: bool


def backup(database_url: str, target: Path, *, force: bool) -> Copied | UsePgDump:
    if database_url.startswith("sqlite:///"):
        return _copy_sqlite(Path(database_url.removeprefix("sqlite:///")).expanduser(), target, force=force)
    url, had_password = url_without_secrets(database_url)
    dump = shlex.join(["pg_dump", "--format=custom", f"--file={target}", url])
    restore = shlex.join(["pg_restore", "--clean", "--if-exists", "--no-owner", f"--dbname={url}", str(target)])
    return UsePgDump(dump=dump, restore=restore, had_password=had_password)


def _copy_sqlite(source: Path, target: Path, *, force: bool) -> Copied:
    if str(source) in ("", ":memory:") or not source.is_file():
        raise InvalidRequest(f"there is no SQLite database at {source} (DATABASE_URL)")
    if not target.parent.is_dir():
        raise InvalidRequest(f"the directory {target.parent} does not exist")
    if target.is_dir():
        raise InvalidRequest(f"{target} is a directory: give the backup file's path")
    if target.exists() and target.resolve() == source.resolve():
        raise InvalidRequest("the backup would overwrite the database itself")
    if target.exists() and not force:
        raise InvalidRequest(f"{target} already exists (--force replaces it)")
    try:
        size = copy_database(source, target, replace=force)
    except FileExistsError:
        raise InvalidRequest(f"{target} already exists (--force replaces it)") from None
    return Copied(path=target, size=size)


def url_without_secrets(database_url: str) -> tuple[str, bool]:
    """The PostgreSQL URL as pg_dump takes it, without the password (in the user part or in
    the query): (that URL, whether a password was left out)."""
    parts = urlsplit(database_url)
    had_password = parts.password is not None
    host = parts.netloc.rpartition("@")[2]
    user = parts.netloc.rpartition("@")[0].partition(":")[0] if "@" in parts.netloc else ""
    netloc = f"{user}@{host}" if user else host
    query = parse_qsl(parts.query, keep_blank_values=True)
    had_password = had_password or any(name in ("password", "sslpassword") for name, _ in query)
    kept = [(name, value) for name, value in query if name in _LIBPQ_PARAMETERS]
    return urlunsplit(("postgresql", netloc, parts.path, urlencode(kept), "")), had_password
