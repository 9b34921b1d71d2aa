"""Every token bucket of `report --by day` equals ccusage's `daily --json` on the same Claude
Code logs: against the buckets the logs were written with (always), against ccusage itself
where it is installed (CI installs it), and on the shared generator's larger tree."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from claude_logs import write_tree
from conftest import PINNED_DAY, ROOT

GENERATOR = ROOT.parent / "shared" / "tools" / "gen_claude_logs.py"
END = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)


def ccusage_command() -> list[str] | None:
    found = os.environ.get("TOKENROUTE_CCUSAGE") or shutil.which("ccusage")
    return [found] if found else None


def our_days(run, tree: Path) -> dict[str, dict[str, int]]:
    """Our buckets per day, in ccusage's names: its cache creation is both cache writes."""
    assert run("import", "claude-code", "--path", str(tree / "projects")).exit_code == 0
    groups = json.loads(run("report", "--by", "day", "--json").stdout)["groups"]
    return {
        g["key"]["day"]: {
            "input": g["input_tokens"],
            "cache_write": g["cache_write_tokens"] + g["cache_write_1h_tokens"],
            "cache_write_1h": g["cache_write_1h_tokens"],
            "cache_read": g["cache_read_tokens"],
            "output": g["output_tokens"],
            "total": g["total_tokens"],
        }
        for g in groups
    }


def ccusage_days(tree: Path) -> dict[str, dict[str, int]]:
    command = ccusage_command()
    assert command is not None
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(tree), "TZ": "UTC"}
    done = subprocess.run(
        [*command, "claude", "daily", "--json", "--offline"],
        capture_output=True, text=True, env=env, check=True, timeout=120,
    )  # fmt: skip
    return {
        d["date"]: {
            "input": d["inputTokens"],
            "cache_write": d["cacheCreationTokens"],
            "cache_read": d["cacheReadTokens"],
            "output": d["outputTokens"],
            "total": d["totalTokens"],
        }
        for d in json.loads(done.stdout)["daily"]
    }


def with_totals(days: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Each day's buckets and their total (the 1-hour writes are already in cache_write)."""
    return {
        day: {**b, "total": b["input"] + b["cache_write"] + b["cache_read"] + b["output"]}
        for day, b in days.items()
    }


def without_1h(days: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """ccusage keeps one cache-creation bucket: the 1-hour writes are not apart there."""
    return {day: {k: v for k, v in b.items() if k != "cache_write_1h"} for day, b in days.items()}


def test_every_bucket_per_day_is_what_the_logs_hold(run, tmp_path):
    truth = write_tree(tmp_path / "claude", end=END)
    assert len(truth) >= 4  # several days, so a bucket landing on the wrong day shows
    assert our_days(run, tmp_path / "claude") == with_totals(truth)


def test_the_one_hour_cache_writes_are_kept_apart_from_the_5_minute_ones(run, tmp_path):
    truth = write_tree(tmp_path / "claude", end=END, seed=11)
    ours = our_days(run, tmp_path / "claude")
    assert sum(b["cache_write_1h"] for b in truth.values()) > 0
    for day, buckets in truth.items():  # a 5m/1h swap in the importer shows here
        assert ours[day]["cache_write_1h"] == buckets["cache_write_1h"], day


@pytest.mark.skipif(ccusage_command() is None, reason="ccusage is not installed")
def test_every_bucket_per_day_equals_ccusage_daily(run, tmp_path):
    tree = tmp_path / "claude"
    write_tree(tree, end=END, seed=5)
    assert without_1h(our_days(run, tree)) == ccusage_days(tree)
    # and inside each day, per model (ccusage names a model by its dated id)
    groups = json.loads(run("report", "--by", "day", "--breakdown", "model", "--json").stdout)[
        "groups"
    ]
    ours = {
        (g["key"]["day"], part["key"]["model"]): (part["input_tokens"], part["output_tokens"])
        for g in groups
        for part in g["breakdown"]
    }
    done = subprocess.run(
        [*ccusage_command(), "claude", "daily", "--breakdown", "--json", "--offline"],
        capture_output=True, text=True, check=True, timeout=120,
        env={**os.environ, "CLAUDE_CONFIG_DIR": str(tree), "TZ": "UTC"},
    )  # fmt: skip
    theirs = {
        (d["date"], re.sub(r"-\d{8}$", "", m["modelName"])): (m["inputTokens"], m["outputTokens"])
        for d in json.loads(done.stdout)["daily"]
        for m in d["modelBreakdowns"]
    }
    assert ours == theirs


@pytest.mark.skipif(ccusage_command() is None, reason="ccusage is not installed")
def test_the_cost_per_day_agrees_with_ccusage_to_the_rounding_of_each_call(run, tmp_path):
    """ccusage prices from its LiteLLM copy, we from our versioned table: for these Claude
    models the two agree; we round each call to a micro-dollar, it keeps the float."""
    tree = tmp_path / "claude"
    write_tree(tree, end=END, seed=6)
    our_days(run, tree)
    groups = json.loads(run("report", "--by", "day", "--json").stdout)["groups"]
    ours = {g["key"]["day"]: (g["cost_usd"], g["attempts"]) for g in groups}
    done = subprocess.run(
        [*ccusage_command(), "claude", "daily", "--json", "--offline"],
        capture_output=True, text=True, check=True, timeout=120,
        env={**os.environ, "CLAUDE_CONFIG_DIR": str(tree), "TZ": "UTC"},
    )  # fmt: skip
    theirs = {d["date"]: d["totalCost"] for d in json.loads(done.stdout)["daily"]}
    assert set(theirs) == set(ours)
    for day, (cost, calls) in ours.items():
        assert abs(cost - theirs[day]) <= 0.000001 * calls, day


@pytest.mark.skipif(not GENERATOR.exists(), reason="../shared/tools is not beside this clone")
def test_every_bucket_per_day_equals_ccusage_on_the_shared_generators_tree(run, tmp_path):
    """Its tree has no streaming growth here (--growth-rate 0): ccusage keeps the first copy
    of a response, we keep the one with the most output (the README says why)."""
    tree = tmp_path / "claude"
    subprocess.run(
        [sys.executable, str(GENERATOR), "--root", str(tree), "--lines", "3000", "--files", "15",
         "--days", "8", "--end-date", PINNED_DAY, "--growth-rate", "0", "--seed", "9"],
        check=True, capture_output=True,
    )  # fmt: skip
    manifest = json.loads((tree / "manifest.json").read_text())["per_day_utc_first_wins"]
    expected = {
        day: {
            "input": b["input_tokens"],
            "cache_write": b["cache_creation_input_tokens"],
            "cache_read": b["cache_read_input_tokens"],
            "output": b["output_tokens"],
            "total": b["total_tokens"],
        }
        for day, b in manifest.items()
    }
    ours = without_1h(our_days(run, tree))
    assert ours == expected
    if ccusage_command() is not None:
        assert ours == ccusage_days(tree)
