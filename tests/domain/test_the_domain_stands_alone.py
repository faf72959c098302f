"""The domain is pure: its modules import only each other, the standard library's pure parts and
pydantic, never storage, the clock's owners or another layer; and they import no cycle, so
each rule's module can be read (and loaded) before the modules that use it."""

from __future__ import annotations

import ast
from pathlib import Path

import loanledger.domain

DOMAIN = Path(loanledger.domain.__file__).parent
IMPURE = {"os", "sqlite3", "psycopg", "socket", "subprocess", "time", "logging", "eventsourcing"}
"""Top-level packages that mean storage, processes, I/O or the wall clock."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(DOMAIN.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Every domain module and the modules it imports (at any depth of its code)."""
    found: dict[str, set[str]] = {}
    for path in sorted(DOMAIN.rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[_module_name(path)] = names
    return found


def test_domain_modules_import_no_other_layer_and_nothing_impure() -> None:
    offending = {
        (module, name)
        for module, names in _imports().items()
        for name in names
        if (name.startswith("loanledger.") and not name.startswith("loanledger.domain"))
        or name.split(".")[0] in IMPURE
    }

    assert offending == set()


def test_domain_modules_import_no_cycle() -> None:
    imports = _imports()
    graph = {
        module: {name for name in names if name in imports} for module, names in imports.items()
    }
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        for imported in sorted(graph[module]):
            if imported in path:
                cycles.append([*path[path.index(imported) :], imported])
            elif imported not in done:
                visit(imported, [*path, imported])
        done.add(module)

    done: set[str] = set()
    for module in sorted(graph):
        if module not in done:
            visit(module, [module])

    assert cycles == []


def test_no_domain_module_is_over_six_hundred_lines() -> None:
    long = {
        path.name: lines
        for path in DOMAIN.rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > 600
    }

    assert long == {}
