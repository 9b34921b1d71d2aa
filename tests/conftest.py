"""Shared fixtures: every test gets its own TOKENROUTE_HOME and no API keys."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tokenroute.cli.app import app
from tokenroute.prices.table import load_price_table, shipped_dir

ROOT = Path(__file__).resolve().parent.parent
# Every test runs on this day (the CLI's clock is TOKENROUTE_NOW); the one test that reads
# the real date is the staleness check in test_pricing.py.
PINNED_NOW = "2026-11-23T12:00:00Z"
PINNED_DAY = PINNED_NOW[:10]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# "billion laughs": 300 bytes of YAML whose aliases expand to 9^9 values
ALIAS_BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("TOKENROUTE_HOME", str(home))
    monkeypatch.setenv("TOKENROUTE_NOW", PINNED_NOW)
    for name in (
        "TOKENROUTE_PRICING_DIR",
        "TOKENROUTE_TASK",
        "OPENAI_BASE_URL",
        "ANTHROPIC_BASE_URL",
        "OLLAMA_HOST",
    ):
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.endswith("_API_KEY"):
            monkeypatch.delenv(name)
    return home


@pytest.fixture(scope="session")
def pg_server():
    """The session's real PostgreSQL server (tests/pg_server.py); skips when there is none."""
    from pg_server import remove, start_server

    server, why = start_server()
    if server is None:
        pytest.skip(f"no PostgreSQL server: {why}")
    yield server
    remove(server)


@pytest.fixture
def pg_ledger(pg_server) -> str:
    """A fresh, empty PostgreSQL ledger's URL (a schema of its own in the suite's database)."""
    schema = pg_server.new_schema()
    yield pg_server.url("suite", schema=schema)
    pg_server.drop_schema(schema)


@pytest.fixture(params=["sqlite", "postgresql"])
def new_ledger(request: pytest.FixtureRequest, tmp_path: Path):
    """Makes empty ledgers of one backend, as --ledger values: files under tmp_path, or
    schemas of their own on the session's PostgreSQL server."""
    server = request.getfixturevalue("pg_server") if request.param == "postgresql" else None
    made: list[str] = []

    def make(name: str = "ledger") -> str:
        if server is None:
            return str(tmp_path / f"{name}.db")
        made.append(server.new_schema())
        return server.url("suite", schema=made[-1])

    yield make
    for schema in made:
        server.drop_schema(schema)


@pytest.fixture(autouse=True)
def suite_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """TOKENROUTE_TEST_BACKEND=postgresql runs a test whose ledger is the default one
    against a fresh PostgreSQL ledger instead (TOKENROUTE_LEDGER)."""
    if os.environ.get("TOKENROUTE_TEST_BACKEND") != "postgresql":
        return
    if request.node.get_closest_marker("sqlite_only"):
        pytest.skip("checks the SQLite ledger file itself")
    monkeypatch.setenv("TOKENROUTE_LEDGER", request.getfixturevalue("pg_ledger"))


def ledger_at(home: Path):
    """The test's ledger: the file under its home, or the PostgreSQL ledger that
    TOKENROUTE_TEST_BACKEND=postgresql gave it (TOKENROUTE_LEDGER)."""
    from tokenroute.storage.location import ledger_location

    url = os.environ.get("TOKENROUTE_LEDGER")
    return ledger_location(url) if url else home / "ledger.db"


def ledger_db(home: Path):
    """A connection to the test's ledger for checking rows: sqlite3 on the file, or
    tokenroute's own PostgreSQL connection (the same SQL, translated)."""
    import sqlite3

    where = ledger_at(home)
    if isinstance(where, Path):
        return sqlite3.connect(where)
    from tokenroute.storage.postgres import open_postgres

    return open_postgres(where, create=True)


def dict_rows(conn, sql: str, params=()) -> list[dict]:
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str


Run = Callable[..., Outcome]


@pytest.fixture
def run() -> Run:
    """Drive the real CLI, error boundary included; stdout and stderr kept apart."""

    def invoke(*args: str, input: str | bytes | None = None) -> Outcome:
        result = CliRunner().invoke(app, list(args), input=input, catch_exceptions=False)
        return Outcome(result.exit_code, result.stdout, result.stderr)

    return invoke


@pytest.fixture(scope="session")
def table():
    return load_price_table(shipped_dir())


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def assert_one_line_error(outcome: Outcome, code: int, *fragments: str) -> None:
    """The contract for bad input: one line on stderr, the right code, no traceback."""
    assert outcome.exit_code == code, (outcome.exit_code, outcome.stderr)
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("tokenroute: error: ")]
    assert len(errors) == 1, outcome.stderr
    assert "Traceback" not in outcome.stderr
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
