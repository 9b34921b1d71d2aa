"""The `--json` contract (README, "JSON output"), checked on every command that speaks it.

One vocabulary: money keys end in `_usd` and are plain numbers (never 6.3e-05); token counts
use the ledger's bucket names and end in `_tokens` (`input_tokens` is uncached input); the
bare bucket words (`input`, `cache_read`, ...) appear only as per-1M-token rates in a
`price`; every object has `"version": 2`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import write

BUCKET_WORDS = {"input", "output", "cache_read", "cache_write", "cache_write_1h", "reasoning"}
RATE_PARENTS = {"price", "prices", "long_context"}  # USD per 1M tokens, under the bucket names
MONEY_WORDS = ("cost", "spend", "spent")
NOT_MONEY = {"price_revision", "price_notes", "cost_micros"}

LINES = [
    {"model": "claude-haiku-4-5", "input_tokens": 30, "cache_read": 2000, "cache_write": 100,
     "output_tokens": 7, "task_type": "summarize", "timestamp": "2026-11-20T10:00:00Z"},
    {"model": "gpt-5-nano", "input_tokens": 3, "output_tokens": 1, "status": "error",
     "timestamp": "2026-11-21T10:00:00Z", "tags": ["ci"]},
    {"model": "not-a-known-model", "input_tokens": 5, "output_tokens": 5,
     "timestamp": "2026-11-22T10:00:00Z"},
]  # fmt: skip


def commands(tmp: Any) -> list[list[str]]:
    prompt = write(tmp / "prompt.md", "Summarise the meeting notes below.\n" * 20)
    calls = write(tmp / "calls.jsonl", "\n".join(json.dumps(line) for line in LINES) + "\n")
    return [
        ["pick", "refactor the auth module", "--no-log"],
        ["pick", "--explain-policy"],
        ["estimate", str(prompt)],
        ["log"],
        ["report"],
        ["report", "--by", "model,task-type"],
        ["budget", "set", "--daily", "5"],
        ["budget", "list"],
        ["budget", "remove"],
        ["prices"],
        ["prices", "show", "claude-haiku-4-5"],
        ["prices", "check"],
        ["prices", "reprice", "--dry-run"],
        ["import", "jsonl", str(calls), "--source", "contract", "--dry-run"],
        ["keys", "list"],
        ["config", "show"],
        ["config", "path"],
        ["paths"],
        ["forget", "--before", "2026-01-01", "--dry-run"],
    ]


def parsed(text: str) -> Any:
    """The JSON, refusing a number written with an exponent."""

    def plain(literal: str) -> float:
        assert "e" not in literal.lower(), f"a number in exponent form: {literal}"
        return float(literal)

    return json.loads(text, parse_float=plain)


def problems(value: Any, path: str = "", parent: str = "") -> list[str]:
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}"
            if key in BUCKET_WORDS and parent not in RATE_PARENTS:
                found.append(f"{where}: a bucket outside a price is <bucket>_tokens")
            if key.endswith("_tokens") and not (isinstance(item, int) or item is None):
                found.append(f"{where}: a token count must be a whole number")
            money = any(w in key for w in MONEY_WORDS) and key not in NOT_MONEY
            if money and not key.endswith("_usd"):
                found.append(f"{where}: money keys end in _usd")
            if key.endswith("_usd") and not (isinstance(item, int | float) or item is None):
                found.append(f"{where}: money is a number or null")
            found += problems(item, where, key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += problems(item, f"{path}[{index}]", parent)
    return found


@pytest.fixture
def ledger_with_calls(run):
    out = run("record", input="\n".join(json.dumps(line) for line in LINES) + "\n")
    assert out.exit_code == 0, out.stderr


@pytest.mark.usefixtures("ledger_with_calls")
def test_every_command_speaks_the_one_vocabulary(run, tmp_path):
    for args in commands(tmp_path):
        out = run(*args, "--json")
        assert out.exit_code in (0, 3), (args, out.stderr)  # prices check may list problems
        body = parsed(out.stdout)
        assert body["version"] == 2, args
        assert not problems(body), (args, problems(body))


@pytest.mark.usefixtures("ledger_with_calls")
def test_report_input_tokens_is_uncached_and_the_buckets_add_up(run):
    total = parsed(run("report", "--json").stdout)["total"]
    assert total["input_tokens"] == 38  # uncached only, as in the ledger and log
    buckets = ("input_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens")
    assert total["total_input_tokens"] == sum(total[b] for b in buckets) == 2138
    logged = parsed(run("log", "--json").stdout)["attempts"]
    assert sum(a["input_tokens"] for a in logged) == total["input_tokens"]


@pytest.mark.usefixtures("ledger_with_calls")
def test_a_tiny_cost_is_written_as_digits(run):
    out = run("log", "--json")
    assert "e-0" not in out.stdout
    costs = [a["cost_usd"] for a in parsed(out.stdout)["attempts"]]
    assert None in costs  # the unknown model: null, never 0
    assert any(c is not None and 0 < c < 0.0001 for c in costs)  # would be 5e-06 as a float


def test_record_task_mark_and_a_dry_run_speak_it_too(run, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-contract-0123456789")
    outs = [run("record", "--json", input=json.dumps(LINES[0]) + "\n")]
    task = parsed(run("task", "start", "--type", "code", "x", "--json").stdout)["task"]["id"]
    outs.append(run("mark", task, "--success", "--json"))
    outs.append(run("run", "-m", "gpt-5-mini", "hi", "--dry-run", "--json"))
    for out in outs:
        assert out.exit_code == 0, out.stderr
        body = parsed(out.stdout)
        assert body["version"] == 2 and not problems(body), problems(body)


@pytest.mark.sqlite_only
def test_a_stored_string_that_looks_like_a_marker_stays_a_string(run):
    """The encoder marks Decimals inside strings: text from a log must never be taken for one."""
    for project in ("\u0000#3", 'a"\u0000#1', "~deadbeef~1"):
        line = {"model": "gpt-5-nano", "input_tokens": 1, "output_tokens": 1, "project": project}
        assert run("record", input=json.dumps(line) + "\n").exit_code == 0
    projects = {a["project"] for a in parsed(run("log", "--json").stdout)["attempts"]}
    assert projects == {"\u0000#3", 'a"\u0000#1', "~deadbeef~1"}
