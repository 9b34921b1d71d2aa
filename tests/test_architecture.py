"""The parts of tokenroute and the one way their arrows point.

    cli  ->  compare  ->  dispatch  ->  advisor, ledger  ->  prices, storage  ->  shared records

The CLI imports the parts and nothing imports it; dispatch (run) asks the advisor which
model and writes to the ledger; the advisor and the ledger read prices and storage; those
import only the shared records at the package root. Libraries that talk to the outside stay
in their adapter: typer, rich and click in the CLI, httpx in the HTTP adapter, sqlite-utils
in storage.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGE = ROOT / "src" / "tokenroute"
SHARED = "shared"  # errors, models, settings, timewindow, taxonomy, inputs
# part -> the parts it may import (itself and the shared records always)
MAY_IMPORT: dict[str, set[str]] = {
    SHARED: set(),
    "prices": set(),
    "storage": set(),
    "advisor": {"prices", "storage"},
    "ledger": {"prices", "storage"},
    "dispatch": {"advisor", "ledger", "prices", "storage"},
    "compare": {"dispatch", "advisor", "ledger", "prices", "storage"},
    "export": {"storage"},
    "cli": {"compare", "dispatch", "advisor", "ledger", "prices", "storage", "export"},
}
# library -> the only modules (path prefixes inside the package) that may import it
ADAPTERS = {
    "typer": ("cli/",),
    "click": ("cli/",),
    "rich": ("cli/",),
    "httpx": ("dispatch/providers/wire.py", "export/http.py"),
    "opentelemetry": ("export/otlp.py",),
    "google": ("export/otlp.py",),  # protobuf's json_format
    "sqlite_utils": ("storage/",),
    "psycopg": ("storage/postgres.py",),  # only a PostgreSQL ledger pays for it
    "plotly": ("cli/views/html_page.py",),  # report --html only
}
MODULES = sorted(PACKAGE.rglob("*.py"))


def part_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    if relative.name == "__main__.py":  # `python -m tokenroute` is the command line
        return "cli"
    return relative.parts[0] if len(relative.parts) > 1 else SHARED


def part_of_module(dotted: str) -> str | None:
    """The part a `tokenroute.x.y` module belongs to (None: not ours)."""
    names = dotted.split(".")
    if names[0] != "tokenroute":
        return None
    if len(names) == 1:
        return SHARED  # `from tokenroute import __version__`
    return names[1] if names[1] in MAY_IMPORT else SHARED


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function, as a dotted name; a
    `from m import x` gives m and m.x (x may be a module: `from tokenroute.cli import render`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def wrong_arrows(path: Path, imported: set[str]) -> list[str]:
    part = part_of(path)
    allowed = MAY_IMPORT[part] | {part, SHARED}
    return sorted(name for name in imported if part_of_module(name) not in allowed | {None})


def ids(path: Path) -> str:
    return str(path.relative_to(PACKAGE))


@pytest.mark.parametrize("path", MODULES, ids=ids)
def test_imports_only_the_parts_it_may(path):
    wrong = wrong_arrows(path, imports_of(path))
    assert not wrong, f"{ids(path)} ({part_of(path)}) may not import {wrong}"


@pytest.mark.parametrize("path", MODULES, ids=ids)
def test_outside_libraries_stay_in_their_adapter(path):
    relative = ids(path)
    roots = {name.split(".")[0] for name in imports_of(path)}
    misplaced = [
        library
        for library, homes in ADAPTERS.items()
        if library in roots and not relative.startswith(homes)
    ]
    assert not misplaced, f"{relative} imports {misplaced}"


def test_every_part_is_a_folder_and_the_test_knows_each():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders == set(MAY_IMPORT) - {SHARED}


def test_the_rules_catch_a_wrong_arrow():
    """The checker itself: storage importing the ledger, or anything importing the CLI."""
    storage = PACKAGE / "storage" / "sqlite.py"
    ledger = PACKAGE / "ledger" / "report.py"
    assert wrong_arrows(storage, {"tokenroute.ledger.report"}) == ["tokenroute.ledger.report"]
    assert wrong_arrows(ledger, {"tokenroute.cli.render"}) == ["tokenroute.cli.render"]
    assert wrong_arrows(ledger, {"tokenroute.dispatch.session"}) == ["tokenroute.dispatch.session"]
    assert wrong_arrows(ledger, {"tokenroute.prices.table", "tokenroute.models"}) == []


def test_help_path_imports_nothing_heavy():
    import subprocess
    import sys

    program = (
        "import sys; from tokenroute.cli.app import app; "
        "heavy = {'yaml', 'rich', 'httpx', 'tiktoken', 'sqlite_utils', 'pydantic', 'decimal', 'plotly'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (lazily or not: a lazy circle is a circle)."""
    known = {module_name(p) for p in MODULES}
    graph = {}
    for path in MODULES:
        edges = set()
        for name in imports_of(path):
            while name and name not in known:  # m.x where x is a function: m
                name = name.rpartition(".")[0]
            if name and name != "tokenroute":
                edges.add(name)
        graph[module_name(path)] = edges - {module_name(path)}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of two or more modules (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle():
    assert circles(import_graph()) == []


def test_the_circle_finder_finds_one():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]
