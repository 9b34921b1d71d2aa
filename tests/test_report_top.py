"""`report --top N`: where the money goes, on a real ledger built with `record`."""

from __future__ import annotations

import json

import pytest
from conftest import assert_one_line_error

from tokenroute.errors import ExitCode


def line(task: str, tokens: int, **extra) -> str:
    """One gpt-5 call of `tokens` output tokens ($10 per 1M): its cost is tokens / 100,000."""
    body = {
        "model": "gpt-5",
        "input_tokens": 0,
        "output_tokens": tokens,
        "task_id": task,
        "timestamp": "2026-11-20T10:00:00Z",
        **extra,
    }
    return json.dumps(body)


@pytest.fixture
def ledger(run):
    lines = [
        line("big", 500_000, task_type="code", project="web"),  # $5
        line("big", 100_000, task_type="code", project="web", status="error"),  # $1, a retry
        line("mid", 300_000, task_type="code", project="web"),  # $3
        line("small", 100_000, task_type="write", project="docs"),  # $1
        *(line(f"t{i}", 10_000, task_type="write", project="docs") for i in range(20)),  # $0.1 each
        line("old", 900_000, task_type="code", timestamp="2026-09-01T10:00:00Z"),  # outside 30d
    ]
    assert run("record", input="\n".join(lines) + "\n").exit_code == 0
    for task in ("big", "small"):
        assert run("mark", task, "--success").exit_code == 0
    assert run("mark", "mid", "--failure").exit_code == 0
    return run


def top(run, *args: str) -> dict:
    outcome = run("report", "--top", *args, "--json")
    assert outcome.exit_code == 0, outcome.stderr
    return json.loads(outcome.stdout)["top"]


def test_the_dearest_tasks_first_with_their_share_and_questions(ledger):
    body = top(ledger, "3", "--last", "30d")
    tasks = body["tasks"]
    assert [t["task_id"] for t in tasks] == ["big", "mid", "small"]
    assert tasks[0]["cost_usd"] == 6 and body["cost_usd"] == 12
    assert tasks[0]["share_of_spend"] == pytest.approx(0.5)
    assert any("1 of its 2 attempts did not succeed" in q for q in tasks[0]["questions"])
    assert any("failed" in q for q in tasks[1]["questions"])


def test_task_types_and_projects_by_spend_with_cost_per_success(ledger):
    body = top(ledger, "5", "--last", "30d")
    code, write = body["task_types"]
    assert (code["task_type"], code["tasks"], code["cost_usd"]) == ("code", 2, 9)
    assert code["cost_per_task_usd"] == 4.5 and code["cost_per_successful_task_usd"] == 9
    assert (write["task_type"], write["tasks"], write["successful_tasks"]) == ("write", 21, 1)
    assert [p["project"] for p in body["projects"]] == ["web", "docs"]


def test_the_top_five_percent_line(ledger):
    body = top(ledger, "2", "--last", "30d")
    spread = body["top_5_percent"]
    assert (spread["tasks"], spread["of_tasks"]) == (1, 23)  # 5% of 23 tasks: the dearest one
    assert spread["share_of_spend"] == pytest.approx(0.5)
    human = ledger("report", "--top", "2", "--last", "30d")
    assert "the top 5% of tasks (1 of 23) took 50% of spend" in human.stdout
    assert "Questions worth asking:" in human.stdout


def test_the_window_and_filters_apply(ledger):
    everything = top(ledger, "1")
    assert everything["tasks"][0]["task_id"] == "old"
    docs = top(ledger, "10", "--last", "30d", "--project", "docs")
    assert docs["tasks"][0]["task_id"] == "small" and len(docs["tasks"]) == 10
    assert [p["project"] for p in docs["projects"]] == ["docs"]


def test_no_ledger_yet(run):
    assert top(run, "5") == {"tasks": [], "task_types": [], "projects": [], "cost_usd": 0}
    assert "no tasks in this window" in run("report", "--top", "5").stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--top", "5", "--by", "model"], "--top"),
        (["--top", "5", "--csv"], "--top"),
        (["--top", "0"], "--top"),
        (["--top", "5", "--watch"], "--watch"),
    ],
)
def test_top_refuses_what_it_cannot_show(run, args, fragment):
    assert_one_line_error(run("report", *args), ExitCode.USAGE, fragment)


def test_a_group_of_unknown_prices_is_unknown_and_a_partly_known_one_a_floor(run):
    import json as _json

    lines = [
        {"model": "mystery-model-9", "input_tokens": 5, "output_tokens": 5, "task_id": "U1",
         "task_type": "write", "timestamp": "2026-11-22T10:00:00Z"},
        {"model": "gpt-5", "input_tokens": 5000, "output_tokens": 500, "task_id": "K1",
         "task_type": "code", "timestamp": "2026-11-22T10:00:00Z"},
        {"model": "mystery-model-9", "input_tokens": 5, "output_tokens": 5, "task_id": "K1",
         "task_type": "code", "timestamp": "2026-11-22T10:01:00Z"},
    ]  # fmt: skip
    assert run("record", input="".join(_json.dumps(x) + "\n" for x in lines)).exit_code == 0
    top = _json.loads(run("report", "--top", "5", "--json").stdout)["top"]
    kinds = {g["task_type"]: g for g in top["task_types"]}
    assert kinds["write"]["cost_usd"] is None and kinds["write"]["cost_per_task_usd"] is None
    assert kinds["code"]["cost_usd"] > 0 and kinds["code"]["cost_is_lower_bound"] is True
    table = run("report", "--top", "5").stdout
    assert "unknown" in table and "+?" in table
    tasks = {
        t["task_id"]: t
        for t in _json.loads(run("report", "--by", "task", "--json").stdout)["tasks"]
    }
    assert tasks["U1"]["cost_usd"] is None and tasks["K1"]["cost_usd"] > 0


def test_a_big_window_is_ranked_above_a_floor_from_its_sample_as_if_whole(tmp_path, monkeypatch):
    """Above SAMPLE_TARGET tasks, only the tasks costing at least a floor read from the
    sample are sorted: the dearest tasks (ties as a ranking of every task picks them) and
    the top 5%'s spend are the same, and a floor too high to hold them is not kept."""
    import random

    from tokenroute.models import Attempt, AttemptFilter, Task, Usage
    from tokenroute.storage import task_costs, top_spend
    from tokenroute.storage.sqlite import open_ledger

    rng = random.Random(3)
    batch = []
    for number in range(900):
        at = f"2026-11-{1 + number % 28:02d}T{number % 24:02d}:00:00.000Z"
        attempt = Attempt(
            started_at=at, task_id=f"t{number:03d}", model="gpt-5", usage=Usage(input=1),
            cost_micros=rng.choice([10, 20, 20, 30, 30, 30, 50, 80]),
        )  # fmt: skip
        batch.append((attempt, Task(id=attempt.task_id, created_at=at)))
    ledger = open_ledger(tmp_path / "ledger.db")
    ledger.add_attempts(batch)
    conn, where = ledger.conn, AttemptFilter(start="2026-11-03T00:00:00.000Z")
    rows = conn.execute("SELECT cost_micros FROM tasks WHERE first_at >= ?", (where.start,))
    costs = sorted((cost for (cost,) in rows), reverse=True)
    whole = {n: top_spend.dearest_tasks(conn, where, n, 0.05) for n in (1, 10, 60)}
    monkeypatch.setattr(task_costs, "SAMPLE_TARGET", 100)
    assert top_spend._cost_floor(conn, where, len(costs), 60) is not None
    for n, (tasks, spread) in whole.items():
        assert top_spend.dearest_tasks(conn, where, n, 0.05) == (tasks, spread)
        assert spread.top_cost_micros == sum(costs[: spread.top_tasks])
        assert [t.cost_micros for t in tasks] == costs[:n]
    monkeypatch.setattr(top_spend, "_cost_floor", lambda *_: costs[0] + 1)  # holds none
    assert top_spend.dearest_tasks(conn, where, 10, 0.05) == whole[10]
