"""`report --by day --breakdown model`: each group split by a second grouping."""

from __future__ import annotations

import json

import pytest
from conftest import assert_one_line_error

from tokenroute.errors import ExitCode


@pytest.fixture
def ledger(run):
    calls = [
        ("gpt-5", "2026-11-20T10:00:00Z", 100_000),  # $1
        ("gpt-5-mini", "2026-11-20T11:00:00Z", 1_000_000),  # $2
        ("gpt-5", "2026-11-21T10:00:00Z", 300_000),  # $3
    ]
    lines = [
        json.dumps({"model": m, "input_tokens": 0, "output_tokens": n, "timestamp": at})
        for m, at, n in calls
    ]
    assert run("record", input="\n".join(lines) + "\n").exit_code == 0
    return run


def test_each_day_is_split_by_model(ledger):
    outcome = ledger("report", "--by", "day", "--breakdown", "model", "--json")
    assert outcome.exit_code == 0, outcome.stderr
    days = {g["key"]["day"]: g for g in json.loads(outcome.stdout)["groups"]}
    first = days["2026-11-20"]
    assert first["cost_usd"] == 3
    parts = {p["key"]["model"]: p["cost_usd"] for p in first["breakdown"]}
    assert parts == {"gpt-5": 1, "gpt-5-mini": 2}
    assert [p["key"]["model"] for p in days["2026-11-21"]["breakdown"]] == ["gpt-5"]
    human = ledger("report", "--by", "day", "--breakdown", "model")
    rows = [line.split() for line in human.stdout.splitlines()]
    assert rows[1][:3] == ["2026-11-20", "all", "$3.00"]
    assert rows[2][:2] == ["gpt-5", "$1.00"] or rows[2][:2] == ["gpt-5-mini", "$2.00"]


def test_csv_has_both_keys(ledger):
    outcome = ledger("report", "--by", "day", "--breakdown", "model", "--csv")
    header, *rows = outcome.stdout.splitlines()
    assert header.startswith("day,model,")
    assert len(rows) == 4  # three (day, model) pairs and the total


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--breakdown", "model"], "--by"),
        (["--by", "model", "--breakdown", "model"], "already in --by"),
        (["--by", "day", "--breakdown", "colour"], "--by must be among"),
    ],
)
def test_bad_breakdowns(ledger, args, fragment):
    assert_one_line_error(ledger("report", *args), ExitCode.USAGE, fragment)


# ---------------------------------------------------------------- --by task: the session view


def test_by_task_lists_each_task_with_every_bucket(run):
    lines = [
        {"model": "claude-haiku-4-5", "input_tokens": 100, "cache_write": 40, "cache_read": 900,
         "output_tokens": 50, "task_id": "s1", "timestamp": "2026-11-20T10:00:00Z"},
        {"model": "gpt-5-mini", "input_tokens": 10, "output_tokens": 5, "reasoning_tokens": 2,
         "task_id": "s1", "timestamp": "2026-11-20T11:00:00Z"},
        {"model": "gpt-5-mini", "input_tokens": 7, "output_tokens": 3, "task_id": "s2",
         "timestamp": "2026-11-21T09:00:00Z", "project": "web"},
    ]  # fmt: skip
    assert run("record", input="\n".join(map(json.dumps, lines)) + "\n").exit_code == 0
    outcome = run("report", "--by", "task", "--json")
    assert outcome.exit_code == 0, outcome.stderr
    tasks = json.loads(outcome.stdout)["tasks"]
    assert [t["task_id"] for t in tasks] == ["s2", "s1"]  # newest activity first
    s1 = tasks[1]
    assert (s1["input_tokens"], s1["cache_write_tokens"], s1["cache_read_tokens"]) == (110, 40, 900)
    assert (s1["output_tokens"], s1["reasoning_tokens"], s1["attempts"]) == (55, 2, 2)
    assert sorted(s1["models"]) == ["claude-haiku-4-5", "gpt-5-mini"]
    assert s1["total_tokens"] == 110 + 40 + 900 + 55
    assert tasks[0]["project"] == "web"
    human = run("report", "--by", "task", "--since", "2026-11-21")
    assert "s2" in human.stdout and "s1" not in human.stdout and "web" in human.stdout
    csv_out = run("report", "--by", "task", "--csv").stdout.splitlines()
    assert csv_out[0].startswith("task_id,first_at,last_at") and len(csv_out) == 3


@pytest.mark.parametrize(
    ("args", "fragment"),
    [(["--by", "task,model"], "no other grouping"), (["--by", "task", "--top", "3"], "--top")],
)
def test_by_task_stands_alone(run, args, fragment):
    assert_one_line_error(run("report", *args), ExitCode.USAGE, fragment)


def test_log_shows_every_bucket(run):
    line = {"model": "claude-haiku-4-5", "input_tokens": 100, "cache_write": 40,
            "cache_write_1h": 2, "cache_read": 900, "output_tokens": 50, "reasoning_tokens": 7}  # fmt: skip
    assert run("record", input=json.dumps(line) + "\n").exit_code == 0
    header, row = run("log").stdout.splitlines()[:2]
    assert "cache write 5m" in header and "cache write 1h" in header and "reasoning" in header
    assert row.split()[-8:-1] == ["100", "40", "2", "900", "50", "7", "1,092"]
    (attempt,) = json.loads(run("log", "--json").stdout)["attempts"]
    assert attempt["reasoning_tokens"] == 7 and attempt["total_tokens"] == 1092
