"""`tokenroute compare` against the loopback server, answers scripted per model.

Requests go over real HTTP to 127.0.0.1 in each provider's wire format; every attempt lands
in a real SQLite ledger, where `report --tag` and `pick` read it back.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import ROOT, assert_one_line_error, ledger_db, write
from fakeprovider import FakeProvider, Reply, point_clients_at

from tokenroute.compare.scores import Outcome, clearly_below, score, verdict, wilson
from tokenroute.errors import ExitCode

MODELS = "claude-haiku-4-5,gpt-5-mini,gemini-2.5-flash"


@pytest.fixture
def provider(isolated_home, monkeypatch):
    server = FakeProvider()
    point_clients_at(server, monkeypatch)
    write(
        isolated_home / "config.yaml",
        f"retries: 1\nretry_base: 0.01\nmax_wait: 5\ntimeout: 5\n"
        f"endpoints:\n  google: {{base_url: '{server.url}'}}\n",
    )
    yield server
    server.close()


def examples_file(tmp_path: Path, count: int = 4, **extra) -> Path:
    lines = [
        json.dumps(
            {"id": f"e{i}", "prompt": f"What is {i} + {i}?", "expected": str(2 * i), **extra}
        )
        for i in range(1, count + 1)
    ]
    return write(tmp_path / "sums.jsonl", "\n".join(lines) + "\n")


def answering(answers: dict[str, object]):
    """A responder: each model's answer (text, a Reply, or a function of the prompt)."""

    def respond(model: str, body: dict) -> Reply:
        given = answers.get(model, "?")
        if callable(given):
            given = given(_prompt(body))
        return given if isinstance(given, Reply) else Reply(text=(str(given),))

    return respond


def _prompt(body: dict) -> str:
    if "contents" in body:  # Gemini
        return body["contents"][-1]["parts"][0]["text"]
    content = body["messages"][-1]["content"]
    return content if isinstance(content, str) else content[0]["text"]


def doubled(prompt: str) -> str:
    number = int(prompt.split()[2])
    return str(2 * number)


def ledger_rows(home: Path, sql: str) -> list[tuple]:
    conn = ledger_db(home)
    rows = conn.execute(sql).fetchall()
    conn.close()
    return rows


def compared(run, *args: str) -> dict:
    outcome = run("compare", "--models", MODELS, *args, "--json")
    assert outcome.exit_code == 0, outcome.stderr
    return json.loads(outcome.stdout)["comparison"]


def by_model(body: dict) -> dict[str, dict]:
    return {r["model"]: r for r in body["results"]}


# ---------------------------------------------------------------- judging


def test_match_judges_each_answer_and_every_pair_is_a_task(run, provider, tmp_path, isolated_home):
    provider.respond = answering(
        {"claude-haiku-4-5": doubled, "gpt-5-mini": doubled, "gemini-2.5-flash": "5"}
    )
    body = compared(run, str(examples_file(tmp_path)), "--match")
    results = by_model(body)
    assert results["claude-haiku-4-5"]["successes"] == 4
    assert results["gemini-2.5-flash"]["successes"] == 0
    assert results["gemini-2.5-flash"]["failures"]["wrong"] == 4
    # a model that never succeeds has no cost per success: null, never 0
    assert results["gemini-2.5-flash"]["cost_per_successful_task_usd"] is None
    assert body["judged_by"] == ["--match"] and not body["partial"]
    tasks = ledger_rows(isolated_home, "SELECT outcome, outcome_by, type FROM tasks")
    assert len(tasks) == 12
    assert sorted({t[0] for t in tasks}) == ["failure", "success"]
    assert {t[1] for t in tasks} == {"compare"}
    attempts = ledger_rows(
        isolated_home,
        "SELECT a.source, t.tag FROM attempts a JOIN attempt_tags t ON t.attempt_id = a.id",
    )
    assert len(attempts) == 12
    assert set(attempts) == {("compare", "compare:sums")}


def test_match_regex_and_check_command(run, provider, tmp_path):
    provider.respond = answering(
        {"claude-haiku-4-5": "The answer is 42.", "gpt-5-mini": "no idea", "gemini-2.5-flash": "4"}
    )
    examples = str(examples_file(tmp_path, 2))
    body = compared(run, examples, "--match-regex", r"\d+")
    assert by_model(body)["gpt-5-mini"]["successes"] == 0
    assert by_model(body)["claude-haiku-4-5"]["successes"] == 2
    # --check: the answer on stdin, the example in TOKENROUTE_EXAMPLE; exit 0 is right
    check = write(
        tmp_path / "check.py",
        "import json, os, sys\n"
        "example = json.loads(os.environ['TOKENROUTE_EXAMPLE'])\n"
        "sys.exit(0 if sys.stdin.read().strip() == example['expected'] else 1)\n",
    )
    provider.respond = answering({m: doubled for m in MODELS.split(",")})
    body = compared(run, examples, "--check", f"{sys.executable} {check}", "--name", "checked")
    assert all(r["successes"] == 2 for r in body["results"])
    assert body["tag"] == "compare:checked"


def test_without_a_judge_every_valid_answer_counts_and_the_output_says_so(run, provider, tmp_path):
    provider.respond = answering({m: "anything" for m in MODELS.split(",")})
    outcome = run("compare", "--models", MODELS, str(examples_file(tmp_path, 2)))
    assert outcome.exit_code == 0, outcome.stderr
    assert "every valid answer counts as a success" in outcome.stderr
    assert "100%" in outcome.stdout and "verdict:" in outcome.stdout


def test_expect_json_retries_and_a_model_that_never_validates(
    run, provider, tmp_path, isolated_home
):
    provider.respond = answering(
        {"claude-haiku-4-5": '{"sum": 2}', "gpt-5-mini": "not json", "gemini-2.5-flash": '{"a":1}'}
    )
    body = compared(run, str(examples_file(tmp_path, 3)), "--expect", "json")
    gpt = by_model(body)["gpt-5-mini"]
    assert gpt["successes"] == 0 and gpt["failures"]["invalid"] == 3
    assert gpt["cost_per_successful_task_usd"] is None
    assert gpt["retry_tax"] == 1.0  # every try failed: all of its spend is tax
    tries = ledger_rows(isolated_home, "SELECT COUNT(*) FROM attempts WHERE model = 'gpt-5-mini'")[
        0
    ][0]
    assert tries == 6  # retries: 1 in the config, so two tries per example, each logged
    outcome = run(
        "compare", "--models", MODELS, str(examples_file(tmp_path, 3)), "--expect", "json"
    )
    assert "-" in outcome.stdout.splitlines()[2]  # the table shows '-', not $0, per success


def test_judge_model_grades_and_its_cost_is_the_comparisons(run, provider, tmp_path):
    def respond(model: str, body: dict) -> Reply:
        prompt = _prompt(body)
        if "Rubric:" in prompt:  # the judge: right when the graded answer holds 'good'
            graded = prompt.rsplit("The answer to grade:\n", 1)[1]
            verdict = "good" in graded
            return Reply(text=(json.dumps({"pass": verdict, "why": "checked"}),))
        return Reply(text=("good answer",) if model == "gpt-5-mini" else ("bad answer",))

    provider.respond = respond
    rubric = write(tmp_path / "rubric.md", "Pass answers that are good.\n")
    body = compared(
        run, str(examples_file(tmp_path, 2)), "--judge", "gpt-5-nano", "--rubric", str(rubric)
    )
    assert by_model(body)["gpt-5-mini"]["successes"] == 2
    assert by_model(body)["claude-haiku-4-5"]["failures"]["wrong"] == 2
    assert Decimal(str(body["judge_cost_usd"])) > 0
    models_cost = sum(Decimal(str(r["cost_usd"])) for r in body["results"])
    assert Decimal(str(body["cost_usd"])) == models_cost + Decimal(str(body["judge_cost_usd"]))


def test_a_judge_without_a_rubric_is_a_usage_error(run, provider, tmp_path):
    outcome = run(
        "compare", "--models", MODELS, str(examples_file(tmp_path)), "--judge", "gpt-5-nano"
    )
    assert_one_line_error(outcome, ExitCode.USAGE, "--rubric")


# ---------------------------------------------------------------- verdict, cost, budgets


def test_the_verdict_is_the_cheapest_not_clearly_worse(run, provider, tmp_path):
    provider.respond = answering({m: doubled for m in MODELS.split(",")})
    body = compared(run, str(examples_file(tmp_path, 6)), "--match")
    costs = {r["model"]: Decimal(str(r["cost_per_successful_task_usd"])) for r in body["results"]}
    assert body["verdict"]["model"] == min(costs, key=costs.get)
    assert body["verdict"]["versus"] == "claude-haiku-4-5"
    saved = Decimal(str(body["verdict"]["saves_per_1000_tasks_usd"]))
    assert saved == (costs["claude-haiku-4-5"] - min(costs.values())) * 1000


def test_dry_run_sends_nothing_and_shows_the_estimate(run, provider, tmp_path, isolated_home):
    outcome = run(
        "compare", "--models", MODELS, str(examples_file(tmp_path)), "--dry-run", "--json"
    )
    assert outcome.exit_code == 0, outcome.stderr
    plan = json.loads(outcome.stdout)["plan"]
    assert plan["calls"] == 12 and plan["examples"] == 4
    assert Decimal(str(plan["estimated_cost_usd"])) > 0
    assert provider.requests == []
    assert not (isolated_home / "ledger.db").exists()


def test_refuses_over_max_cost_before_any_call(run, provider, tmp_path):
    outcome = run(
        "compare", "--models", MODELS, str(examples_file(tmp_path)), "--max-cost", "0.0000001"
    )
    assert_one_line_error(outcome, ExitCode.OVER_BUDGET, "--max-cost")
    assert provider.requests == []


def test_over_a_dollar_needs_yes(run, provider, tmp_path):
    long = "word " * 40_000  # ~40k tokens a prompt, on three models, ten times
    examples = write(
        tmp_path / "long.jsonl",
        "\n".join(json.dumps({"prompt": long + str(i)}) for i in range(10)) + "\n",
    )
    outcome = run("compare", "--models", "claude-opus-4-1,gpt-5", str(examples))
    assert_one_line_error(outcome, ExitCode.OVER_BUDGET, "--yes")
    assert provider.requests == []


def test_a_user_budget_stops_the_comparison_and_keeps_what_was_done(
    run, provider, tmp_path, isolated_home
):
    provider.respond = answering({m: doubled for m in MODELS.split(",")})
    assert run("budget", "set", "--daily", "0.0002").exit_code == 0
    outcome = run(
        "compare", "--models", MODELS, str(examples_file(tmp_path, 20)), "--concurrency", "1",
        "--json",
    )  # fmt: skip
    assert outcome.exit_code == ExitCode.OVER_BUDGET, outcome.stderr
    body = json.loads(outcome.stdout)["comparison"]
    assert body["partial"] and 0 < body["done"] < 60
    stored = ledger_rows(isolated_home, "SELECT COUNT(*) FROM tasks WHERE outcome != 'unknown'")
    assert stored[0][0] == body["done"]
    assert "budget" in outcome.stderr


def test_max_cost_stops_midway_across_concurrent_calls(run, provider, tmp_path):
    """Answers far longer than estimated: the comparison starts, then stops where the next
    try's expected cost would pass --max-cost; only the calls in flight can pass it."""

    def respond(model: str, body: dict) -> Reply:
        return Reply(text=(doubled(_prompt(body)),), output=3000)

    provider.respond = respond
    examples = str(examples_file(tmp_path, 30))
    plan = run("compare", "--models", MODELS, examples, "--dry-run", "--json")
    estimate = Decimal(str(json.loads(plan.stdout)["plan"]["estimated_cost_usd"]))
    limit = estimate * 3
    outcome = run(
        "compare", "--models", MODELS, examples, "--max-cost", str(limit), "--concurrency", "3",
        "--json",
    )  # fmt: skip
    assert outcome.exit_code == ExitCode.OVER_BUDGET, outcome.stderr
    body = json.loads(outcome.stdout)["comparison"]
    assert body["partial"] and 0 < body["done"] < 90
    dearest = max(Decimal(str(r["cost_per_task_p95_usd"] or 0)) for r in body["results"])
    assert Decimal(str(body["cost_usd"])) <= limit + 3 * dearest
    assert "--max-cost" in outcome.stderr


# ---------------------------------------------------------------- the ledger, pick, report


def test_pick_and_report_see_the_comparison(run, provider, tmp_path, isolated_home):
    provider.respond = answering({m: doubled for m in MODELS.split(",")})
    compared(run, str(examples_file(tmp_path, 3)), "--match", "--task-type", "qa")
    compared(run, str(examples_file(tmp_path, 2)), "--name", "other")
    other = run("record", "--model", "gpt-5-mini", "--input-tokens", "10", "--output-tokens", "5")
    assert other.exit_code == 0
    report = json.loads(run("report", "--tag", "compare:sums", "--json").stdout)
    assert report["total"]["attempts"] == 9 and report["total"]["tasks"] == 9
    assert report["total"]["successful_tasks"] == 9
    by_model = json.loads(run("report", "--tag", "compare:other", "--by", "model", "--json").stdout)
    assert [g["attempts"] for g in by_model["groups"]] == [2, 2, 2]
    assert (
        json.loads(run("report", "--source", "compare", "--json").stdout)["total"]["attempts"] == 15
    )
    logged = json.loads(run("log", "--tag", "compare:other", "--json").stdout)["attempts"]
    assert len(logged) == 6 and all(a["tags"] == ["compare:other"] for a in logged)
    evidence = ledger_rows(
        isolated_home, "SELECT COUNT(*) FROM tasks WHERE type = 'qa' AND outcome = 'success'"
    )
    assert evidence[0][0] == 9
    policy = json.loads(run("pick", "--explain-policy", "--json").stdout)["policy"]
    qa = next(row for row in policy if row["task_type"] == "qa")
    assert sum(o["successes"] for o in qa["outcomes"].values()) == 9


# ---------------------------------------------------------------- bad input, Ctrl-C


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("not json", "sums.jsonl:2: not JSON"),
        ('{"text": "hi"}', "unknown field 'text'"),
        ('{"prompt": ""}', "'prompt' must be non-empty"),
        ('{"prompt": "a", "messages": []}', "one of them"),
        ('{"messages": [{"role": "system", "content": "x"}]}', "role must be user or assistant"),
        ('{"prompt": "a", "id": "e1"}', "used twice"),
        ("[1, 2]", "JSON object"),
    ],
)
def test_a_bad_example_line_stops_before_any_call(run, provider, tmp_path, line, fragment):
    path = write(
        tmp_path / "sums.jsonl", json.dumps({"id": "e1", "prompt": "hi"}) + "\n" + line + "\n"
    )
    outcome = run("compare", "--models", MODELS, str(path))
    assert_one_line_error(outcome, ExitCode.BAD_INPUT, fragment)
    assert provider.requests == []


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--models", "nope-9"], ExitCode.NOT_FOUND, "unknown model"),
        (["--models", "gpt-5-mini,gpt-5-mini"], ExitCode.USAGE, "twice"),
        (["--models", MODELS, "--match-regex", "("], ExitCode.USAGE, "--match-regex"),
        (["--models", MODELS, "--expect", "xml"], ExitCode.USAGE, "--expect"),
        (["--models", MODELS, "--name", "a b"], ExitCode.USAGE, "--name"),
        (["--models", MODELS, "--max-cost", "-1"], ExitCode.USAGE, "--max-cost"),
        (["--models", MODELS, "--task-type", "poetry"], ExitCode.USAGE, "--task-type"),
    ],
)
def test_bad_options(run, provider, tmp_path, args, code, fragment):
    outcome = run("compare", str(examples_file(tmp_path)), *args)
    assert_one_line_error(outcome, code, fragment)


def test_match_needs_expected(run, provider, tmp_path):
    path = write(tmp_path / "e.jsonl", '{"prompt": "hi"}\n')
    outcome = run("compare", "--models", MODELS, str(path), "--match")
    assert_one_line_error(outcome, ExitCode.BAD_INPUT, "'expected'")


def test_ctrl_c_keeps_what_was_done_and_reports_it_as_partial(provider, tmp_path, isolated_home):
    def respond(model: str, body: dict) -> Reply:
        return Reply(text=(doubled(_prompt(body)),), delay=0.15)

    provider.respond = respond
    import os
    import signal

    command = [
        sys.executable, "-c", "from tokenroute.cli.entry import main; main()", "compare",
        "--models", MODELS, str(examples_file(tmp_path, 40)), "--match", "--json",
        "--concurrency", "2",
    ]  # fmt: skip
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy(), cwd=ROOT
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(provider.requests) < 6:
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=20)
    assert child.returncode == ExitCode.INTERRUPTED, err
    body = json.loads(out)["comparison"]
    assert body["partial"] and 0 < body["done"] < 120
    finished = ledger_rows(isolated_home, "SELECT COUNT(*) FROM tasks WHERE outcome = 'success'")
    assert finished[0][0] >= body["done"]
    assert err.decode().strip().endswith("interrupted")


# ---------------------------------------------------------------- the arithmetic


def outcome(model: str, verdict_: str, cost: str = "0.01") -> Outcome:
    return Outcome(model, "e", 1, "t", verdict_, Decimal(cost), Decimal(0), 10, 5, Decimal(0), 100)


def test_wilson_interval_is_right_at_the_edges():
    low, high = wilson(0, 10)
    assert low == 0 and 0.25 < high < 0.35
    low, high = wilson(10, 10)
    assert high == 1 and 0.65 < low < 0.75
    assert wilson(0, 0) is None


def test_clearly_below_needs_evidence():
    assert clearly_below((80, 100), (95, 100))
    assert not clearly_below((9, 10), (10, 10))  # one miss in ten: not clearly worse
    assert not clearly_below((5, 5), (5, 5))


def test_a_cheap_model_that_fails_often_is_not_the_verdict():
    outcomes = [outcome("dear", "success", "0.03") for _ in range(50)]
    outcomes += [outcome("cheap", "success", "0.01") for _ in range(30)]
    outcomes += [outcome("cheap", "wrong", "0.01") for _ in range(20)]
    scores = [score("dear", outcomes), score("cheap", outcomes)]
    chosen = verdict(scores)
    assert chosen.model == "dear" and chosen.clearly_below == ["cheap"]
    # were it as good, it would win: its cost per success is lower
    outcomes = [outcome("dear", "success", "0.03") for _ in range(50)]
    outcomes += [outcome("cheap", "success", "0.01") for _ in range(49)] + [
        outcome("cheap", "wrong")
    ]
    chosen = verdict([score("dear", outcomes), score("cheap", outcomes)])
    assert chosen.model == "cheap" and chosen.saves_per_1000 > 0


def test_an_unknown_price_leaves_the_cost_unknown_not_zero():
    outcomes = [outcome("m", "success"), outcome("m", "success")._replace(cost=None)]
    scored = score("m", outcomes)
    assert scored.cost is None and scored.cost_per_success is None


def test_repeat_and_a_system_prompt_file(run, provider, tmp_path, isolated_home):
    provider.respond = answering({m: doubled for m in MODELS.split(",")})
    system = write(tmp_path / "system.txt", "Answer with the number only.")
    body = compared(run, str(examples_file(tmp_path, 2)), "--repeat", "3", "--system", str(system))
    assert [r["tasks"] for r in body["results"]] == [6, 6, 6] and body["repeat"] == 3
    sent = provider.requests[0]["body"]
    assert "Answer with the number only." in json.dumps(sent)
    tasks = ledger_rows(isolated_home, "SELECT COUNT(*) FROM tasks")[0][0]
    assert tasks == 18


# ---------------------------------------------------------------- when judging or calls fail


def test_a_broken_judge_blames_no_model(run, provider, tmp_path, isolated_home):
    def respond(model: str, body: dict) -> Reply:
        if "Rubric:" in _prompt(body):
            return Reply(kind="status", status=500)
        return Reply(text=("an answer",))

    provider.respond = respond
    rubric = write(tmp_path / "rubric.md", "Pass good answers.\n")
    outcome = run(
        "compare", "--models", MODELS, str(examples_file(tmp_path, 2)), "--judge", "gpt-5-nano",
        "--rubric", str(rubric), "--json",
    )  # fmt: skip
    assert outcome.exit_code == ExitCode.BAD_INPUT
    assert "no answer could be judged" in outcome.stderr
    results = json.loads(outcome.stdout)["comparison"]["results"]
    assert all(r["judged"] == 0 and r["success_rate"] is None for r in results)
    assert all(r["failures"]["judge_error"] == 2 for r in results)
    outcomes = ledger_rows(
        isolated_home, "SELECT DISTINCT outcome FROM tasks WHERE description LIKE '%example%'"
    )
    assert outcomes == [("unknown",)]  # pick learns nothing from an unjudged answer


def test_a_check_that_cannot_run_is_the_checks_fault(run, provider, tmp_path):
    provider.respond = answering({m: "4" for m in MODELS.split(",")})
    outcome = run(
        "compare", "--models", MODELS, str(examples_file(tmp_path, 2)),
        "--check", "no-such-command-xyz", "--json",
    )  # fmt: skip
    assert outcome.exit_code == ExitCode.BAD_INPUT
    assert "--check could not run (exit 127)" in outcome.stderr


def test_check_sees_no_api_key(run, provider, tmp_path):
    provider.respond = answering({m: "4" for m in MODELS.split(",")})
    check = write(
        tmp_path / "check.py",
        "import os, sys\nsys.exit(1 if any(k.endswith('_API_KEY') for k in os.environ) else 0)\n",
    )
    body = compared(run, str(examples_file(tmp_path, 1)), "--check", f"{sys.executable} {check}")
    assert all(r["successes"] == 1 for r in body["results"])


def test_a_refused_key_drops_that_model_and_says_why(run, provider, tmp_path):
    def respond(model: str, body: dict) -> Reply:
        if model == "gpt-5-mini":
            return Reply(kind="status", status=401, message="invalid key")
        return Reply(text=(doubled(_prompt(body)),))

    provider.respond = respond
    body = compared(run, str(examples_file(tmp_path, 8)), "--match", "--concurrency", "1")
    gpt = by_model(body)["gpt-5-mini"]
    assert gpt["tasks"] == 1 and gpt["failures"]["error"] == 1  # not sent seven more times
    assert not body["partial"]  # the rest of the comparison ran to its end
    assert gpt["top_problems"][0]["kind"] == "error"
    human = run("compare", "--models", MODELS, str(examples_file(tmp_path, 2)), "--name", "again")
    assert re.search(r"gpt-5-mini: \d error: .*401", human.stdout), human.stdout


def test_no_model_answering_exits_with_the_provider_code(run, provider, tmp_path):
    provider.respond = lambda model, body: Reply(kind="status", status=401, message="bad key")
    outcome = run("compare", "--models", MODELS, str(examples_file(tmp_path, 2)))
    assert outcome.exit_code == ExitCode.PROVIDER
    assert "no model answered" in outcome.stderr


def test_repeats_do_not_narrow_the_interval():
    once = [outcome("m", "success") for _ in range(2)]
    repeated = [outcome("m", "success") for _ in range(20)]
    assert score("m", repeated, repeat=10).interval == score("m", once).interval


def test_a_cheaper_first_model_that_is_clearly_worse_is_said_so():
    from tokenroute.cli.views.compare import _verdict_line
    from tokenroute.compare.comparison import Scored
    from tokenroute.compare.trial import Trial

    outcomes = [outcome("cheap", "success", "0.01") for _ in range(30)]
    outcomes += [outcome("cheap", "wrong", "0.01") for _ in range(20)]
    outcomes += [outcome("dear", "success", "0.03") for _ in range(50)]
    scores = [score("cheap", outcomes), score("dear", outcomes)]
    line = _verdict_line(Scored(Trial(outcomes, False, None, Decimal(0)), scores, verdict(scores)))
    assert "costs" in line and "more per 1,000" in line and "saves $-" not in line


def test_an_example_over_a_context_window_is_said_before_any_call(run, provider, tmp_path):
    huge = write(tmp_path / "huge.jsonl", json.dumps({"prompt": "word " * 300_000}) + "\n")
    outcome = run(
        "compare", "--models", "gpt-5-mini,claude-haiku-4-5", str(huge), "--dry-run", "--json"
    )
    assert outcome.exit_code == 0, outcome.stderr
    assert "do not fit claude-haiku-4-5's context window" in outcome.stderr
    assert json.loads(outcome.stdout)["plan"]["too_big_for_context"]["claude-haiku-4-5"] == ["1"]
