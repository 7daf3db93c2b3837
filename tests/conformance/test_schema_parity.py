"""The SQLite and PostgreSQL migrations build the same schema.

Every schema change is written once per dialect; this migrates a real database of each and
compares their catalogs, table by table: the set of tables, column names, nullability
(primary-key columns count as NOT NULL on both sides: SQLite reports a non-INTEGER one as
nullable), the primary key, UNIQUE constraints (as column tuples) and CHECK constraints (as
normalised expression text; constraint names are not compared).

Not compared, on purpose: column types and defaults (INTEGER vs BIGINT, REAL vs DOUBLE
PRECISION, 1 vs TRUE differ by design), indexes that are not UNIQUE constraints (CREATE
UNIQUE INDEX included), foreign keys, triggers, and SQLite's internal tables (sqlite_sequence).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.db.database import Database, open_database
from tests.services import database_url, fresh_database, need_postgres


@dataclass(frozen=True)
class Table:
    columns: frozenset[str]
    not_null: frozenset[str]
    primary_key: tuple[str, ...]
    uniques: frozenset[tuple[str, ...]]
    checks: frozenset[str]


Schema = dict[str, Table]


# --- CHECK expressions, as each dialect prints them -------------------------------------------

_LITERAL = re.compile(r"('(?:[^']|'')*')")
# PostgreSQL prints a negative constant as a quoted literal with a cast: '-1'::integer.
_QUOTED_NUMBER = re.compile(
    r"'(-?\d+(?:\.\d+)?)'::(?:smallint|integer|bigint|numeric|real|double precision)", re.IGNORECASE
)
_CAST = re.compile(
    r"::\s*(?:double precision|character varying|bit varying"
    r"|time(?:stamp)?(?:\s+with(?:out)?\s+time\s+zone)?(?![a-z0-9_])|\"?[a-z_][a-z0-9_]*\"?)"
    r"(?:\(\d+(?:\s*,\s*\d+)?\))?(?:\[\])*"
)


def _normalise_code(code: str) -> str:
    """A stretch of expression text between string literals."""
    code = _CAST.sub("", code.lower())
    code = re.sub(r"=\s*any\s*\(\s*array\s*\[", " in (", code)  # x = ANY (ARRAY[…]) is x IN (…)
    code = re.sub(r"<>\s*all\s*\(\s*array\s*\[", " not in (", code)  # x <> ALL (ARRAY[…]) is NOT IN
    code = code.replace("]", ")").replace("!=", "<>").replace("==", "=").replace('"', "")
    return re.sub(r"[\s()]", "", code)


def normalise_check(expression: str) -> str:
    """The same text for equivalent expressions: lowercase, without casts, parentheses or
    whitespace, PostgreSQL's `= ANY (ARRAY[…])` read as `IN (…)`. String literals are kept
    verbatim, since case and spaces matter inside them."""
    expression = re.sub(r"^\s*check\b|\s+not\s+valid\s*$", "", expression, flags=re.IGNORECASE)
    parts = _LITERAL.split(_QUOTED_NUMBER.sub(r"\1", expression))
    return "".join(part if i % 2 else _normalise_code(part) for i, part in enumerate(parts))


def _quote_end(sql: str, start: int) -> int:
    """Just past the quote that closes the one at `start` (a doubled quote is an escape)."""
    close = "]" if sql[start] == "[" else sql[start]
    i = start + 1
    while i < len(sql):
        if sql[i] == close and (close == "]" or sql[i + 1 : i + 2] != close):
            return i + 1
        i += 2 if sql[i] == close else 1
    return len(sql)


def _blanked(sql: str) -> tuple[str, str]:
    """`sql` with comments blanked out, and the same with the insides of quotes blanked too.
    Both keep every character's place: one is searched for keywords, the other gives the text."""
    code, masked = list(sql), list(sql)
    i = 0
    while i < len(sql):
        if sql.startswith(("--", "/*"), i):
            close = "\n" if sql[i] == "-" else "*/"
            found = sql.find(close, i + 2)
            end = len(sql) if found < 0 else found + len(close)
            code[i:end] = masked[i:end] = " " * (end - i)
        elif sql[i] in "'\"`[":
            end = _quote_end(sql, i)
            masked[i + 1 : end - 1] = "_" * (end - i - 2)
        else:
            end = i + 1
        i = end
    return "".join(code), "".join(masked)


def _closing(text: str, start: int) -> int:
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i
    raise ValueError(f"unbalanced parentheses in {text[start:]!r}")


def sqlite_checks(create_sql: str) -> list[str]:
    """The CHECK (…) expressions, column- and table-level, of a CREATE TABLE statement."""
    code, masked = _blanked(create_sql)
    return [
        code[match.end() : _closing(masked, match.end() - 1)]
        for match in re.finditer(r"\bcheck\s*\(", masked, re.IGNORECASE)
    ]


# --- Reading the catalogs ---------------------------------------------------------------------


async def sqlite_schema(db: Database) -> Schema:
    schema = {}
    async with db.read() as tx:
        tables = await tx.fetchall(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        )
        for table in tables:
            name = table["name"]
            columns = await tx.fetchall('SELECT name, "notnull", pk FROM pragma_table_info($1) ORDER BY pk', name)
            uniques = set()
            for index in await tx.fetchall("SELECT name FROM pragma_index_list($1) WHERE origin = 'u'", name):
                keys = await tx.fetchall("SELECT name FROM pragma_index_info($1) ORDER BY seqno", index["name"])
                uniques.add(tuple(key["name"] for key in keys))
            schema[name] = Table(
                columns=frozenset(c["name"] for c in columns),
                not_null=frozenset(c["name"] for c in columns if c["notnull"] or c["pk"]),
                primary_key=tuple(c["name"] for c in columns if c["pk"]),
                uniques=frozenset(uniques),
                checks=frozenset(normalise_check(check) for check in sqlite_checks(table["sql"])),
            )
    return schema


_PG_CONSTRAINTS = """
    SELECT con.contype::text AS kind, array(
        SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY AS k (attnum, ord)
        JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord
    ) AS columns, pg_get_constraintdef(con.oid) AS definition
    FROM pg_constraint con WHERE con.conrelid = $1 AND con.contype IN ('p', 'u', 'c')
"""


async def postgres_schema(db: Database) -> Schema:
    schema = {}
    async with db.read() as tx:
        tables = await tx.fetchall(
            "SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
        )
        for table in tables:
            columns = await tx.fetchall(
                "SELECT attname, attnotnull FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped",
                table["oid"],
            )
            constraints = await tx.fetchall(_PG_CONSTRAINTS, table["oid"])
            of_kind = {kind: [c for c in constraints if c["kind"] == kind] for kind in "puc"}
            schema[table["relname"]] = Table(
                columns=frozenset(c["attname"] for c in columns),
                not_null=frozenset(c["attname"] for c in columns if c["attnotnull"]),
                primary_key=tuple(of_kind["p"][0]["columns"]) if of_kind["p"] else (),
                uniques=frozenset(tuple(c["columns"]) for c in of_kind["u"]),
                checks=frozenset(normalise_check(c["definition"]) for c in of_kind["c"]),
            )
    return schema


# --- Comparing --------------------------------------------------------------------------------


def _one_sided(table: str, what: str, sqlite: frozenset[Any], postgres: frozenset[Any]) -> list[str]:
    return [
        f"{table}: {what} only in {side}: {sorted(extra)}"
        for side, extra in (("sqlite", sqlite - postgres), ("postgres", postgres - sqlite))
        if extra
    ]


def differences(sqlite: Schema, postgres: Schema) -> list[str]:
    """Every way the two schemas differ, one line each, naming the table."""
    found = _one_sided("(schema)", "tables", frozenset(sqlite), frozenset(postgres))
    for name in sorted(sqlite.keys() & postgres.keys()):
        lite, pg = sqlite[name], postgres[name]
        shared = lite.columns & pg.columns
        found += _one_sided(name, "columns", lite.columns, pg.columns)
        found += _one_sided(name, "NOT NULL columns", lite.not_null & shared, pg.not_null & shared)
        if lite.primary_key != pg.primary_key:
            found.append(f"{name}: primary key differs: sqlite {lite.primary_key}, postgres {pg.primary_key}")
        found += _one_sided(name, "unique constraints", lite.uniques, pg.uniques)
        found += _one_sided(name, "check constraints", lite.checks, pg.checks)
    return found


@asynccontextmanager
async def migrated(tmp_path: Path) -> AsyncIterator[tuple[Database, Database]]:
    """A freshly migrated SQLite file and PostgreSQL database, closed (and dropped) afterwards."""
    base = need_postgres()
    sqlite = await open_database(f"sqlite:///{tmp_path}/parity.db")
    try:
        await sqlite.migrate()
        async with fresh_database() as name:
            postgres = await open_database(database_url(name, base), pool_size=1)
            try:
                await postgres.migrate()
                yield sqlite, postgres
            finally:
                await postgres.close()
    finally:
        await sqlite.close()


async def test_sqlite_and_postgres_migrations_build_the_same_schema(tmp_path: Path) -> None:
    async with migrated(tmp_path) as (sqlite, postgres):
        found = differences(await sqlite_schema(sqlite), await postgres_schema(postgres))
    assert not found, "the SQLite and PostgreSQL migrations disagree:\n" + "\n".join(found)


async def test_drift_on_either_side_is_reported(tmp_path: Path) -> None:
    async with migrated(tmp_path) as (sqlite, postgres):
        before = {"sqlite": await sqlite_schema(sqlite), "postgres": await postgres_schema(postgres)}
        for side, schema in before.items():  # each reader sees every kind of thing that is there
            for kind in ("not_null", "primary_key", "uniques", "checks"):
                assert any(getattr(table, kind) for table in schema.values()), f"{side} read no {kind}"
        async with sqlite.transaction() as tx:
            await tx.execute("ALTER TABLE ledger ADD COLUMN note TEXT CHECK (length(note) < 100)")
        async with postgres.transaction() as tx:
            await tx.execute("ALTER TABLE api_keys ADD CONSTRAINT key_name_set CHECK (name <> '')")
            await tx.execute("ALTER TABLE api_keys ADD CONSTRAINT api_keys_mask_key UNIQUE (mask)")
            await tx.execute("ALTER TABLE instances ALTER COLUMN heartbeat_at DROP NOT NULL")
        after = differences(await sqlite_schema(sqlite), await postgres_schema(postgres))
    assert set(after) - set(differences(before["sqlite"], before["postgres"])) == {
        "ledger: columns only in sqlite: ['note']",
        "ledger: check constraints only in sqlite: ['lengthnote<100']",
        "api_keys: check constraints only in postgres: [\"name<>''\"]",
        "api_keys: unique constraints only in postgres: [('mask',)]",
        "instances: NOT NULL columns only in sqlite: ['heartbeat_at']",
    }


def test_equivalent_checks_normalise_alike() -> None:
    postgres = "CHECK ((environment = ANY (ARRAY['live'::text, 'Test Env'::text])))"
    assert normalise_check(postgres) == normalise_check("environment IN ('live', 'Test Env')")
    assert normalise_check(postgres) != normalise_check("environment IN ('live', 'test env')")
    assert normalise_check("CHECK ((x >= '-1'::integer))") == normalise_check("x >= -1")
    cast = "CHECK (((spent + held))::numeric <= (lim)::double precision)"
    assert normalise_check(cast) == normalise_check("spent + held <= lim")
    sql = """CREATE TABLE t (a TEXT CHECK (a IN ('x)', 'check (')), -- not CHECK (this)
        b INTEGER, /* nor CHECK (this) */ CONSTRAINT b_pos CHECK ((b > 0) AND (b < "check")))"""
    assert sqlite_checks(sql) == ["a IN ('x)', 'check (')", '(b > 0) AND (b < "check")']
