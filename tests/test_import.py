"""`tokenroute import claude-code`: every API call once, incrementally, and nothing lost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PINNED_DAY, ROOT, assert_one_line_error, ledger_at, ledger_db

from tokenroute.errors import ExitCode

GENERATOR = ROOT.parent / "shared" / "tools" / "gen_claude_logs.py"


def assistant(message_id, request_id, output, *, uuid, when="2026-11-20T10:00:00Z", **extra):
    return {
        "type": "assistant",
        "sessionId": "s-1",
        "cwd": "/home/dev/src/acme-api",
        "uuid": uuid,
        "timestamp": when,
        "requestId": request_id,
        "message": {
            "id": message_id,
            "model": "claude-sonnet-4-5-20250929",
            "usage": {
                "input_tokens": 10,
                "cache_creation_input_tokens": 100,
                "cache_read_input_tokens": 1000,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": 100,
                    "ephemeral_1h_input_tokens": 0,
                },
                "output_tokens": output,
                "service_tier": "standard",
            },
        },
        **extra,
    }


def lines(*objects) -> str:
    return "".join(json.dumps(o) + "\n" for o in objects)


@pytest.fixture
def logs(tmp_path):
    folder = tmp_path / "claude" / "projects" / "-home-dev-src-acme-api"
    folder.mkdir(parents=True)
    session = folder / "s-1.jsonl"
    session.write_text(
        lines(
            {"type": "user", "sessionId": "s-1", "message": {"role": "user", "content": "hi"}},
            # one response written once per content block; the last copy grew
            assistant("msg_1", "req_1", 5, uuid="u1"),
            assistant("msg_1", "req_1", 5, uuid="u2"),
            assistant("msg_1", "req_1", 40, uuid="u3"),
            assistant("msg_2", "req_2", 7, uuid="u4"),
            assistant(None, None, 3, uuid="u5"),  # no ids: counted once by its uuid
            {**assistant("msg_x", "req_x", 0, uuid="u6"), "isApiErrorMessage": True},
            {"type": "summary", "summary": "x"},
        )
        # an agent still writing: the last line is not complete yet
        + json.dumps(assistant("msg_3", "req_3", 9, uuid="u7"))[:50]
    )
    sub = folder / "s-1" / "subagents"
    sub.mkdir(parents=True)
    (sub / "agent-a.jsonl").write_text(
        lines(assistant("msg_9", "req_9", 11, uuid="u9", isSidechain=True))
    )
    return tmp_path / "claude"


def ledger_rows(home: Path) -> list[tuple]:
    conn = ledger_db(home)
    rows = conn.execute(
        "SELECT source_key, output_tokens, input_tokens, cache_write_tokens, cache_read_tokens, "
        "task_id, project, source FROM attempts ORDER BY source_key"
    ).fetchall()
    conn.close()
    return rows


def test_each_call_once_the_biggest_copy_wins(run, logs, isolated_home):
    out = run("import", "claude-code", "--path", str(logs / "projects"))
    assert out.exit_code == 0, out.stderr
    rows = ledger_rows(isolated_home)
    assert [(r[0], r[1]) for r in rows] == [
        ("msg_1", 40),
        ("msg_2", 7),
        ("msg_9", 11),
        ("u5", 3),
    ]
    assert {r[2:] for r in rows} == {(10, 100, 1000, "cc-s-1", "acme-api", "claude-code")}
    assert "added 4 attempts, 2 duplicates skipped, 0 lines rejected" in out.stderr
    report = json.loads(run("report", "--source", "claude-code", "--json").stdout)["total"]
    assert (report["tasks"], report["attempts"]) == (1, 4)


def test_a_second_import_reads_only_what_was_appended(run, logs, isolated_home):
    run("import", "claude-code", "--path", str(logs / "projects"))
    again = run("import", "claude-code", "--path", str(logs / "projects"))
    assert "0 lines read; added 0 attempts" in again.stderr
    session = logs / "projects" / "-home-dev-src-acme-api" / "s-1.jsonl"
    text = session.read_text()
    # the agent finishes its line, then writes a bigger copy of msg_2 and a new call
    complete = text[: text.rfind("\n") + 1] + lines(
        assistant("msg_3", "req_3", 9, uuid="u7"),
        assistant("msg_2", "req_2", 70, uuid="u8"),
    )
    session.write_text(complete)
    out = run("import", "claude-code", "--path", str(logs / "projects"))
    assert "2 lines read; added 1 attempts" in out.stderr
    outputs = {r[0]: r[1] for r in ledger_rows(isolated_home)}
    assert outputs["msg_3"] == 9 and outputs["msg_2"] == 70
    totals = json.loads(run("report", "--json").stdout)["total"]
    assert totals["attempts"] == 5  # the summaries follow the replaced copy


def test_a_rewritten_file_is_read_again_without_duplicates(run, logs, isolated_home):
    run("import", "claude-code", "--path", str(logs / "projects"))
    session = logs / "projects" / "-home-dev-src-acme-api" / "s-1.jsonl"
    session.write_text(lines(assistant("msg_2", "req_2", 7, uuid="u4")))  # shrank
    out = run("import", "claude-code", "--path", str(logs / "projects"))
    assert "added 0 attempts, 1 duplicates skipped" in out.stderr
    assert len(ledger_rows(isolated_home)) == 4


def test_bad_lines_are_named_and_the_rest_imported(run, logs, isolated_home):
    session = logs / "projects" / "-home-dev-src-acme-api" / "s-1.jsonl"
    text = session.read_text()
    first_break = text.index("\n") + 1
    session.write_text(text[:first_break] + "{not json\n" + text[first_break:])
    out = run("import", "claude-code", "--path", str(logs / "projects"))
    assert out.exit_code == ExitCode.BAD_INPUT
    assert f"rejected: {session}:2: not valid JSON" in out.stderr
    assert len(ledger_rows(isolated_home)) == 4


def test_dry_run_changes_nothing(run, logs, isolated_home):
    out = run("import", "claude-code", "--path", str(logs / "projects"), "--dry-run", "--json")
    assert json.loads(out.stdout)["import"]["added"] == 4
    assert not (isolated_home / "ledger.db").exists()


def test_since_and_claude_config_dir(run, logs, isolated_home, monkeypatch):
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", f"{logs},{logs.parent / 'nowhere'}")
    out = run("import", "claude-code", "--since", "2026-11-21")
    assert out.exit_code == 0, out.stderr
    assert "added 0 attempts" in out.stderr  # every call is from 2026-11-20
    assert "added 4 attempts" in run("import", "claude-code").stderr


def test_a_missing_path(run, tmp_path):
    out = run("import", "claude-code", "--path", str(tmp_path / "nope"))
    assert_one_line_error(out, ExitCode.BAD_INPUT, "no such file or folder")


@pytest.mark.skipif(not GENERATOR.exists(), reason="../shared/tools is not beside this clone")
def test_totals_equal_the_generators_ground_truth(run, tmp_path, isolated_home):
    root = tmp_path / "tree"
    subprocess.run(
        [
            sys.executable,
            str(GENERATOR),
            "--root",
            str(root),
            "--lines",
            "4000",
            "--files",
            "12",
            "--seed",
            "5",
            "--end-date",
            PINNED_DAY,
        ],
        check=True,
        capture_output=True,
    )
    truth = json.loads((root / "manifest.json").read_text())["dedup_max_output_wins"]
    assert run("import", "claude-code", "--path", str(root / "projects")).exit_code == 0
    conn = ledger_db(isolated_home)
    got = conn.execute(
        "SELECT SUM(input_tokens), SUM(output_tokens), "
        "SUM(cache_write_tokens + cache_write_1h_tokens), SUM(cache_read_tokens) FROM attempts"
    ).fetchone()
    conn.close()
    assert got == (
        truth["input_tokens"],
        truth["output_tokens"],
        truth["cache_creation_input_tokens"],
        truth["cache_read_input_tokens"],
    )


def summaries(home: Path) -> dict[str, list[tuple]]:
    conn = ledger_db(home)
    found = {
        table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall())
        for table in ("usage_daily", "tasks_daily", "context_daily")
    }
    found["tasks"] = sorted(
        conn.execute(
            "SELECT id, first_at, last_at, attempts, cost_micros, unpriced, source, last_model, "
            "last_tier, last_provider, last_task_type, project, first_tier FROM tasks"
        ).fetchall()
    )
    conn.close()
    return found


def test_imports_keep_the_summaries_a_full_rebuild_would_make(run, logs, isolated_home):
    """Batches top the summaries up set-wise, replacing copies included; a rebuild from the
    attempts must find nothing to change."""
    from tokenroute.storage.sqlite import open_ledger

    run("record", "--model", "gpt-4.1", "--input-tokens", "5", "--output-tokens", "2")
    run("import", "claude-code", "--path", str(logs / "projects"))
    session = logs / "projects" / "-home-dev-src-acme-api" / "s-1.jsonl"
    text = session.read_text()
    session.write_text(
        text[: text.rfind("\n") + 1]
        + lines(
            assistant("msg_3", "req_3", 9, uuid="u7", when="2026-11-21T10:00:00Z"),
            assistant("msg_2", "req_2", 70, uuid="u8"),  # replaces the stored copy
            {**assistant("msg_4", "req_4", 1, uuid="u10"), "sessionId": "s-2"},
        )
    )
    run("import", "claude-code", "--path", str(logs / "projects"))
    incremental = summaries(isolated_home)
    assert len(incremental["tasks"]) == 3 and incremental["tasks_daily"]
    ledger = open_ledger(ledger_at(isolated_home))
    ledger.rebuild_summaries()
    ledger.close()
    assert summaries(isolated_home) == incremental


def test_a_bigger_copy_of_the_newest_row_keeps_the_summaries(run, tmp_path, isolated_home):
    """The replaced copy held the largest row id: its replacement takes that id again."""
    folder = tmp_path / "claude" / "projects" / "-p"
    folder.mkdir(parents=True)
    log = folder / "s-1.jsonl"
    log.write_text(lines(assistant("m1", "r1", 5, uuid="u1")))
    run("import", "claude-code", "--path", str(tmp_path / "claude"))
    with log.open("a") as handle:
        handle.write(lines(assistant("m1", "r1", 500, uuid="u2")))
    out = run("import", "claude-code", "--path", str(tmp_path / "claude"))
    assert "1 stored copies replaced by bigger ones" in out.stderr
    totals = json.loads(run("report", "--since", "2026-01-01", "--json").stdout)["total"]
    assert (totals["attempts"], totals["output_tokens"]) == (1, 500)


def test_a_task_whose_only_call_moved_away_is_emptied(run, tmp_path, isolated_home):
    from tokenroute.storage.sqlite import open_ledger

    folder = tmp_path / "claude" / "projects" / "-p"
    folder.mkdir(parents=True)
    (folder / "s1.jsonl").write_text(lines(assistant("m1", "r1", 5, uuid="u1")))
    run("import", "claude-code", "--path", str(tmp_path / "claude"))
    moved = {**assistant("m1", "r1", 40, uuid="u2"), "sessionId": "s2"}
    (folder / "s2.jsonl").write_text(lines(moved))
    run("import", "claude-code", "--path", str(tmp_path / "claude"))
    conn = ledger_db(isolated_home)
    emptied = conn.execute("SELECT attempts, cost_micros FROM tasks WHERE id = 'cc-s-1'")
    assert emptied.fetchone() == (0, 0)
    conn.close()
    incremental = summaries(isolated_home)
    ledger = open_ledger(ledger_at(isolated_home))
    ledger.rebuild_summaries()
    ledger.close()
    assert summaries(isolated_home) == incremental


def test_a_line_nested_too_deep_is_rejected_not_fatal(run, logs, isolated_home):
    session = logs / "projects" / "-home-dev-src-acme-api" / "s-1.jsonl"
    text = session.read_text()
    deep = '{"type":"assistant","usage":' + "[" * 100_000 + "]" * 100_000 + "}\n"
    session.write_text(text[: text.rfind("\n") + 1] + deep)
    out = run("import", "claude-code", "--path", str(logs / "projects"))
    assert out.exit_code == ExitCode.BAD_INPUT, out.stderr
    assert ":9: not valid JSON" in out.stderr
    assert len(ledger_rows(isolated_home)) == 4


def test_dry_run_knows_what_the_ledger_already_holds(run, logs, isolated_home):
    run("import", "claude-code", "--path", str(logs / "projects"))
    conn = ledger_db(isolated_home)
    conn.execute("DELETE FROM import_files")  # forget the positions: every line is read again
    conn.commit()
    conn.close()
    out = run("import", "claude-code", "--path", str(logs / "projects"), "--dry-run")
    assert "would add 0 attempts" in out.stderr, out.stderr


def test_new_tasks_summed_in_python_equal_a_rebuild(run, tmp_path, isolated_home):
    """A batch's new tasks get their totals from the rows in hand, not from the window query:
    ties in time, unknown models, tiers that change, typed tasks and projects that fill gaps
    must come out as a rebuild from the attempts makes them."""
    import random

    from tokenroute.storage.sqlite import open_ledger

    rng = random.Random(7)
    models = ["gpt-4.1", "claude-sonnet-4-6", "gpt-5-nano", "no-such-model"]
    lines_ = []
    for number in range(300):
        fields = {
            "model": rng.choice(models),
            "input_tokens": rng.randint(0, 5000),
            "output_tokens": rng.randint(0, 900),
            "timestamp": f"2026-11-{rng.randint(10, 12)}T{rng.choice(['09', '10'])}:00:00Z",
            "task_id": f"task-{rng.randint(1, 40)}",
            "source_key": f"k{number}",
        }
        if rng.random() < 0.3:
            fields["task_type"] = rng.choice(["code", "test"])
        if rng.random() < 0.5:
            fields["project"] = rng.choice(["web", "api"])
        lines_.append(json.dumps(fields) + "\n")
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text("".join(lines_[:200]))
    assert run("import", "jsonl", str(first)).exit_code == 0
    second.write_text("".join(lines_[200:]))  # some tasks known by now, some new
    assert run("import", "jsonl", str(second)).exit_code == 0
    incremental = summaries(isolated_home)
    assert len(incremental["tasks"]) == 40
    ledger = open_ledger(ledger_at(isolated_home))
    ledger.rebuild_summaries()
    ledger.close()
    assert summaries(isolated_home) == incremental
