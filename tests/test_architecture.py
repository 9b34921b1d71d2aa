"""The arrows point one way: domain modules never import the CLI, HTTP or storage libraries."""

from __future__ import annotations

import ast

import pytest
from conftest import ROOT

PACKAGE = ROOT / "src" / "tokenroute"
ADAPTER_LIBRARIES = {"typer", "rich", "httpx", "sqlite_utils", "click"}
# The command line (cli, its typer-free helpers and fast path), views, render and completion
# are the presentation layer; everything else is domain.
PRESENTATION = {
    "cli.py",
    "cli_common.py",
    "entry.py",
    "pick_command.py",
    "views.py",
    "render.py",
    "completion.py",
    "__main__.py",
}
DOMAIN = sorted(p for p in PACKAGE.glob("*.py") if p.name not in PRESENTATION)


def imported_roots(path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", DOMAIN, ids=lambda p: p.name)
def test_domain_module_imports_no_adapter_library(path):
    assert not imported_roots(path) & ADAPTER_LIBRARIES


def test_domain_modules_were_found():
    assert {"models.py", "errors.py", "settings.py"} <= {p.name for p in DOMAIN}


def test_help_path_imports_nothing_heavy():
    import subprocess
    import sys

    program = (
        "import sys; from tokenroute.cli import app; "
        "heavy = {'yaml', 'rich', 'httpx', 'tiktoken', 'sqlite_utils', 'pydantic', 'decimal'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
