"""`record`, `task`, `mark` and `log` through the real CLI, on a real ledger file."""

from __future__ import annotations

import json
import sqlite3

import pytest
from conftest import assert_one_line_error, ledger_db, write

from tokenroute.errors import ExitCode


def rows(home, sql):
    with ledger_db(home) as conn:
        return conn.execute(sql).fetchall()


def test_record_from_flags_costs_the_call(run, isolated_home):
    out = run(
        "record",
        "-m",
        "claude-sonnet-4-5-20250929",
        "--input-tokens",
        "1000",
        "--output-tokens",
        "500",
        "--task-type",
        "code",
        "--tag",
        "ci",
        "--latency-ms",
        "830",
        "--json",
    )
    assert out.exit_code == 0, out.stderr
    stored = json.loads(out.stdout)["attempts"][0]
    assert stored["model"] == "claude-sonnet-4-5" and stored["cost_usd"] == 0.0105
    assert stored["price_revision"].startswith("2026-")
    assert rows(
        isolated_home,
        "SELECT model_requested, provider, tier, cost_micros, latency_ms, source FROM attempts",
    ) == [("claude-sonnet-4-5-20250929", "anthropic", "mid", 10500, 830, "record")]
    assert rows(isolated_home, "SELECT outcome, outcome_by FROM tasks") == [("success", "record")]


def test_record_at_a_past_time_uses_the_price_then(run, isolated_home):
    run("record", "-m", "o3", "--input-tokens", "1000000", "--at", "2025-05-01T12:00:00Z")
    run("record", "-m", "o3", "--input-tokens", "1000000", "--at", "2025-07-01")
    assert rows(isolated_home, "SELECT started_at, cost_micros FROM attempts ORDER BY id") == [
        ("2025-05-01T12:00:00.000Z", 10_000_000),
        ("2025-07-01T00:00:00.000Z", 2_000_000),
    ]


def test_record_json_lines_with_raw_usage_objects(run, isolated_home):
    lines = [
        {
            "model": "gpt-5",
            "usage": {
                "prompt_tokens": 1200,
                "completion_tokens": 300,
                "prompt_tokens_details": {"cached_tokens": 1000},
            },
        },
        {
            "model": "claude-haiku-4-5",
            "usage": {"input_tokens": 10, "output_tokens": 20, "cache_read_input_tokens": 500},
        },
        {
            "model": "gemini-2.5-flash",
            "usage": {
                "promptTokenCount": 100,
                "candidatesTokenCount": 10,
                "thoughtsTokenCount": 30,
            },
        },
    ]
    out = run("record", "--task-type", "extract", input="\n".join(json.dumps(x) for x in lines))
    assert out.exit_code == 0, out.stderr
    assert rows(
        isolated_home,
        "SELECT model, input_tokens, cache_read_tokens, output_tokens, "
        "reasoning_tokens, task_type FROM attempts ORDER BY id",
    ) == [
        ("gpt-5", 200, 1000, 300, 0, "extract"),
        ("claude-haiku-4-5", 10, 500, 20, 0, "extract"),
        ("gemini-2.5-flash", 100, 0, 40, 30, "extract"),
    ]


def test_bad_lines_are_rejected_with_their_number_and_good_ones_kept(run, isolated_home):
    text = "\n".join(
        [
            json.dumps({"model": "gpt-5", "input_tokens": 1, "output_tokens": 1}),
            "{not json",
            json.dumps({"model": "gpt-5", "input_tokens": -3}),
            json.dumps({"model": "gpt-5", "output_tokens": 2, "colour": "red"}),
            json.dumps({"model": "gpt-5", "input_tokens": 4, "output_tokens": 4}),
        ]
    )
    out = run("record", input=text)
    assert_one_line_error(out, ExitCode.BAD_INPUT, "3 line(s) rejected; the other 2 were recorded")
    assert "tokenroute: line 2: not valid JSON" in out.stderr
    assert "tokenroute: line 3: input_tokens must be a whole number >= 0" in out.stderr
    assert "tokenroute: line 4: unknown field 'colour'" in out.stderr
    assert rows(isolated_home, "SELECT input_tokens FROM attempts ORDER BY id") == [(1,), (4,)]


def test_unknown_model_is_stored_with_cost_unknown_and_flagged(run, isolated_home):
    out = run("record", "-m", "mystery-9", "--input-tokens", "5", "--output-tokens", "5")
    assert out.exit_code == 0
    assert (
        "unknown model 'mystery-9': not in the price table, stored with cost unknown"
    ) in out.stderr
    assert "unknown" in out.stdout
    assert rows(isolated_home, "SELECT model, cost_micros, price_revision FROM attempts") == [
        ("mystery-9", None, None)
    ]
    report = run("report", "--by", "model")
    assert "mystery-9 not in the price table" in report.stderr
    assert "then run 'tokenroute prices reprice'" in report.stderr
    line = next(li for li in report.stdout.splitlines() if li.startswith("mystery-9"))
    assert line.split()[1] == "unknown"
    body = json.loads(run("report", "--json").stdout)
    assert body["unpriced_models"] == ["mystery-9"] and body["total"]["unpriced_attempts"] == 1


def test_same_source_key_twice_is_stored_once(run, isolated_home):
    for _ in range(2):
        out = run("record", "-m", "gpt-5", "--input-tokens", "1", "--source-key", "req-1")
        assert out.exit_code == 0
    assert "duplicate" in out.stdout
    assert rows(isolated_home, "SELECT COUNT(*) FROM attempts") == [(1,)]


def test_task_groups_calls_and_ends_with_an_outcome(run, isolated_home, monkeypatch):
    task_id = run("task", "start", "--type", "debug", "fix the login bug").stdout.strip()
    assert task_id.startswith("t-")
    monkeypatch.setenv("TOKENROUTE_TASK", task_id)
    run(
        "record",
        "-m",
        "gpt-5-mini",
        "--input-tokens",
        "100",
        "--status",
        "error",
        "--error-kind",
        "timeout",
    )
    run("record", "-m", "gpt-5", "--input-tokens", "100", "--output-tokens", "10")
    out = run("task", "end", task_id, "--success")
    assert out.exit_code == 0 and out.stderr == f"{task_id}: success\n"
    assert rows(isolated_home, "SELECT task_id, attempt, status FROM attempts ORDER BY id") == [
        (task_id, 1, "error"),
        (task_id, 2, "ok"),
    ]
    assert rows(isolated_home, "SELECT type, description, outcome, outcome_by FROM tasks") == [
        ("debug", "fix the login bug", "success", "user")
    ]
    assert run("mark", task_id, "--failure").exit_code == 0
    assert rows(isolated_home, "SELECT outcome FROM tasks") == [("failure",)]


def test_log_lists_recent_attempts(run):
    for tokens in ("1000", "2000", "3000"):
        run("record", "-m", "gpt-5-nano", "--input-tokens", tokens, "--tag", "x")
    out = run("log", "-n", "2", "--json")
    attempts = json.loads(out.stdout)["attempts"]
    assert [a["input_tokens"] for a in attempts] == [3000, 2000]
    assert attempts[0]["tags"] == ["x"] and attempts[0]["cost_usd"] == 0.00015
    table = run("log").stdout.splitlines()
    assert table[0].split()[:3] == ["time", "(UTC)", "task"] and len(table) == 4


def test_log_and_report_on_no_ledger_are_empty_not_errors(run, isolated_home):
    assert run("log").exit_code == 0
    body = json.loads(run("report", "--json").stdout)
    assert body["total"]["tasks"] == 0 and body["groups"] == []
    assert not (isolated_home / "ledger.db").exists()


# ---------------------------------------------------------------- bad input


def test_bad_status(run):
    out = run("record", "-m", "gpt-5", "--input-tokens", "1", "--status", "meh")
    assert_one_line_error(
        out, ExitCode.USAGE, "status must be one of ok, error, invalid, cancelled"
    )


def test_bad_time(run):
    out = run("record", "-m", "gpt-5", "--input-tokens", "1", "--at", "last tuesday")
    assert_one_line_error(out, ExitCode.USAGE, "--at must be a date or time like")


def test_no_token_counts(run):
    assert_one_line_error(run("record", "-m", "gpt-5"), ExitCode.USAGE, "give token counts")


def test_mark_an_unknown_task(run):
    run("record", "-m", "gpt-5", "--input-tokens", "1")
    assert_one_line_error(
        run("mark", "t-nope", "--success"), ExitCode.NOT_FOUND, "no task 't-nope'"
    )


def test_mark_without_an_outcome(run):
    assert_one_line_error(run("mark", "t-1"), ExitCode.USAGE, "--success or --failure")


def test_a_ledger_that_is_not_sqlite(run, tmp_path):
    bogus = write(tmp_path / "ledger.db", "not a database\n" * 200)
    out = run("record", "-m", "gpt-5", "--input-tokens", "1", "--ledger", str(bogus))
    assert_one_line_error(out, ExitCode.LEDGER, "not a usable SQLite ledger")
    assert bogus.read_text().startswith("not a database")
    assert_one_line_error(run("report", "--ledger", str(bogus)), ExitCode.LEDGER, str(bogus))


def test_a_ledger_from_a_newer_tokenroute(run, tmp_path):
    path = tmp_path / "ledger.db"
    sqlite3.connect(path).execute("PRAGMA user_version = 999")
    out = run("log", "--ledger", str(path))
    assert_one_line_error(out, ExitCode.LEDGER, "schema version 999 is newer")


def test_outcome_commands_speak_json(run):
    task_id = run("task", "start", "--json", "x").stdout
    task_id = json.loads(task_id)["task"]["id"]
    out = run("mark", task_id, "--failure", "--json")
    assert json.loads(out.stdout) == {"version": 2, "task": {"id": task_id, "outcome": "failure"}}


def test_attempts_of_a_typed_task_take_its_type_and_project(run, isolated_home, monkeypatch):
    task_id = run("task", "start", "--type", "code", "fix it").stdout.strip()
    run("record", "-m", "gpt-5", "--input-tokens", "1000", "--task-id", task_id)
    run(
        "record", "-m", "gpt-5", "--input-tokens", "1000", "--task-id", task_id, "--task-type", "qa"
    )
    # the task's own type wins: one task's spend and evidence are never split over two types
    assert rows(isolated_home, "SELECT task_type FROM attempts ORDER BY id") == [("code",)] * 2
    assert rows(isolated_home, "SELECT COUNT(DISTINCT project) FROM attempts") == [(1,)]


def test_a_line_s_usage_object_beats_token_defaults(run, isolated_home):
    line = json.dumps({"model": "gpt-5", "usage": {"prompt_tokens": 1000, "completion_tokens": 10}})
    run("record", "--input-tokens", "5", input=line)
    assert rows(isolated_home, "SELECT input_tokens, output_tokens FROM attempts") == [(1000, 10)]


def test_the_price_is_the_one_in_force_on_the_utc_day(run, isolated_home):
    # 2025-06-17T01:00+05:00 is 2025-06-16T20:00Z: the day before gemini-2.5-flash's GA price
    run(
        "record",
        "-m",
        "gemini-2.5-flash",
        "--input-tokens",
        "1000000",
        "--at",
        "2025-06-17T01:00:00+05:00",
    )
    assert rows(isolated_home, "SELECT started_at, cost_micros FROM attempts") == [
        ("2025-06-16T20:00:00.000Z", 150_000)
    ]


def test_a_duplicate_leaves_no_task_behind(run, isolated_home):
    for _ in range(2):
        run("record", "-m", "gpt-5", "--input-tokens", "1", "--source-key", "k-1")
    assert rows(isolated_home, "SELECT COUNT(*) FROM tasks") == [(1,)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--at", "0999-06-01"), "--at must be in 2000 or later"),
        (("--at", "2999-01-01"), "--at is in the future"),
        (("--at", "20250601"), "--at must be a date or time like"),
        (("--input-tokens", "5000000000000"), "input_tokens must be at most"),
    ],
)
def test_unbelievable_calls_are_refused(run, isolated_home, args, message):
    out = run("record", "-m", "gpt-5", "--input-tokens", "1", *args)
    assert_one_line_error(out, ExitCode.USAGE, message)
    assert not (isolated_home / "ledger.db").exists()


def test_a_huge_count_on_a_line_rejects_that_line_only(run, isolated_home):
    text = "\n".join(
        json.dumps(x)
        for x in ({"model": "gpt-5", "input_tokens": 1}, {"model": "gpt-5", "input_tokens": 10**20})
    )
    out = run("record", input=text)
    assert_one_line_error(out, ExitCode.BAD_INPUT, "1 line(s) rejected")
    assert rows(isolated_home, "SELECT input_tokens FROM attempts") == [(1,)]


def test_a_ledger_path_that_is_a_folder(run, tmp_path):
    out = run("record", "-m", "gpt-5", "--input-tokens", "1", "--ledger", str(tmp_path))
    assert_one_line_error(out, ExitCode.LEDGER, "is a folder")


def test_reading_an_empty_file_writes_nothing(run, tmp_path):
    empty = tmp_path / "ledger.db"
    empty.touch()
    assert run("report", "--ledger", str(empty)).exit_code == 0
    assert empty.stat().st_size == 0


GOOD = '{"model": "gpt-5-mini", "input_tokens": 10, "output_tokens": 5, "timestamp": "2026-11-20T10:00:0%dZ"}'


@pytest.mark.parametrize(
    "bad",
    [
        b'{"model": "gpt-5-mini", "input_tokens": 1, "task_type": "\\ud800"}',
        b'{"model": "gpt-5-mini", "input_tokens": ' + b"9" * 5000 + b"}",
        b'{"model": "gpt-5-mini", "input_tokens": 1, "latency_ms": 99999999999999999999}',
        b"[" * 100_000,
        b'{"model": "gpt-5-mini", "input_tokens": 1, "project": "caf\xe9"}',
        b'{"model": "gpt-5-mini", "input_tokens": 1, "timestamp": "9999-12-31T23:59:59-05:00"}',
        b'{"model": "' + b"x" * 2_000_000 + b'"}',
        b'{"model": ["gpt-5-mini"], "input_tokens": {"a": 1}}',
    ],
    ids=["surrogate", "5000-digits", "overflowing-latency", "deep-nesting", "not-utf8",
         "year-10000-in-utc", "overlong-line", "wrong-types"],
)  # fmt: skip
def test_one_bad_line_costs_only_itself(run, isolated_home, bad):
    lines = [GOOD % 1, bad.decode("latin-1"), GOOD % 2]
    data = b"\n".join([lines[0].encode(), bad, lines[2].encode()]) + b"\n"
    out = run("record", input=data)
    assert_one_line_error(out, ExitCode.BAD_INPUT, "1 line(s) rejected; the other 2 were recorded")
    assert "line 2" in out.stdout + out.stderr
    assert rows(isolated_home, "SELECT count(*) FROM attempts") == [(2,)]


def test_a_line_without_end_stops_the_reading_and_keeps_what_came_before(run, isolated_home):
    out = run("record", input=(GOOD % 1).encode() + b"\n" + b"\0" * 25_000_000)
    assert out.exit_code == ExitCode.BAD_INPUT
    assert "stopped" in out.stdout + out.stderr
    assert rows(isolated_home, "SELECT count(*) FROM attempts") == [(1,)]


def test_piping_the_same_timestamped_lines_again_adds_nothing(run, isolated_home):
    """A killed `record` re-run: lines with a timestamp but no source_key are the same calls."""
    data = "\n".join(GOOD % n for n in range(5)) + "\n"
    assert run("record", input=data).exit_code == 0
    assert run("record", input=data).exit_code == 0
    assert rows(isolated_home, "SELECT count(*) FROM attempts") == [(5,)]
    untimed = '{"model": "gpt-5-mini", "input_tokens": 10}\n'
    run("record", input=untimed)
    run("record", input=untimed)  # no time, no key: a new call each time it is read
    assert rows(isolated_home, "SELECT count(*) FROM attempts") == [(7,)]


def test_terminal_escapes_in_a_stored_name_are_shown_not_obeyed(run):
    line = {"model": "gpt-5-mini\u001b[2J", "input_tokens": 1, "project": "p\u001b]0;pwned\u0007"}
    run("record", input=json.dumps(line) + "\n")
    for args in (["log"], ["report", "--by", "project"]):
        out = run(*args)
        assert out.exit_code == 0, out.stderr
        assert "\x1b" not in out.stdout and "\x07" not in out.stdout
    assert "\\x1b]0;pwned" in run("report", "--by", "project").stdout


def test_an_error_is_one_line_whatever_the_value_holds(run):
    for args in (
        ["report", "--last=7\nd"],
        ["record", "-m", "x", "--input-tokens", "1", "--at", "2026\n"],
    ):
        out = run(*args)
        assert out.exit_code == ExitCode.USAGE
        assert out.stderr.count("\n") == 1 and "\\n" in out.stderr


@pytest.mark.parametrize("args", [["--last", "1000000000d"], ["--last", "99999999999999999999w"],
                                  ["--last", "9" * 5000 + "h"],
                                  ["--until", "9999-12-31"], ["--since", "9999-12-31"]])  # fmt: skip
def test_windows_at_the_edge_of_time_are_windows_not_errors(run, args):
    out = run("report", *args, "--json")
    assert out.exit_code == 0, out.stderr


def test_the_same_line_with_other_flags_is_another_call(run, isolated_home):
    line = GOOD % 1 + "\n"
    assert run("record", "--project", "A", input=line).exit_code == 0
    assert run("record", "--project", "B", input=line).exit_code == 0
    assert run("record", "--project", "B", input=line).exit_code == 0  # the same call again
    assert rows(isolated_home, "SELECT project FROM attempts ORDER BY id") == [("A",), ("B",)]


def test_forget_clears_task_descriptions_too(run, isolated_home):
    assert run("pick", "patient John Doe, SSN 123-45-6789: triage").exit_code == 0
    out = run("forget", "--before", "2026-11-24", "--json")
    assert json.loads(out.stdout)["task_descriptions"] == 1
    blob = b"".join(p.read_bytes() for p in isolated_home.glob("ledger.db*"))
    assert b"123-45-6789" not in blob


def test_printable_escapes_controls_and_bidi_overrides_but_not_other_text():
    from tokenroute.cli.render import printable

    assert printable("naïve\u00a0x 👩\u200d💻 é") == "naïve\u00a0x 👩\u200d💻 é"
    assert printable("a\u001b[2Jb\u202ec\td") == "a\\x1b[2Jb\\u202ec\\td"


def test_no_stdout_at_all_is_a_quiet_success(isolated_home):
    import os
    import subprocess
    import sys

    env = {**os.environ, "TOKENROUTE_HOME": str(isolated_home)}
    done = subprocess.run(  # as `tokenroute paths >&-`: Python starts with no fd 1
        [sys.executable, "-m", "tokenroute", "paths"],
        stderr=subprocess.PIPE, env=env, timeout=60, preexec_fn=lambda: os.close(1),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert b"error" not in done.stderr
