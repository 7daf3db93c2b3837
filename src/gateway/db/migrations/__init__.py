"""Schema migrations: numbered SQL files per dialect, applied in order, each once."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from gateway.db.database import Tx


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations_for(dialect: str) -> list[Migration]:
    folder = resources.files(__package__).joinpath(dialect)
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text()))
    return sorted(found, key=lambda m: m.version)


async def ping(tx: Tx) -> None:
    """A round trip: the database answers."""
    await tx.fetchval("SELECT 1")


async def applied_versions(tx: Tx) -> set[int]:
    """The migrations this database has had (raises when it has had none: no such table)."""
    return {int(row["version"]) for row in await tx.fetchall("SELECT version FROM schema_migrations")}
