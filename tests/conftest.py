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


@pytest.fixture(autouse=True)
def suite_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """TOKENROUTE_TEST_BACKEND=postgresql runs a test whose ledger is the default one
    against a fresh PostgreSQL ledger instead (TOKENROUTE_LEDGER)."""
    if os.environ.get("TOKENROUTE_TEST_BACKEND") != "postgresql":
        return
    monkeypatch.setenv("TOKENROUTE_LEDGER", request.getfixturevalue("pg_ledger"))


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
