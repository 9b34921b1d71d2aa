"""`tokenroute import jsonl FILE`: record's lines from any tool, incrementally, once each."""

from __future__ import annotations

import json

from conftest import assert_one_line_error, ledger_db

from tokenroute.errors import ExitCode


def call(**fields) -> str:
    base = {"model": "gpt-4.1", "input_tokens": 100, "output_tokens": 10}
    return json.dumps({**base, **fields}) + "\n"


def attempts(home) -> list[tuple]:
    conn = ledger_db(home)
    rows = conn.execute(
        "SELECT source, source_key, input_tokens, project FROM attempts ORDER BY id"
    ).fetchall()
    conn.close()
    return rows


def test_lines_are_imported_once_and_appends_alone(run, tmp_path, isolated_home):
    log = tmp_path / "calls.jsonl"
    log.write_text(
        call(source_key="a", project="web")
        + call(source_key="a", project="web")  # the same call again
        + call(timestamp="2026-11-20T10:00:00Z", input_tokens=7)
    )
    out = run("import", "jsonl", str(log), "--source", "my-agent")
    assert out.exit_code == 0, out.stderr
    assert "added 2 attempts, 1 duplicates skipped" in out.stderr
    with log.open("a") as handle:
        handle.write(call(source_key="b", input_tokens=5))
    out = run("import", "jsonl", str(log), "--source", "my-agent")
    assert "1 lines read; added 1 attempts" in out.stderr
    # rewritten, a new line first: read again from the start, nothing counted twice
    log.write_text(call(source_key="z", input_tokens=1) + log.read_text())
    out = run("import", "jsonl", str(log), "--source", "my-agent")
    assert "5 lines read; added 1 attempts, 4 duplicates skipped" in out.stderr, out.stderr
    rows = attempts(isolated_home)
    # each import stores its calls in the order they were made (the keyless one is older)
    assert [(r[0], r[2]) for r in rows] == [
        ("my-agent", 7),
        ("my-agent", 100),
        ("my-agent", 5),
        ("my-agent", 1),
    ]
    assert rows[0][1].startswith("line-")


def test_bad_lines_are_named_and_the_rest_imported(run, tmp_path, isolated_home):
    log = tmp_path / "calls.jsonl"
    log.write_text(call(source_key="a") + "{oops\n" + call(source_key="c", colour="red"))
    out = run("import", "jsonl", str(log))
    assert out.exit_code == ExitCode.BAD_INPUT
    assert f"{log}:2: not valid JSON" in out.stderr
    assert f"{log}:3: unknown field 'colour'" in out.stderr
    assert len(attempts(isolated_home)) == 1


def test_a_missing_file_and_a_reserved_source(run, tmp_path):
    assert_one_line_error(
        run("import", "jsonl", str(tmp_path / "none.jsonl")), ExitCode.BAD_INPUT, "no such file"
    )
    log = tmp_path / "calls.jsonl"
    log.write_text(call())
    assert_one_line_error(
        run("import", "jsonl", str(log), "--source", "run"), ExitCode.USAGE, "--source"
    )
