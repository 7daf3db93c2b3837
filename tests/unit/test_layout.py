"""The architecture, checked: each rule has one home, and the layers keep to their jobs.

- Money has one owner: only `services.billing` (and the storage that backs it) touches the
  storage of balances, holds, key budgets and the ledger.
- Routes are HTTP only: they import no storage.
- Storage is per dialect behind protocols: only the PostgreSQL backend imports asyncpg, and no
  storage module branches on the dialect.
- Services know nothing of HTTP frameworks; every package says what it owns.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
MONEY_STORAGE = {
    f"gateway.db.billing.{name}"
    for name in ("ledger", "holds", "holds_sqlite", "holds_postgres", "key_budgets", "instances")
}
MONEY_OWNERS = ("gateway.services.billing", "gateway.db.billing", "gateway.db.backends")
# Outside billing, usage records are only read (their type, and the row reader for reports).
USAGE_READ_ONLY = {"UsageRow", "read_usage"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted((SRC / "gateway").rglob("*.py")):
        yield _module_name(path), ast.parse(path.read_text(), filename=str(path))


def imports(tree: ast.Module) -> Iterator[tuple[str, set[str]]]:
    """(module imported, names taken from it) for every import, `from x import y` included."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, set()
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = {alias.name for alias in node.names}
            yield node.module, names
            for name in names:  # `from gateway.db.billing import ledger` imports a module too
                yield f"{node.module}.{name}", set()


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def test_only_billing_touches_the_storage_of_money() -> None:
    offenders = []
    for module, tree in modules():
        if _within(module, MONEY_OWNERS):
            continue
        for imported, names in imports(tree):
            if imported in MONEY_STORAGE and module != "gateway.db.database":
                offenders.append(f"{module} imports {imported}")
            if imported == "gateway.db.billing.usage" and names - USAGE_READ_ONLY:
                offenders.append(f"{module} imports {sorted(names - USAGE_READ_ONLY)} from {imported}")
    assert offenders == []


def test_the_database_interface_names_the_hold_store_only_for_types() -> None:
    tree = dict(modules())["gateway.db.database"]
    guarded = [n for n in ast.walk(tree) if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)]
    runtime_imports = {i for i, _ in imports(tree)} - {i for g in guarded for i, _ in imports(ast.Module(g.body, []))}
    assert not runtime_imports & MONEY_STORAGE


def test_routes_import_no_storage() -> None:
    offenders = [
        f"{module} imports {imported}"
        for module, tree in modules()
        if _within(module, ("gateway.routes",))
        for imported, _ in imports(tree)
        if _within(imported, ("gateway.db",))
    ]
    assert offenders == []


def test_only_the_postgresql_backend_imports_asyncpg() -> None:
    importers = {module for module, tree in modules() for imported, _ in imports(tree) if imported == "asyncpg"}
    assert importers == {"gateway.db.backends.postgres"}


def test_no_storage_module_branches_on_the_dialect() -> None:
    offenders = []
    for module, tree in modules():
        if not _within(module, ("gateway.db",)) or _within(module, ("gateway.db.backends",)):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "dialect" and module != "gateway.db.database":
                offenders.append(f"{module}: .dialect")
            backend_check = any(name in ast.unparse(node) for name in ("SqliteDatabase", "PostgresDatabase", "Tx"))
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance" and backend_check:
                offenders.append(f"{module}: {ast.unparse(node)}")
    assert offenders == []


def test_services_know_no_http_framework() -> None:
    offenders = [
        f"{module} imports {imported}"
        for module, tree in modules()
        if _within(module, ("gateway.services",))
        for imported, _ in imports(tree)
        if _within(imported, ("fastapi", "starlette", "gateway.routes", "gateway.schemas"))
    ]
    assert offenders == []


@pytest.mark.parametrize("package", sorted(p.parent for p in (SRC / "gateway").rglob("__init__.py")))
def test_every_package_says_what_it_owns(package: Path) -> None:
    docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text()))
    assert docstring, f"{package.relative_to(SRC)} has no docstring saying what it owns"
