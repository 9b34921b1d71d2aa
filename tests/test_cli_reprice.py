"""`tokenroute prices reprice`: stored unknowns priced later, at their own day's price."""

from __future__ import annotations

import json

from conftest import assert_one_line_error, ledger_at, ledger_db, write
from test_import import summaries

from tokenroute.errors import ExitCode
from tokenroute.storage.sqlite import open_ledger

ACME = """\
provider: acme
checked: 2026-11-20
source: https://acme.example/pricing
models:
  - id: acme-9
    aliases: [acme-9-latest]
    tier: mid
    prices:
      - {from: 2026-01-01, input: 2, output: 10}
      - {from: 2026-11-01, input: 1, output: 5}
"""


def record(run, model: str, at: str, *extra: str):
    out = run(
        "record", "-m", model, "--input-tokens", "1000000", "--output-tokens", "100000",
        "--at", at, "--task-type", "code", *extra,
    )  # fmt: skip
    assert out.exit_code == 0, out.stderr
    return out


def costs(home) -> list[tuple]:
    conn = ledger_db(home)
    rows = conn.execute(
        "SELECT substr(started_at, 1, 10), model, cost_micros, tier, provider "
        "FROM attempts ORDER BY started_at"
    ).fetchall()
    conn.close()
    return rows


def test_unknowns_are_priced_at_their_own_day_and_nothing_priced_changes(run, isolated_home):
    record(run, "acme-9-latest", "2026-10-15T10:00:00Z")
    record(run, "acme-9", "2026-11-10T10:00:00Z")
    record(run, "gpt-4.1", "2026-11-10T11:00:00Z")
    before = costs(isolated_home)
    assert [row[2] for row in before[:2]] == [None, None]
    report = run("report")
    assert "acme-9" in report.stderr and "prices reprice" in report.stderr

    write(isolated_home / "prices" / "acme.yaml", ACME)
    dry = run("prices", "reprice", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert dry.stdout.startswith("would price 2 of 2 attempt(s) stored with cost unknown")
    assert costs(isolated_home) == before  # a dry run changes nothing

    done = run("prices", "reprice", "--json")
    assert done.exit_code == 0, done.stderr
    body = json.loads(done.stdout)["reprice"]
    assert (body["examined"], body["priced"], body["still_unknown"]) == (2, 2, {})
    assert body["added_cost_usd"] == 4.5  # $2 + $1 on Oct 15, then the cut: $1 + $0.50 on Nov 10
    after = costs(isolated_home)
    assert after[0] == ("2026-10-15", "acme-9", 3_000_000, "mid", "acme")
    assert after[1] == ("2026-11-10", "acme-9", 1_500_000, "mid", "acme")
    assert after[2] == before[2]  # the call priced when it was recorded is untouched
    total = json.loads(run("report", "--json").stdout)["total"]
    assert total["unpriced_attempts"] == 0 and total["cost_usd"] == 4.5 + after[2][2] / 1e6

    again = run("prices", "reprice")
    assert again.stdout.startswith("priced 0 of 0 attempt(s)")


def test_the_summaries_equal_a_rebuild(run, isolated_home):
    record(run, "acme-9", "2026-10-15T10:00:00Z")
    task = json.loads(record(run, "gpt-4.1", "2026-10-15T12:00:00Z", "--json").stdout)
    task_id = task["attempts"][0]["task_id"]
    record(run, "acme-9", "2026-11-02T10:00:00Z", "--task-id", task_id)
    write(isolated_home / "prices" / "acme.yaml", ACME)
    assert run("prices", "reprice").exit_code == 0
    repriced = summaries(isolated_home)
    ledger = open_ledger(ledger_at(isolated_home))
    ledger.rebuild_summaries()
    ledger.close()
    assert summaries(isolated_home) == repriced
    assert all(row[5] == 0 for row in repriced["tasks"])  # no task is left with unknowns


def test_since_and_models_still_unknown(run, isolated_home):
    record(run, "acme-9", "2026-10-15T10:00:00Z")
    record(run, "acme-9", "2026-11-10T10:00:00Z")
    record(run, "mystery-2", "2026-11-11T10:00:00Z")
    write(isolated_home / "prices" / "acme.yaml", ACME)
    out = run("prices", "reprice", "--since", "2026-11-01")
    assert out.exit_code == 0
    assert out.stdout.startswith("priced 1 of 2 attempt(s)")
    assert "still unknown, not in the price table: mystery-2 (1)" in out.stderr
    assert [row[2] for row in costs(isolated_home)] == [None, 1_500_000, None]


def test_reprice_without_a_ledger_or_with_a_bad_date(run):
    assert_one_line_error(run("prices", "reprice"), ExitCode.NOT_FOUND, "no ledger at")
    out = run("prices", "reprice", "--since", "2026-02-30")
    assert_one_line_error(out, ExitCode.USAGE, "--since must be a date")


def test_an_alias_is_priced_by_the_model_that_answered_and_odd_rows_are_left(run, isolated_home):
    line = {"model": "my-alias", "model_answered": "acme-9-latest", "input_tokens": 1000000,
            "output_tokens": 0, "timestamp": "2026-11-10T10:00:00Z"}  # fmt: skip
    assert run("record", input=json.dumps(line)).exit_code == 0
    record(run, "acme-9", "2026-11-11T10:00:00Z")
    conn = ledger_db(isolated_home)
    conn.execute("UPDATE attempts SET started_at = '11/11/2026' WHERE id = 2")  # not ours
    conn.commit()
    conn.close()
    report = run("report")
    assert "not in the price table" in report.stderr
    write(isolated_home / "prices" / "acme.yaml", ACME)
    warned = run("report").stderr
    assert "my-alias not in the price table" in warned and "acme-9" not in warned
    out = run("prices", "reprice")
    assert out.exit_code == 0, out.stderr
    assert out.stdout.startswith("priced 1 of 2 attempt(s)")
    assert "1 attempt(s) left unknown: their time cannot be read" in out.stderr
    assert sorted(row[2] or 0 for row in costs(isolated_home)) == [0, 1_000_000]


def test_the_warning_says_reprice_alone_when_every_model_is_known_now(run, isolated_home):
    record(run, "acme-9", "2026-11-10T10:00:00Z")
    write(isolated_home / "prices" / "acme.yaml", ACME)
    warned = run("report").stderr
    assert "acme-9 now in the price table; run 'tokenroute prices reprice'" in warned
