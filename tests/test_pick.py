"""`tokenroute pick`: the type, the tier, the model, the reasons, and learning from outcomes."""

from __future__ import annotations

import json

import pytest
from conftest import assert_one_line_error, ledger_db, write

from tokenroute.errors import ExitCode

NO_LOG = "--no-log"


def pick_json(run, *args: str, input: str | None = None) -> dict:
    out = run("pick", *args, "--json", input=input)
    assert out.exit_code == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize(
    ("description", "task_type", "tier"),
    [
        ("refactor auth module", "refactor", "mid"),
        (
            "design the architecture for splitting our monolith into services",
            "architecture",
            "frontier",
        ),
        ("summarize this meeting transcript", "summarize", "small"),
        ("convert this CSV to JSON", "format", "economy"),
        ("what is the default port of postgres", "qa", "economy"),
        ("write unit tests for parse_duration", "test", "small"),
    ],
)
def test_descriptions_map_to_type_and_tier(run, description, task_type, tier):
    body = pick_json(run, description, NO_LOG)
    assert (body["task_type"], body["tier"]) == (task_type, tier)
    assert body["model"]["id"] and body["estimated_cost_usd"] > 0
    assert len(body["alternatives"]) == 2
    providers = {body["model"]["provider"], *(a["provider"] for a in body["alternatives"])}
    assert len(providers) == 3  # alternatives come from other providers
    assert any(r.startswith(f"type {task_type}") for r in body["reasons"])


def test_reasons_say_why_not_cheaper_and_why_not_dearer(run):
    reasons = pick_json(run, "refactor auth module", NO_LOG)["reasons"]
    assert any(r.startswith("not small:") for r in reasons)
    assert any(r.startswith("not frontier:") for r in reasons)


def test_words_move_a_task_one_tier(run):
    assert pick_json(run, "quick refactor of the auth module", NO_LOG)["tier"] == "small"
    body = pick_json(run, "refactor the auth module across all our services", NO_LOG)
    assert body["tier"] == "frontier"
    assert any("'across all our services' moved it one tier up" in r for r in body["reasons"])


def test_flags_override_the_classifier(run):
    assert pick_json(run, "refactor auth module", "--deep", NO_LOG)["tier"] == "frontier"
    assert pick_json(run, "refactor auth module", "--good-enough", NO_LOG)["tier"] == "small"
    body = pick_json(run, "--execution", "--good-enough", "--convenience", NO_LOG)
    assert body["task_type"] is None and body["tier"] == "small"


def test_configured_providers_come_first(run, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    body = pick_json(run, "refactor auth module", NO_LOG)
    assert body["model"]["provider"] == "openai" and body["provider_configured"] is True
    out = run("pick", "refactor auth module", NO_LOG, "--json")
    assert "sk-test" not in out.stdout + out.stderr


def test_no_key_says_so(run):
    body = pick_json(run, "refactor auth module", NO_LOG)
    assert body["provider_configured"] is False
    assert any("no provider of this tier has a key" in r for r in body["reasons"])


def test_estimate_from_token_counts_and_prompt_file(run, tmp_path):
    body = pick_json(
        run, "refactor auth module", "--input-tokens", "1000000", "--output-tokens", "0", NO_LOG
    )
    assert body["usage"] == {"input_tokens": 1000000, "output_tokens": 0}
    prompt = write(tmp_path / "prompt.md", "hello world")
    body = pick_json(run, "refactor auth module", "--prompt-file", str(prompt), NO_LOG)
    assert body["usage"]["input_tokens"] == 2


def test_description_from_stdin_and_file(run, tmp_path):
    assert pick_json(run, NO_LOG, input="convert this CSV to JSON")["task_type"] == "format"
    ticket = write(tmp_path / "ticket.md", "Summarize the attached call transcript for the team")
    assert pick_json(run, "--file", str(ticket), NO_LOG)["task_type"] == "summarize"


def test_every_pick_starts_a_task(run, isolated_home):
    out = run("pick", "refactor auth module")
    assert out.exit_code == 0
    assert "started task t-" in out.stderr
    task_id = out.stderr.split("started task ")[1].split()[0]

    with ledger_db(isolated_home) as conn:
        assert conn.execute(
            "SELECT type, description FROM tasks WHERE id = ?", (task_id,)
        ).fetchall() == [("refactor", "refactor auth module")]


def test_local_first(run):
    body = pick_json(run, "convert this CSV to JSON", "--local", NO_LOG)
    assert body["tier"] == "local"
    assert any("local first" in r for r in body["reasons"])


def test_learning_from_the_ledger_moves_a_type_to_a_cheaper_tier(run):
    # 30 test-writing tasks finished by economy models, every one a success
    lines = [
        {"model": "gpt-5-nano", "input_tokens": 8000, "output_tokens": 2500, "task_type": "test"}
        for _ in range(30)
    ]
    assert run("record", input="\n".join(json.dumps(x) for x in lines)).exit_code == 0
    body = pick_json(run, "write unit tests for parse_duration", "--no-explore", NO_LOG)
    assert body["tier"] == "economy"
    assert body["learned_from_tasks"] == 30
    assert any(r.startswith("learned from 30 tasks of this type") for r in body["reasons"])


def test_failures_keep_the_dearer_tier(run):
    lines = [
        {
            "model": "gpt-5-nano",
            "input_tokens": 8000,
            "output_tokens": 2500,
            "task_type": "test",
            "status": "invalid",  # economy never once gave a usable answer
        }
        for i in range(30)
    ]
    run("record", input="\n".join(json.dumps(x) for x in lines))
    assert (
        pick_json(run, "write unit tests for parse_duration", "--no-explore", NO_LOG)["tier"]
        == "small"
    )


def test_explain_policy(run):
    body = json.loads(run("pick", "--explain-policy", "--json").stdout)
    rows = {row["task_type"]: row for row in body["policy"]}
    assert rows["architecture"]["policy_tier"] == "frontier" and len(rows) == 15
    assert "what it covers" in run("pick", "--explain-policy").stdout


def test_explain_policy_shows_what_the_ledger_taught(run):
    lines = [
        {"model": "gpt-5-nano", "input_tokens": 8000, "output_tokens": 2500, "task_type": "test"}
        for _ in range(30)
    ]
    run("record", input="\n".join(json.dumps(x) for x in lines))
    body = json.loads(run("pick", "--explain-policy", "--json").stdout)
    test = {row["task_type"]: row for row in body["policy"]}["test"]
    assert (test["policy_tier"], test["learned_tier"]) == ("small", "economy")
    # economy is one below the policy's small: believed 78%, worth 10 tasks, then 30 of 30
    assert test["outcomes"] == {
        "economy": {"successes": 30, "failures": 0, "believed_success_rate": 0.945}
    }
    assert "economy: 30/0 (94%)" in run("pick", "--explain-policy").stdout


# ---------------------------------------------------------------- bad input


def test_no_description_without_a_terminal(run):
    assert_one_line_error(run("pick", NO_LOG), ExitCode.USAGE, "describe the task")


def test_empty_description(run):
    assert_one_line_error(
        run("pick", "   ", NO_LOG), ExitCode.BAD_INPUT, "the description is empty"
    )


def test_a_huge_description_is_read_and_truncated(run):
    body = pick_json(run, NO_LOG, input="refactor the auth module. " * 200_000)
    assert body["task_type"] == "refactor"
    out = run("pick", NO_LOG, input="refactor the auth module. " * 200_000)
    assert "classified on the first 20,000" in out.stderr


@pytest.mark.parametrize("value", ["0", "1.5", "-0.2"])
def test_quality_target_out_of_range(run, value):
    out = run("pick", "refactor auth", "--quality-target", value, NO_LOG)
    assert_one_line_error(out, ExitCode.USAGE, "--quality-target must be in (0, 1]")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("types: {refactor: {tier: huge}}", "types.refactor.tier: must be one of"),
        ("types: {juggling: {tier: mid}}", "types.juggling: unknown task type"),
        ("types: {refactor: {tier: mid}}", "every task type needs a tier"),
        ("quality_target: 2\\ntypes: {}", "types"),
    ],
)
def test_a_bad_policy_file_names_file_and_field(run, isolated_home, text, message):
    policy = write(isolated_home / "policy.yaml", text.replace("\\n", "\n"))
    out = run("pick", "refactor auth", NO_LOG)
    assert_one_line_error(out, ExitCode.BAD_INPUT, str(policy), message)


@pytest.mark.parametrize(
    ("modifiers", "field"),
    [("[quick]", "modifiers"), ("{down: quick}", "modifiers.down"),
     ("{up: [[nested]]}", "modifiers.up"), ("{stakes: [tax, 3]}", "modifiers.stakes")],
)  # fmt: skip
def test_bad_tier_words_in_a_policy_name_their_field(run, isolated_home, modifiers, field):
    from tokenroute.advisor.policy import DEFAULT_POLICY

    shipped = DEFAULT_POLICY.read_text(encoding="utf-8").split("\nmodifiers:")[0]
    policy = write(isolated_home / "policy.yaml", f"{shipped}\nmodifiers: {modifiers}\n")
    out = run("pick", "refactor auth", NO_LOG)
    assert_one_line_error(out, ExitCode.BAD_INPUT, str(policy), f"{field}: must be")


def test_on_a_terminal_it_asks_the_three_questions(tmp_path):
    """A real pseudo-terminal: the questions go to stderr, the answers come from the keyboard."""
    import os
    import pty
    import subprocess
    import sys

    leader, follower = pty.openpty()
    env = {**os.environ, "TOKENROUTE_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tokenroute", "pick", "--no-log", "--json"],
        stdin=follower,
        stderr=follower,
        stdout=subprocess.PIPE,
        env=env,
    )
    os.close(follower)
    os.write(leader, b"n\ny\nn\n")  # execution of a spec; 80-95% is enough; premium not needed
    out, _ = proc.communicate(timeout=60)
    asked = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        asked += chunk
    os.close(leader)
    assert proc.returncode == 0, asked
    assert b"deep reasoning" in asked and b"80-95%" in asked and b"premium" in asked
    body = json.loads(out)
    assert body["task_type"] is None and body["tier"] == "small"
    assert "80-95% is good enough: one tier cheaper, small" in body["reasons"]


@pytest.mark.parametrize(
    "extra", [[], ["--quality-target", "0.9"]]
)  # the fast path, and the full command line (an option with a value)
def test_ctrl_c_at_a_screening_question_exits_130(tmp_path, extra):
    import contextlib
    import os
    import pty
    import signal
    import subprocess
    import sys

    leader, follower = pty.openpty()
    env = {**os.environ, "TOKENROUTE_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tokenroute", "pick", "--no-log", *extra],
        stdin=follower,
        stderr=follower,
        stdout=subprocess.PIPE,
        env=env,
    )
    os.close(follower)
    asked = b""
    while b"deep reasoning" not in asked:
        asked += os.read(leader, 4096)
    proc.send_signal(signal.SIGINT)  # one Ctrl-C, however soon after the prompt it comes
    proc.communicate(timeout=20)
    with contextlib.suppress(OSError):  # the terminal may be gone with the process
        asked += os.read(leader, 4096)
    os.close(leader)
    assert proc.returncode == ExitCode.INTERRUPTED, asked
    assert b"tokenroute: error: interrupted" in asked and b"internal error" not in asked


def test_the_held_out_descriptions_were_never_trained_on():
    """bench/pick_holdout.jsonl measures generalisation only while no training text is
    the same as, or nearly the same as (70% of words shared), a held-out one."""
    import re
    from pathlib import Path

    from tokenroute.advisor.classifier import load_examples

    def words(text: str) -> set[str]:
        return set(re.findall(r"[a-z0-9]+", text.lower()))

    holdout = Path(__file__).resolve().parents[1] / "bench" / "pick_holdout.jsonl"
    held = [words(t) for t, _ in load_examples(holdout)]
    trained = [words(t) for t, _ in load_examples()]
    assert len(held) == 240 and len(trained) >= 40 * 15
    close = [(a, b) for a in trained for b in held if len(a & b) / len(a | b) >= 0.7]
    assert close == []


# ---------------------------------------------------------------- reasons that hold together


def test_the_screening_notice_comes_before_the_questions(table, tmp_path):
    from datetime import UTC, datetime

    from tokenroute.advisor.pick import Answers, PickFlow

    said: list[str] = []
    flow = PickFlow(
        table=table,
        ledger_path=tmp_path / "ledger.db",
        day=datetime(2026, 11, 23, tzinfo=UTC).date(),
        now=datetime(2026, 11, 23, 12, tzinfo=UTC),
        configured=set(),
    )

    def ask(question: str) -> bool:
        said.append(f"Q: {question}")
        return False

    result = flow.pick(
        "stuff for the thing",
        Answers(None, None, None),
        interactive=True,
        ask=ask,
        tell=lambda notice: said.append(f"N: {notice}"),
        log=False,
    )
    assert said[0] == "N: unsure of the task type: asking the screening questions"
    assert [line[:2] for line in said[1:]] == ["Q:"] * 3
    assert not any("screening" in note for note in result.notes)  # said once, in its place


@pytest.mark.parametrize(
    "description",
    [
        "summarize the error logs across all our services",
        "fix typo in docs",
        "translate the README to French",
        "production incident: summarize the outage thread",
    ],
)
def test_no_reason_contradicts_itself(run, description):
    body = pick_json(run, description, NO_LOG)
    for reason in body["reasons"]:
        if "short of the" in reason:
            rate = int(reason.split("about ")[-1].split("%")[0]) if "about " in reason else None
            rate = rate if rate is not None else int(reason.split("finished ")[1].split("%")[0])
            assert rate < 90, reason
    cost = body["model"]["estimated_cost_usd"]
    for other in body["alternatives"]:
        if (
            other["estimated_cost_usd"] < cost
        ):  # a cheaper alternative is offered only with its reason
            assert any(r.startswith(f"{other['id']} costs less, but ") for r in body["reasons"])


def test_learned_from_counts_tasks_not_tiers(run):
    """An escalated task is in two tiers' records but is one task."""
    lines = []
    for i in range(12):
        task = f"t-esc{i:02d}"
        lines += [
            {"model": "gpt-5-nano", "task_id": task, "status": "invalid", "task_type": "test",
             "input_tokens": 8000, "output_tokens": 2500, "error_kind": "schema"},
            {"model": "gpt-5-mini", "task_id": task, "task_type": "test",
             "input_tokens": 8000, "output_tokens": 2500},
        ]  # fmt: skip
    assert run("record", input="\n".join(json.dumps(x) for x in lines)).exit_code == 0
    for i in range(12):
        assert run("mark", f"t-esc{i:02d}", "--success").exit_code == 0
    body = pick_json(run, "write unit tests for parse_duration", "--no-explore", NO_LOG)
    assert body["learned_from_tasks"] == 12
    assert any(r.startswith("learned from 12 tasks of this type") for r in body["reasons"])


def test_a_new_type_learns_from_the_other_types_of_its_tier(run):
    """Evidence on extract (small) tells summarize (small) something: a fifth each."""
    lines = [
        {"model": "gpt-5-nano", "input_tokens": 8000, "output_tokens": 500, "task_type": "extract"}
        for _ in range(60)
    ]
    assert run("record", input="\n".join(json.dumps(x) for x in lines)).exit_code == 0
    body = pick_json(run, "summarize this changelog in three bullet points", "--no-explore", NO_LOG)
    assert body["task_type"] == "summarize" and body["learned_from_tasks"] == 0
    assert any("and 60 of other small types" in r for r in body["reasons"])
    assert body["tier"] == "economy"  # 60 economy successes on extract, at a fifth: 12 tasks


@pytest.mark.parametrize(
    "args",
    [["--deep", "--execution"], ["--need", "--convenience", "--json"],
     ["--local", "--no-local", "--quality-target", "0.9"]],
)  # fmt: skip
def test_flags_that_contradict_each_other_are_refused(run, args):
    out = run("pick", "refactor auth", NO_LOG, *args)
    assert_one_line_error(out, ExitCode.USAGE, "contradict each other")


def test_words_after_a_double_dash_are_the_description_not_flags(run):
    out = run("pick", NO_LOG, "--quality-target", "0.9", "--", "--deep --execution")
    assert out.exit_code == 0, out.stderr
