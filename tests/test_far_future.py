"""The CLI on a clock years past the shipped table: what must keep working keeps working.

The price table goes stale and retired models leave the offer, but nothing already known
becomes unknown: calls are still priced, reports and windows still add up, pick still picks.
"""

from __future__ import annotations

import json
from datetime import date

import pytest

from tokenroute.prices.table import load_price_table, shipped_dir

FAR = "2030-01-01T09:00:00Z"


@pytest.fixture
def far_future(monkeypatch):
    monkeypatch.setenv("TOKENROUTE_NOW", FAR)


def record(run, model: str, *extra: str) -> dict:
    out = run(
        "record", "-m", model, "--input-tokens", "100000", "--output-tokens", "100000",
        "--json", *extra,
    )  # fmt: skip
    assert out.exit_code == 0, out.stderr
    return json.loads(out.stdout)["attempts"][0]


def test_a_retired_models_call_years_later_is_still_priced(run, far_future):
    stored = record(run, "claude-sonnet-4-5")
    assert stored["cost_usd"] == 0.3 + 1.5  # its last list price
    [logged] = json.loads(run("log", "--json").stdout)["attempts"]
    assert logged["started_at"].startswith("2030-01-01")
    body = json.loads(run("report", "--json").stdout)
    assert body["total"]["unpriced_attempts"] == 0 and body["unpriced_models"] == []
    [note] = body["price_notes"]
    assert (note["model"], note["note"], note["since"]) == (
        "claude-sonnet-4-5",
        "after retirement",
        "2026-11-30",
    )
    text = run("report")
    assert "after retirement: claude-sonnet-4-5 (retired 2026-11-30)" in text.stdout


def test_windows_follow_the_clock(run, far_future):
    record(run, "gpt-5-mini", "--at", "2029-12-20T10:00:00Z")
    record(run, "gpt-5-mini", "--at", "2026-11-20T10:00:00Z")
    body = json.loads(run("report", "--last", "30d", "--json").stdout)
    assert body["total"]["attempts"] == 1
    assert body["window"]["start"].startswith("2029-12-02")


def test_pick_still_picks_a_model_on_offer(run, far_future):
    out = run("pick", "refactor auth module", "--json", "--no-log")
    assert out.exit_code == 0, out.stderr
    body = json.loads(out.stdout)
    table = load_price_table(shipped_dir())
    chosen = table.resolve(body["model"]["id"])
    assert chosen.offered_on(date(2030, 1, 1)) is not None  # never a retired model


def test_the_stale_table_warns_but_every_command_works(run, far_future):
    out = run("prices")
    assert out.exit_code == 0 and out.stdout.strip()
    assert "was last checked on" in out.stderr and "days ago" in out.stderr
    assert run("budget", "set", "--daily", "5").exit_code == 0
    record(run, "claude-haiku-4-5")
    burn = run("budget", "list", "--json")
    assert burn.exit_code == 0, burn.stderr
    assert json.loads(burn.stdout)["budgets"][0]["cost_usd"] == 0.1 + 0.5
    assert run("prices", "reprice").exit_code == 0
