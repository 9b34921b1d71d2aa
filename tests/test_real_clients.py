"""Imports of logs the real clients wrote, checked bucket by bucket against what the server sent.

The fixtures under tests/fixtures/real_clients/ were cut from real Claude Code, Codex CLI and
simonw/llm runs against a loopback server that recorded the usage of every response
(bench/real_clients/ regenerates them; it needs npm and PyPI, these tests need neither).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import FIXTURES

REAL = FIXTURES / "real_clients"
CLAUDE_VERSIONS = sorted(p.name for p in (REAL / "claude_code").iterdir() if p.is_dir())


@pytest.fixture(autouse=True)
def day_after_the_recording(monkeypatch):
    """The fixtures were recorded on 2026-12-02: the clock is pinned to the day after."""
    monkeypatch.setenv("TOKENROUTE_NOW", "2026-12-03T00:00:00Z")


def attempts_by_key(ledger: Path, source: str) -> dict[str, dict]:
    conn = sqlite3.connect(ledger)
    conn.row_factory = sqlite3.Row
    rows = conn.execute("SELECT * FROM attempts WHERE source = ?", (source,)).fetchall()
    conn.close()
    found: dict[str, dict] = {}
    for row in rows:
        assert row["source_key"] not in found, f"{row['source_key']} stored twice"
        found[row["source_key"]] = dict(row)
    return found


@pytest.mark.parametrize("version", CLAUDE_VERSIONS)
def test_claude_code_each_logged_call_once_with_the_servers_buckets(run, tmp_path, version):
    root = REAL / "claude_code" / version
    truth = json.loads((root / "ground_truth.json").read_text())
    ledger = tmp_path / "ledger.db"
    paths = [str(p) for p in sorted(root.glob("*/projects"))]
    out = run("import", "claude-code", "--ledger", str(ledger), *(f"--path={p}" for p in paths))
    assert out.exit_code == 0, out.stderr
    stored = attempts_by_key(ledger, "claude-code")
    logged = [call for call in truth["calls"] if call["in_logs"]["lines"]]
    assert sorted(stored) == sorted(call["message_id"] for call in logged)
    for call in logged:
        row, usage = stored[call["message_id"]], call["usage"]
        got = (
            row["input_tokens"],
            row["cache_read_tokens"],
            row["cache_write_tokens"],
            row["cache_write_1h_tokens"],
        )
        want = (
            usage["input"],
            usage["cache_read"],
            usage["cache_write_5m"],
            usage["cache_write_1h"],
        )
        assert got == want, call["message_id"]
        # the most output any copy in the log holds: older releases log 1 while streaming
        assert row["output_tokens"] == max(call["in_logs"]["output_tokens"]), call["message_id"]
        assert row["cost_micros"] is not None, call["model"]


def test_claude_code_fork_copies_belong_to_the_session_that_made_the_call(run, tmp_path):
    root = REAL / "claude_code" / "2.1.332"
    truth = json.loads((root / "ground_truth.json").read_text())
    ledger = tmp_path / "ledger.db"
    assert (
        run(
            "import",
            "claude-code",
            "--ledger",
            str(ledger),
            "--path",
            str(root / "fork" / "projects"),
        ).exit_code
        == 0
    )
    stored = attempts_by_key(ledger, "claude-code")
    forked = [c for c in truth["calls"] if c["scenario"] == "fork" and c["in_logs"]["lines"]]
    assert len({c["session_id"] for c in forked}) == 2  # the original session and the fork
    for call in forked:
        assert stored[call["message_id"]]["task_id"] == f"cc-{call['session_id']}"


def test_claude_code_gateway_responses_without_request_id_are_one_call_each(run, tmp_path):
    for version in CLAUDE_VERSIONS:
        root = REAL / "claude_code" / version
        truth = json.loads((root / "ground_truth.json").read_text())
        calls = [c for c in truth["calls"] if c["scenario"] == "gateway" and c["in_logs"]["lines"]]
        assert all(c["request_id"] is None for c in calls)
        assert max(c["in_logs"]["lines"] for c in calls) >= 3  # a line per content block
        ledger = tmp_path / f"{version}.db"
        out = run(
            "import",
            "claude-code",
            "--ledger",
            str(ledger),
            "--path",
            str(root / "gateway" / "projects"),
        )
        assert out.exit_code == 0, out.stderr
        assert sorted(attempts_by_key(ledger, "claude-code")) == sorted(
            c["message_id"] for c in calls
        )


BUCKETS = ("input", "cache_read", "cache_write", "cache_write_1h", "output", "reasoning")
COLUMNS = (
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
)


def buckets(row: dict) -> tuple[int, ...]:
    return tuple(row[c] for c in COLUMNS)


def expected(call: dict) -> tuple[int, ...]:
    return tuple(call["expected"][b] for b in BUCKETS)


def test_codex_every_response_once_with_every_bucket(run, tmp_path):
    root = REAL / "codex" / "0.171.0"
    truth = json.loads((root / "ground_truth.json").read_text())
    ledger = tmp_path / "ledger.db"
    sessions = root / "responses" / "sessions"
    out = run("import", "codex", "--ledger", str(ledger), "--path", str(sessions))
    assert out.exit_code == 0, out.stderr
    stored = attempts_by_key(ledger, "codex")
    # the rollouts hold no response id: each response is one token_count, in order
    got = sorted(buckets(row) for row in stored.values())
    assert got == sorted(expected(call) for call in truth["responses"])
    assert {row["model"] for row in stored.values()} == {"gpt-5-codex"}
    assert all(row["cost_micros"] is not None for row in stored.values())
    again = run("import", "codex", "--ledger", str(ledger), "--path", str(sessions))
    assert "added 0 attempts" in again.stderr  # a re-import adds nothing


@pytest.mark.parametrize("version", ["0.31.1", "0.36", "0.31.1-then-0.36"])
def test_llm_every_row_of_every_layout_with_every_bucket(run, tmp_path, version):
    root = REAL / "llm" / version
    truth = json.loads((root / "ground_truth.json").read_text())
    ledger = tmp_path / "ledger.db"
    out = run("import", "llm", "--ledger", str(ledger), "--path", str(root / "logs.db"))
    assert out.exit_code == 0, out.stderr
    assert " rows read" in out.stderr and " lines " not in out.stderr
    stored = attempts_by_key(ledger, "llm")
    calls = {f"llm-{c['logged_at']['id']}": c for c in truth["responses"]}
    assert sorted(stored) == sorted(calls)
    for key, call in calls.items():
        assert buckets(stored[key]) == expected(call), (key, call["call"])
        # llm logs its own alias (local-gpt-4.1-mini); the model that answered prices it
        assert stored[key]["cost_micros"] is not None, (key, stored[key]["model"])
    tables = {c["logged_at"]["table"] for c in truth["responses"]}
    assert tables <= {"responses", "turns"} and ("turns" in tables) == (version != "0.31.1")
