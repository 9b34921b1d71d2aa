"""`tokenroute report`: every metric checked against figures worked out by hand."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
from conftest import assert_one_line_error

from tokenroute.errors import ExitCode

# Three tasks in March 2026 (prices: gpt-5-mini $0.25/$2, claude-sonnet-4-6 $3/$15,
# gpt-5-nano $0.05/$0.40 per 1M):
#   T1 code: gpt-5-mini fails ($0.0045), then sonnet succeeds ($0.045); outcome success
#   T2 code: sonnet ($0.09); outcome failure
#   T3 extract: gpt-5-nano ($0.0052), a single call, so its own task: success
CALLS = [
    {
        "model": "gpt-5-mini",
        "input_tokens": 10_000,
        "output_tokens": 1_000,
        "task_id": "T1",
        "task_type": "code",
        "status": "error",
        "error_kind": "timeout",
        "timestamp": "2026-03-02T09:00:00Z",
        "tags": ["nightly"],
    },
    {
        "model": "claude-sonnet-4-6",
        "input_tokens": 10_000,
        "output_tokens": 1_000,
        "task_id": "T1",
        "task_type": "code",
        "timestamp": "2026-03-02T09:01:00Z",
        "tags": ["nightly"],
    },
    {
        "model": "claude-sonnet-4-6",
        "input_tokens": 20_000,
        "output_tokens": 2_000,
        "task_id": "T2",
        "task_type": "code",
        "timestamp": "2026-03-03T12:00:00Z",
    },
    {
        "model": "gpt-5-nano",
        "input_tokens": 100_000,
        "output_tokens": 500,
        "task_type": "extract",
        "timestamp": "2026-03-10T18:30:00Z",
        "project": "billing",
    },
]


@pytest.fixture
def ledger(run):
    out = run("record", input="\n".join(json.dumps(c) for c in CALLS))
    assert out.exit_code == 0, out.stderr
    assert run("mark", "T1", "--success").exit_code == 0
    assert run("mark", "T2", "--failure").exit_code == 0
    return run


def report_json(run, *args):
    out = run("report", *args, "--json")
    assert out.exit_code == 0, out.stderr
    return json.loads(out.stdout)


def test_totals_match_hand_computed_figures(ledger):
    total = report_json(ledger)["total"]
    assert total["cost_usd"] == pytest.approx(0.1447)
    assert (
        total["tasks"],
        total["attempts"],
        total["successful_tasks"],
        total["failed_tasks"],
    ) == (3, 4, 2, 1)
    assert total["cost_per_task_mean_usd"] == pytest.approx(0.1447 / 3)
    assert total["cost_per_task_median_usd"] == pytest.approx(0.0495)
    assert total["cost_per_task_p95_usd"] == pytest.approx(0.09)
    assert total["cost_per_successful_task_usd"] == pytest.approx(0.1447 / 2)  # failures included
    assert total["io_ratio"] == pytest.approx(140_000 / 4_500)
    assert total["cache_read_share"] == 0
    assert total["retry_tax"] == pytest.approx(0.0045 / 0.1447)
    assert total["failed_task_cost_usd"] == pytest.approx(0.09)


def test_routing_efficiency(ledger):
    total = report_json(ledger)["total"]
    # newest frontier in force in March 2026: claude-opus-4-6 ($5/$25) and gpt-5.2 ($1.75/$14)
    assert total["frontier_cost_usd"] == pytest.approx(0.075 + 0.15 + 0.0315 + 0.182)
    # cheapest model used for the same task type: gpt-5-mini for code, gpt-5-nano for extract
    assert total["cheapest_used_cost_usd"] == pytest.approx(0.0045 + 0.0045 + 0.009 + 0.0052)


def test_by_model(ledger):
    groups = {g["key"]["model"]: g for g in report_json(ledger, "--by", "model")["groups"]}
    assert list(groups) == ["claude-sonnet-4-6", "gpt-5-nano", "gpt-5-mini"]  # dearest first
    sonnet = groups["claude-sonnet-4-6"]
    assert (sonnet["tasks"], sonnet["cost_usd"]) == (2, pytest.approx(0.135))
    # T1 (its failed gpt-5-mini try included) and T2 finished on sonnet; T1 succeeded
    assert sonnet["cost_per_successful_task_usd"] == pytest.approx(0.0495 + 0.09)
    assert groups["gpt-5-mini"]["retry_tax"] == 1.0


def test_by_several_groups_comma_or_repeated(ledger):
    one = report_json(ledger, "--by", "task-type,provider")
    two = report_json(ledger, "--by", "task-type", "--by", "provider")
    assert one["groups"] == two["groups"]
    keys = [tuple(g["key"].values()) for g in one["groups"]]
    assert sorted(keys) == [("code", "anthropic"), ("code", "openai"), ("extract", "openai")]


def test_by_day_week_month_tag_project_tier(ledger):
    days = [g["key"]["day"] for g in report_json(ledger, "--by", "day")["groups"]]
    assert days == ["2026-03-02", "2026-03-03", "2026-03-10"]
    months = report_json(ledger, "--by", "month")["groups"]
    assert [(g["key"]["month"], g["tasks"]) for g in months] == [("2026-03", 3)]
    weeks = [g["key"]["week"] for g in report_json(ledger, "--by", "week")["groups"]]
    assert weeks == ["2026-03-02", "2026-03-09"]  # named by their Mondays
    tags = {g["key"]["tag"]: g["attempts"] for g in report_json(ledger, "--by", "tag")["groups"]}
    assert tags == {"nightly": 2, "-": 2}
    projects = {g["key"]["project"] for g in report_json(ledger, "--by", "project")["groups"]}
    assert "billing" in projects
    tiers = {g["key"]["tier"] for g in report_json(ledger, "--by", "tier")["groups"]}
    assert tiers == {"small", "mid", "economy"}


def test_window_since_until_is_inclusive_of_whole_days(ledger):
    body = report_json(ledger, "--since", "2026-03-03", "--until", "2026-03-03")
    assert body["total"]["cost_usd"] == pytest.approx(0.09)
    body = report_json(ledger, "--since", "2026-03-02", "--until", "2026-03-02")
    assert body["total"]["attempts"] == 2
    assert body["window"] == {
        "start": "2026-03-02T00:00:00.000Z",
        "end": "2026-03-03T00:00:00.000Z",
    }


def test_windows_that_cut_through_days(ledger):
    body = report_json(ledger, "--since", "2026-03-02T09:00:30Z", "--until", "2026-03-03T12:00:00Z")
    # only T1's second attempt (09:01); T2 starts exactly at the exclusive end
    assert body["total"]["cost_usd"] == pytest.approx(0.045)
    assert body["total"]["attempts"] == 1
    late = report_json(ledger, "--since", "2026-03-03T11:00:00Z", "--until", "2026-03-10")
    assert late["total"]["cost_usd"] == pytest.approx(0.09 + 0.0052)


def test_filters(ledger):
    assert report_json(ledger, "--task-type", "extract")["total"]["cost_usd"] == pytest.approx(
        0.0052
    )
    assert report_json(ledger, "--project", "billing")["total"]["tasks"] == 1
    assert report_json(ledger, "--source", "claude-code")["total"]["tasks"] == 0


def test_last_window_counts_from_now(ledger):
    ledger("record", "-m", "gpt-5", "--input-tokens", "1000")
    body = report_json(ledger, "--last", "1h")
    assert body["total"]["attempts"] == 1
    assert report_json(ledger, "--last", "2w")["total"]["attempts"] == 1


def test_empty_window_has_the_same_shape_with_zeros(ledger):
    empty = report_json(ledger, "--since", "2020-01-01", "--until", "2020-01-02", "--by", "model")
    full = report_json(ledger, "--by", "model")
    assert empty["groups"] == [] and set(empty["total"]) == set(full["total"])
    assert empty["total"]["cost_usd"] == 0 and empty["total"]["tasks"] == 0


def test_table_and_csv(ledger):
    out = ledger("report", "--by", "task-type")
    spend, tokens = out.stdout.split("\n\n")[:2]
    lines = spend.splitlines()
    # in a pipe the title is talk
    assert lines[0].split()[:3] == ["task-type", "spend", "tasks"]
    assert lines[-1].split()[:3] == ["total", "$0.1447", "3"]
    assert out.stderr.startswith("Spend since the first call")
    assert "Tokens by bucket" in out.stderr
    header, *_, total = tokens.splitlines()
    assert header.split()[:4] == ["task-type", "uncached", "in", "cache"]
    json_total = json.loads(ledger("report", "--json").stdout)["total"]
    assert total.split()[1:] == [
        f"{json_total[key]:,}"
        for key in ("input_tokens", "cache_write_tokens", "cache_write_1h_tokens",
                    "cache_read_tokens", "output_tokens", "reasoning_tokens", "total_tokens")
    ]  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(ledger("report", "--by", "model", "--csv").stdout)))
    assert [r["model"] for r in rows] == ["claude-sonnet-4-6", "gpt-5-nano", "gpt-5-mini", "total"]
    assert rows[-1]["cost_usd"] == "0.1447"


def test_diagnostics_ask_questions(run):
    calls = [
        # the same context five times with no cache reads
        *(
            {
                "model": "claude-haiku-4-5",
                "input_tokens": 50_000,
                "output_tokens": 100,
                "context_hash": "abc123def4567890",
                "task_type": "summarize",
                "timestamp": f"2026-03-05T10:00:0{n}Z",  # five calls, not one line 5 times
            }
            for n in range(5)
        ),
        # a task type where half the spend fails
        *(
            {
                "model": "gpt-5-mini",
                "input_tokens": 1000,
                "output_tokens": 1000,
                "task_type": "test",
                "status": status,
                "timestamp": f"2026-03-05T11:00:{n:02}Z",
            }
            for n, status in enumerate(("error", "ok") * 5)
        ),
    ]
    assert run("record", input="\n".join(json.dumps(c) for c in calls)).exit_code == 0
    questions = json.loads(run("report", "--json").stdout)["diagnostics"]
    assert any("Cache it?" in q and "5 times" in q for q in questions)
    assert any(q.startswith("summarize: 500 input tokens per output token") for q in questions)
    assert any(q.startswith("test: 50% of spend went to attempts that failed") for q in questions)
    assert "Questions worth asking:" in run("report").stdout


def test_premium_model_question(run):
    calls = [
        *(
            {
                "model": "claude-opus-4-6",
                "input_tokens": 1000,
                "output_tokens": 100,
                "task_type": "qa",
                "timestamp": f"2026-03-05T10:00:0{n}Z",
            }
            for n in range(6)
        ),
        *(
            {
                "model": "gpt-5-nano",
                "input_tokens": 1000,
                "output_tokens": 100,
                "task_type": "qa",
                "timestamp": f"2026-03-05T10:00:0{n}Z",
            }
            for n in range(6)
        ),
    ]
    run("record", input="\n".join(json.dumps(c) for c in calls))
    questions = json.loads(run("report", "--json").stdout)["diagnostics"]
    assert (
        "qa: started at frontier, 100% of 6 tasks finished there; started at economy, "
        "100% of 6. Does it need frontier?"
    ) in questions


def test_an_escalated_task_is_no_success_of_its_cheap_start(run):
    """Twelve tasks start at economy: six finish there, six fail and finish at frontier. By
    the tier that ended them economy looks perfect (6 of 6); it finished half."""
    lines = [
        {"model": "gpt-5-nano", "task_type": "qa", "input_tokens": 1000,
         "output_tokens": 100, "timestamp": "2026-03-05T10:00:00Z"}
        for _ in range(6)
    ]  # fmt: skip
    for i in range(6):
        lines += [
            {"model": "gpt-5-nano", "task_id": f"t-q{i}", "status": "invalid", "task_type": "qa",
             "input_tokens": 1000, "output_tokens": 100, "timestamp": "2026-03-05T10:00:00Z"},
            {"model": "claude-opus-4-6", "task_id": f"t-q{i}", "task_type": "qa",
             "input_tokens": 1000, "output_tokens": 100, "timestamp": "2026-03-05T10:01:00Z"},
        ]  # fmt: skip
    lines += [
        {"model": "claude-opus-4-6", "task_type": "qa", "input_tokens": 1000,
         "output_tokens": 100, "timestamp": "2026-03-05T10:00:00Z"}
        for _ in range(6)
    ]  # fmt: skip
    run("record", input="\n".join(json.dumps(c) for c in lines))
    for i in range(6):
        run("mark", f"t-q{i}", "--success")
    questions = json.loads(run("report", "--json").stdout)["diagnostics"]
    assert not any("Does it need frontier" in q for q in questions), questions


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--last", "3x"), "--last must look like 7d, 30d, 12h or 2w (got '3x')"),
        (("--last", "0d"), "--last must look like"),
        (
            ("--since", "2026-03-05", "--until", "2026-03-01"),
            "--since (2026-03-05) is after --until",
        ),
        (("--by", "colour"), "--by must be among model, tier"),
        (("--last", "7d", "--since", "2026-01-01"), "either --last or --since/--until"),
        (("--since", "March"), "--since must be a date"),
        (("--json", "--csv"), "one of --json and --csv"),
    ],
)
def test_bad_report_options(run, args, message):
    assert_one_line_error(run("report", *args), ExitCode.USAGE, message)


def test_until_takes_only_dashed_dates(run):
    out = run("report", "--until", "20261001")
    assert_one_line_error(out, ExitCode.USAGE, "--until must be a date or time like")


def test_the_cache_question_respects_the_window_and_filters(run):
    calls = [  # six calls at six moments: six copies of one line would be one call
        {
            "model": "claude-haiku-4-5",
            "input_tokens": 50_000,
            "output_tokens": 100,
            "context_hash": "ctx-1",
            "project": "other",
            "timestamp": f"2026-10-06T10:00:0{n}Z",
        }
        for n in range(6)
    ]
    run("record", input="\n".join(json.dumps(c) for c in calls))
    asked = json.loads(run("report", "--json").stdout)["diagnostics"]
    assert any("Cache it?" in q for q in asked)
    for args in (("--until", "2026-10-05"), ("--project", "nothere")):
        questions = json.loads(run("report", *args, "--json").stdout)["diagnostics"]
        assert not any("Cache it?" in q for q in questions), args


def test_money_with_unknown_prices_is_marked_as_a_lower_bound(run):
    lines = [
        {"model": "gpt-5", "input_tokens": 1_000_000, "task_id": "T9"},
        {"model": "mystery-9", "input_tokens": 5, "task_id": "T9"},
    ]
    run("record", input="\n".join(json.dumps(x) for x in lines))
    total = run("report").stdout.split("\n\n")[0].splitlines()[-1].split()
    assert total[0] == "$1.25+?"  # no --by: the one row is the total


def test_percentiles_over_many_tasks_come_from_a_sample(tmp_path):
    """Above 10,000 tasks: sampled; a group too thin in the sample is unknown, not $0."""
    from tokenroute.ledger.report import build_report
    from tokenroute.models import AttemptFilter
    from tokenroute.prices.table import load_price_table, shipped_dir
    from tokenroute.storage.report_queries import ReportReader
    from tokenroute.storage.sqlite import open_ledger

    ledger = open_ledger(tmp_path / "ledger.db")
    with ledger.transaction() as conn:
        conn.executemany(
            "INSERT INTO tasks (id, created_at, outcome, sample) VALUES (?, ?, 'success', ?)",
            [(f"t{i}", "2026-03-01T00:00:00.000Z", i % 1000) for i in range(12_003)],
        )
        rows = [(f"t{i}", "gpt-5-nano", 1000 + i % 100) for i in range(12_000)]
        rows += [("t12000", "gpt-5", 50), ("t12001", "gpt-5", 70), ("t12002", "o3", 9)]
        conn.executemany(
            "INSERT INTO attempts (started_at, task_id, attempt, model, status, source,"
            " cost_micros) VALUES ('2026-03-01T10:00:00.000Z', ?, 1, ?, 'ok', 'bench', ?)",
            rows,
        )
    ledger.rebuild_summaries()
    report = build_report(
        ReportReader(ledger.conn), load_price_table(shipped_dir()), ["model"], AttemptFilter()
    )
    groups = {g.key[0]: g for g in report.groups}
    nano = groups["gpt-5-nano"]
    assert nano.percentiles_estimated and nano.tasks == 12_000
    assert Decimal("0.00104") <= nano.cost_per_task_median <= Decimal("0.00106")
    assert groups["o3"].cost_per_task_median == Decimal("0.000009")  # one task: exact
    assert groups["gpt-5"].cost_per_task_median is None  # 2 tasks: too few in the sample
    assert report.total.percentiles_estimated


def test_an_attempt_of_a_typed_task_stays_under_the_tasks_type(run):
    task = run("task", "start", "--type", "debug", "login loop").stdout.strip()
    line = {"model": "gpt-4.1", "task_id": task, "task_type": "code", "input_tokens": 1000,
            "output_tokens": 100}  # fmt: skip
    assert run("record", input=json.dumps(line)).exit_code == 0
    groups = json.loads(run("report", "--by", "task-type", "--json").stdout)["groups"]
    assert [(g["key"]["task-type"], g["tasks"], g["attempts"]) for g in groups] == [("debug", 1, 1)]
