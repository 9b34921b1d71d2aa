"""`tokenroute import codex`: each turn once, cached input split out, appends read alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, assert_one_line_error, ledger_db

from tokenroute.errors import ExitCode

GENERATOR = ROOT.parent / "shared" / "tools" / "gen_claude_logs.py"
SESSION = "0d1f6f9f-a73c-4445-aa0c-480e21772c2d"


def event(kind: str, payload: dict, when: str = "2026-11-20T10:00:00Z") -> dict:
    return {"timestamp": when, "type": kind, "payload": payload}


def token_count(total: tuple[int, int, int, int], last: tuple[int, int, int, int] | None):
    def counts(values):
        keys = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens")
        return dict(zip(keys, values, strict=True))

    info = {"total_token_usage": counts(total)}
    if last is not None:
        info["last_token_usage"] = counts(last)
    return event("event_msg", {"type": "token_count", "info": info})


def lines(*objects) -> str:
    return "".join(json.dumps(o) + "\n" for o in objects)


@pytest.fixture
def codex_home(tmp_path, monkeypatch):
    home = tmp_path / "codex"
    folder = home / "sessions" / "2026" / "11" / "20"
    folder.mkdir(parents=True)
    (folder / f"rollout-2026-11-20T10-00-00-{SESSION}.jsonl").write_text(
        lines(
            event("session_meta", {"id": SESSION, "cwd": "/home/dev/src/acme-web"}),
            event("turn_context", {"model": "gpt-5", "cwd": "/home/dev/src/acme-web"}),
            event("response_item", {"type": "message", "role": "user", "content": []}),
            token_count((1000, 600, 100, 40), (1000, 600, 100, 40)),
            token_count((1000, 600, 100, 40), (1000, 600, 100, 40)),  # emitted again
            event("event_msg", {"type": "token_count", "info": None}),  # rate limits only
            token_count((1500, 1000, 130, 40), None),  # an older log: no last_token_usage
        )
    )
    monkeypatch.setenv("CODEX_HOME", str(home))
    return home


def rows(home: Path) -> list[tuple]:
    conn = ledger_db(home)
    found = conn.execute(
        "SELECT model, input_tokens, cache_read_tokens, output_tokens, reasoning_tokens, "
        "task_id, project, provider FROM attempts ORDER BY id"
    ).fetchall()
    conn.close()
    return found


def test_each_turn_once_with_cached_input_split_out(run, codex_home, isolated_home):
    out = run("import", "codex")
    assert out.exit_code == 0, out.stderr
    task = f"cx-{SESSION}"
    assert rows(isolated_home) == [
        ("gpt-5", 400, 600, 100, 40, task, "acme-web", "openai"),  # the table's provider
        ("gpt-5", 100, 400, 30, 0, task, "acme-web", "openai"),
    ]
    assert "added 2 attempts, 1 duplicates skipped, 0 lines rejected" in out.stderr


def test_an_append_is_read_alone_and_knows_its_session(run, codex_home, isolated_home):
    run("import", "codex")
    log = next((codex_home / "sessions").rglob("*.jsonl"))
    with log.open("a") as handle:
        handle.write(
            lines(
                token_count((1500, 1000, 130, 40), (500, 400, 30, 0)),  # the last one, again
                event("turn_context", {"model": "gpt-5-mini"}),
                token_count((1700, 1100, 150, 45), None),
            )
        )
    out = run("import", "codex")
    assert "3 lines read; added 1 attempts, 1 duplicates skipped" in out.stderr, out.stderr
    assert rows(isolated_home)[-1] == (
        "gpt-5-mini",
        100,
        100,
        20,
        5,
        f"cx-{SESSION}",
        "acme-web",
        "openai",
    )
    again = run("import", "codex")
    assert "added 0 attempts" in again.stderr


def test_bad_lines_are_named_and_the_rest_imported(run, codex_home, isolated_home):
    log = next((codex_home / "sessions").rglob("*.jsonl"))
    with log.open("a") as handle:
        handle.write('{"type": "event_msg", "payload": {"type": "token_count"\n')
        handle.write(lines(token_count((2000, 0, -5, 0), None)))
    out = run("import", "codex")
    assert out.exit_code == ExitCode.BAD_INPUT
    assert f"{log}:8: not valid JSON" in out.stderr
    assert f"{log}:9: total_token_usage.output_tokens must be a whole number" in out.stderr
    assert len(rows(isolated_home)) == 2


def test_a_missing_path(run, tmp_path):
    out = run("import", "codex", "--path", str(tmp_path / "nowhere"))
    assert_one_line_error(out, ExitCode.BAD_INPUT, "no such file or folder")


@pytest.mark.skipif(not GENERATOR.exists(), reason="../shared/tools is not beside this clone")
def test_totals_equal_the_generators_ground_truth(run, tmp_path, isolated_home, monkeypatch):
    subprocess.run(
        [
            sys.executable,
            str(GENERATOR),
            "--root",
            str(tmp_path / "claude"),
            "--lines",
            "50",
            "--files",
            "1",
            "--codex-root",
            str(tmp_path / "codex"),
            "--codex-files",
            "6",
            "--codex-lines",
            "300",
            "--seed",
            "3",
        ],
        check=True,
        capture_output=True,
    )
    truth = json.loads((tmp_path / "codex" / "manifest.json").read_text())["token_totals"]
    # The generator dates Codex sessions up to its own run; the clock is pinned to the newest.
    monkeypatch.setenv("TOKENROUTE_NOW", newest_timestamp(tmp_path / "codex" / "sessions"))
    out = run("import", "codex", "--path", str(tmp_path / "codex" / "sessions"))
    assert out.exit_code == 0, out.stderr
    conn = ledger_db(isolated_home)
    got = conn.execute(
        "SELECT SUM(input_tokens + cache_read_tokens), SUM(cache_read_tokens), "
        "SUM(output_tokens), SUM(reasoning_tokens) FROM attempts"
    ).fetchone()
    conn.close()
    assert got == (
        truth["input_tokens"],
        truth["cached_input_tokens"],
        truth["output_tokens"],
        truth["reasoning_output_tokens"],
    )


def test_an_append_takes_the_newest_model_and_folder(run, tmp_path, isolated_home):
    log = tmp_path / "codex" / f"rollout-2026-11-20T10-00-00-{SESSION}.jsonl"
    log.parent.mkdir(parents=True)
    log.write_text(
        lines(
            event("session_meta", {"id": SESSION, "cwd": "/a/proj1"}),
            event("turn_context", {"model": "gpt-4.1", "cwd": "/a/proj1"}),
            token_count((100, 0, 10, 0), (100, 0, 10, 0)),
            event("turn_context", {"model": "gpt-5-codex", "cwd": "/a/proj2"}),
            event("turn_context", {"model": "gpt-5", "cwd": "/a/proj2"}),
        )
    )
    run("import", "codex", "--path", str(log.parent))
    with log.open("a") as handle:
        handle.write(lines(token_count((300, 0, 30, 0), (200, 0, 20, 0))))
    run("import", "codex", "--path", str(log.parent))
    assert rows(isolated_home)[-1][:2] == ("gpt-5", 200)
    assert rows(isolated_home)[-1][6] == "proj2"


def newest_timestamp(sessions: Path) -> str:
    stamps = (
        json.loads(line)["timestamp"]
        for path in sessions.rglob("*.jsonl")
        for line in path.read_text().splitlines()
    )
    return max(stamps)
