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
