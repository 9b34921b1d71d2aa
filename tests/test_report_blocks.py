"""report --by block: five-hour usage blocks as a Claude subscription meters them, and the
active block's burn rate and projection, at the pinned clock."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from claude_logs import write_tree
from conftest import assert_one_line_error
from test_ccusage_buckets import END, ccusage_command

from tokenroute.errors import ExitCode


def call(at: str, output: int, model: str = "claude-sonnet-4-5") -> str:
    line = {"model": model, "input_tokens": 0, "output_tokens": output, "timestamp": at}
    return json.dumps(line)


def blocks(run, *args: str) -> list[dict]:
    out = run("report", "--by", "block", "--json", *args)
    assert out.exit_code == 0, out.stderr
    return json.loads(out.stdout)["blocks"]


def test_a_block_starts_on_the_hour_of_its_first_call_and_lasts_five_hours(run):
    calls = [
        call("2026-11-20T09:40:00Z", 100),
        call("2026-11-20T13:59:00Z", 200),  # 4h19m after the start: same block (ends 14:00)
        call("2026-11-20T14:05:00Z", 300),  # after the block's end: a new one, from 14:00
        call("2026-11-20T23:30:00Z", 400),  # a gap of more than five hours: another
    ]
    assert run("record", input="\n".join(calls) + "\n").exit_code == 0
    found = blocks(run)
    assert [(b["start"], b["end"], b["output_tokens"]) for b in found] == [
        ("2026-11-20T09:00:00.000Z", "2026-11-20T14:00:00.000Z", 300),
        ("2026-11-20T14:00:00.000Z", "2026-11-20T19:00:00.000Z", 300),
        ("2026-11-20T23:00:00.000Z", "2026-11-21T04:00:00.000Z", 400),
    ]
    assert [b["first_at"] for b in found][:2] == [
        "2026-11-20T09:40:00.000Z",
        "2026-11-20T14:05:00.000Z",
    ]
    assert not any(b["active"] for b in found)  # the clock is 2026-11-23 12:00


def test_the_active_block_has_a_burn_rate_and_a_projection(run):
    calls = [call("2026-11-23T10:00:00Z", 1000), call("2026-11-23T10:30:00Z", 2000)]
    assert run("record", input="\n".join(calls) + "\n").exit_code == 0
    (active,) = blocks(run)  # now is 12:00: the block 10:00-15:00 has 3h left
    assert active["active"] is True
    pace = active["burn_rate"]
    assert pace["tokens_per_minute"] == 100.0  # 3,000 tokens over the 30 minutes of calls
    assert pace["minutes_left"] == 180.0
    assert pace["projected_total_tokens"] == 3000 + 100 * 180
    cost = active["cost_usd"]
    assert pace["cost_usd_per_hour"] == pytest.approx(cost * 2, rel=1e-6)
    assert pace["projected_cost_usd"] == pytest.approx(cost + cost / 30 * 180, rel=1e-6)
    table = run("report", "--by", "block")
    assert "active, 3h00m left" in table.stdout
    assert "100 tokens/min" in table.stdout and "21,000 tokens" in table.stdout


def test_a_block_whose_last_call_is_five_hours_old_is_over(run, monkeypatch):
    monkeypatch.setenv("TOKENROUTE_NOW", "2026-11-23T14:30:00Z")
    assert run("record", input=call("2026-11-23T10:00:00Z", 10) + "\n").exit_code == 0
    (block,) = blocks(run)
    assert block["active"] is True  # 14:30 is inside 10:00-15:00, 4h30m after its call
    monkeypatch.setenv("TOKENROUTE_NOW", "2026-11-23T15:00:00Z")
    (block,) = blocks(run)
    assert block["active"] is False and block["burn_rate"] is None


def test_blocks_take_the_window_and_filters_and_csv(run):
    calls = [
        call("2026-11-21T08:10:00Z", 10),
        call("2026-11-22T08:10:00Z", 20, model="claude-haiku-4-5"),
        call("2026-11-22T09:10:00Z", 30),
    ]
    assert run("record", input="\n".join(calls) + "\n").exit_code == 0
    assert [b["output_tokens"] for b in blocks(run, "--since", "2026-11-22")] == [50]
    rows = list(csv.DictReader(io.StringIO(run("report", "--by", "block", "--csv").stdout)))
    assert [r["output_tokens"] for r in rows] == ["10", "50"]
    assert rows[1]["models"] == "claude-haiku-4-5,claude-sonnet-4-5"
    assert rows[1]["active"] == "false"


def test_no_blocks_is_said_and_json_is_empty(run):
    assert blocks(run) == []
    assert "no usage blocks" in run("report", "--by", "block").stderr


@pytest.mark.parametrize(
    "args",
    [
        ("--by", "block,model"),
        ("--by", "block", "--top", "3"),
        ("--by", "block", "--json", "--csv"),
    ],
)
def test_wrong_combinations_are_one_line_errors(run, args):
    assert_one_line_error(run("report", *args), ExitCode.USAGE)


@pytest.mark.skipif(ccusage_command() is None, reason="ccusage is not installed")
def test_the_blocks_equal_ccusages_blocks(run, tmp_path):
    tree = tmp_path / "claude"
    write_tree(tree, end=END, seed=8)
    assert run("import", "claude-code", "--path", str(tree / "projects")).exit_code == 0
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(tree), "TZ": "UTC"}
    done = subprocess.run(
        [*ccusage_command(), "claude", "blocks", "--json", "--offline"],
        capture_output=True, text=True, env=env, check=True, timeout=120,
    )  # fmt: skip
    theirs = [b for b in json.loads(done.stdout)["blocks"] if not b["isGap"]]
    ours = blocks(run)
    assert [b["start"][:16] for b in ours] == [b["startTime"][:16] for b in theirs]
    assert [
        (b["input_tokens"], b["cache_write_tokens"] + b["cache_write_1h_tokens"],
         b["cache_read_tokens"], b["output_tokens"]) for b in ours
    ] == [
        (t["inputTokens"], t["cacheCreationInputTokens"], t["cacheReadInputTokens"],
         t["outputTokens"]) for t in (b["tokenCounts"] for b in theirs)
    ]  # fmt: skip


def test_a_window_that_starts_inside_a_block_shows_the_block_whole(run):
    calls = [call("2026-11-23T10:00:00Z", 100), call("2026-11-23T11:30:00Z", 50)]
    assert run("record", input="\n".join(calls) + "\n").exit_code == 0
    (block,) = blocks(run, "--last", "1h")  # from 11:00: the block began at 10:00
    assert block["start"] == "2026-11-23T10:00:00.000Z" and block["output_tokens"] == 150
    assert block["active"] is True and block["burn_rate"]["minutes_left"] == 180.0


def test_a_chain_of_calls_older_than_a_day_still_places_the_block(run):
    """A call every 2h50m for two days: where each block starts depends on the first call
    of the chain, two days before the window; the block that straddles midnight began at
    21:00 (cut from the window's calls alone, it would seem to begin at 00:00)."""
    from datetime import UTC, datetime, timedelta

    first = datetime(2026, 11, 21, 0, 30, tzinfo=UTC)
    moments = [first + timedelta(minutes=170 * k) for k in range(18)]
    calls = [call(m.strftime("%Y-%m-%dT%H:%M:%SZ"), 10) for m in moments]
    assert run("record", input="\n".join(calls) + "\n").exit_code == 0
    whole = blocks(run)
    windowed = blocks(run, "--since", "2026-11-23")
    assert windowed == [b for b in whole if b["end"] > "2026-11-23T00:00:00.000Z"]
    assert windowed[0]["start"] == "2026-11-22T21:00:00.000Z"


def test_a_call_at_the_very_end_of_a_block_belongs_to_it(run):
    """As ccusage cuts them: the block 10:00-15:00 holds a call at 15:00:00.000; one 30
    seconds later opens the next block."""
    calls = [
        call("2026-11-20T10:20:00.000Z", 1),
        call("2026-11-20T15:00:00.000Z", 2),
        call("2026-11-20T15:00:30.000Z", 4),
    ]
    assert run("record", input="\n".join(calls) + "\n").exit_code == 0
    assert [(b["start"][11:16], b["output_tokens"]) for b in blocks(run)] == [
        ("10:00", 3),
        ("15:00", 4),
    ]


def test_a_block_of_unknown_prices_costs_unknown_not_zero(run):
    line = {"model": "mystery-9", "input_tokens": 5, "output_tokens": 5,
            "timestamp": "2026-11-20T10:00:00Z"}  # fmt: skip
    assert run("record", input=json.dumps(line) + "\n").exit_code == 0
    (block,) = blocks(run)
    assert block["cost_usd"] is None and block["unpriced_attempts"] == 1
    assert "unknown" in run("report", "--by", "block").stdout


def test_the_hourly_sums_are_the_attempts_grouped_by_their_hour(tmp_path):
    """The hours are read as ranges of the started_at index: the same rows as grouping
    every attempt by its hour, at any window's edges and with any filter; calls made on
    the hour (and only those) are a row of their own."""
    from tokenroute.models import AttemptFilter
    from tokenroute.storage.usage_hours import hourly_usage

    ledger = _random_ledger(tmp_path)
    windows = [
        AttemptFilter(),
        AttemptFilter(start="2026-11-20T10:30:00.000Z"),
        AttemptFilter(start="2026-11-20T05:00:00.000Z", end="2026-11-21T06:00:00.000Z"),
        AttemptFilter(start="2026-11-20T02:17:00.250Z", end="2026-11-22T13:15:20.500Z"),
        AttemptFilter(end="2026-11-21T00:00:00.001Z", task_type="code"),
        AttemptFilter(start="2026-11-21T00:00:00.000Z", tag="ci", model="o3"),
        AttemptFilter(start="2027-01-01T00:00:00.000Z"),
        AttemptFilter(start="2026-11-21T08:00:00.000Z", end="2026-11-21T08:00:00.000Z"),
    ]
    for where in windows:
        assert _rows(hourly_usage(ledger.conn, where)) == _grouped(ledger.conn, where), where
        bounds = [h[:5] for h in hourly_usage(ledger.conn, where, sums=False)]
        assert bounds == [h[:5] for h in _grouped(ledger.conn, where)], where
    assert any(hour.on_the_hour for hour in hourly_usage(ledger.conn, AttemptFilter()))


def test_a_window_s_blocks_are_those_of_the_whole_history(tmp_path):
    """Read from before the window's start only to cut them, the blocks still running at
    its start and after it are those the whole history cuts, sums and all."""
    from tokenroute.ledger.blocks import blocks_for_window, blocks_from_hours
    from tokenroute.models import AttemptFilter
    from tokenroute.storage.usage_hours import hourly_usage
    from tokenroute.timewindow import stamp

    ledger = _random_ledger(tmp_path, hours=240, gaps=True)
    now = datetime(2026, 12, 1, tzinfo=UTC)

    def read(start, end, sums):
        window = AttemptFilter(start=start and stamp(start), end=end and stamp(end))
        return hourly_usage(ledger.conn, window, sums=sums)

    whole = blocks_from_hours(read(None, None, True), now)
    for start in (
        "2026-11-21T00:00:00.000Z",
        "2026-11-24T07:42:10.000Z",
        "2026-11-27T15:00:00.000Z",
    ):
        found = blocks_for_window(read, start, now)
        assert found == [b for b in whole if b.end > _at(start)], start
        assert found and found[0].start < _at(start) < found[-1].end


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _random_ledger(tmp_path, hours: int = 72, gaps: bool = False):
    """600 calls from 2026-11-20 on: some on the hour, some at EDGES; with `gaps`, in
    bursts with quiet spells of up to 8 hours between them."""
    import random

    from tokenroute.models import Attempt, Task, Usage
    from tokenroute.storage.sqlite import open_ledger
    from tokenroute.timewindow import stamp

    rng = random.Random(5)
    start = datetime(2026, 11, 20, tzinfo=UTC)
    quiet = {rng.randrange(hours) for _ in range(hours // 3)} if gaps else set()
    batch = []
    for number in range(600):
        hour = rng.choice([h for h in range(hours) if h not in quiet])
        minutes = 60 * hour + (0 if number % 9 == 0 else rng.uniform(0, 60))
        at = EDGES[number] if number < len(EDGES) else stamp(start + timedelta(minutes=minutes))
        attempt = Attempt(
            started_at=at, task_id=f"t{number % 80}", model=rng.choice(["gpt-5", "o3", "x-1"]),
            usage=Usage(input=rng.randrange(900), cache_read=rng.randrange(50),
                        output=20 + rng.randrange(300), reasoning=rng.randrange(20)),
            cost_micros=None if number % 13 == 0 else rng.randrange(10_000),
            task_type=rng.choice(["code", "qa"]), tags=("ci",) if number % 4 == 0 else (),
        )  # fmt: skip
        batch.append((attempt, Task(id=attempt.task_id, created_at=at)))
    ledger = open_ledger(tmp_path / "ledger.db")
    ledger.add_attempts(batch)
    return ledger


# on the hour, a millisecond after it, a millisecond before the next, at a window's edges
EDGES = (
    "2026-11-20T07:00:00.000Z", "2026-11-20T07:00:00.001Z", "2026-11-20T07:59:59.999Z",
    "2026-11-20T10:30:00.000Z", "2026-11-20T10:29:59.999Z", "2026-11-21T06:00:00.000Z",
    "2026-11-21T00:00:00.000Z", "2026-11-21T00:00:00.001Z", "2026-11-22T13:15:20.500Z",
)  # fmt: skip


def _rows(hours) -> list[tuple]:
    return [(*h[:-1], sorted(h.models.split(","))) for h in hours]


def _grouped(conn, where) -> list[tuple]:
    """Every attempt of the window grouped by its hour, as the hours were once read."""
    from tokenroute.storage.report_windows import attempt_conditions

    conditions, params = attempt_conditions(where)
    clause = ("WHERE " + " AND ".join(conditions)) if conditions else ""
    rows = conn.execute(
        f"""SELECT substr(a.started_at, 1, 13), substr(a.started_at, 15) = '00:00.000Z',
            MIN(a.started_at), MAX(a.started_at), COUNT(*),
            SUM(a.input_tokens), SUM(a.cache_write_tokens), SUM(a.cache_write_1h_tokens),
            SUM(a.cache_read_tokens), SUM(a.output_tokens), SUM(a.reasoning_tokens),
            COALESCE(SUM(a.cost_micros), 0), COUNT(*) FILTER (WHERE a.cost_micros IS NULL),
            group_concat(DISTINCT a.model)
        FROM attempts a {clause} GROUP BY 1, 2 ORDER BY 1, 2 DESC""",
        params,
    )
    return [(*row[:-1], sorted(row[-1].split(","))) for row in rows]
