"""`tokenroute run` against a local server that speaks each provider's wire format.

Nothing inside tokenroute is mocked: requests go over real HTTP to 127.0.0.1, answers
stream back as Server-Sent Events, and every attempt lands in a real SQLite ledger.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, assert_one_line_error, dict_rows, ledger_db, write
from fakeprovider import FakeProvider, Reply

from tokenroute.errors import ExitCode
from tokenroute.prices.table import load_price_table, shipped_dir

OPENAI_KEY = "sk-test-OPENAI-0123456789abcdef"
ANTHROPIC_KEY = "sk-ant-test-0123456789abcdef"
GEMINI_KEY = "AIzaTEST0123456789abcdef"
SECRETS = (OPENAI_KEY, ANTHROPIC_KEY, GEMINI_KEY)


@pytest.fixture
def provider(isolated_home, monkeypatch):
    server = FakeProvider()
    monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("GEMINI_API_KEY", GEMINI_KEY)
    write(
        isolated_home / "config.yaml",
        f"retry_base: 0.01\nmax_wait: 5\ntimeout: 5\n"
        f"endpoints:\n  google: {{base_url: '{server.url}'}}\n"
        f"  ollama: {{base_url: '{server.url}/v1'}}\n",
    )
    yield server
    server.close()


def attempts(home: Path) -> list[dict]:
    conn = ledger_db(home)
    rows = dict_rows(conn, "SELECT * FROM attempts ORDER BY id")
    conn.close()
    return rows


def task_outcomes(home: Path) -> list[str]:
    conn = ledger_db(home)
    rows = [r[0] for r in conn.execute("SELECT outcome FROM tasks")]
    conn.close()
    return rows


def assert_no_secret(home: Path, *outputs: str) -> None:
    ledger = (home / "ledger.db").read_bytes() if (home / "ledger.db").exists() else b""
    for secret in SECRETS:
        for text in outputs:
            assert secret not in text and secret[-12:] not in text
        assert secret.encode() not in ledger


# ---------------------------------------------------------------- each wire format


def test_openai_streams_the_answer_and_logs_the_usage(run, provider, isolated_home):
    provider.queue(Reply(input=1000, cached=200, output=50, reasoning=10))
    out = run("run", "-m", "gpt-5-mini", "say hello")
    assert out.exit_code == 0, out.stderr
    assert out.stdout == "Hello, world.\n"
    sent = provider.requests[0]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"
    assert sent["body"]["stream_options"] == {"include_usage": True}
    assert sent["body"]["messages"] == [{"role": "user", "content": "say hello"}]
    [row] = attempts(isolated_home)
    assert (row["model"], row["provider"], row["status"], row["source"]) == (
        "gpt-5-mini",
        "openai",
        "ok",
        "run",
    )
    # OpenAI's prompt_tokens include the cached ones: 1,000 uncached + 200 cached
    assert (row["input_tokens"], row["cache_read_tokens"], row["output_tokens"]) == (1000, 200, 50)
    assert row["reasoning_tokens"] == 10 and row["input_estimated"] == 0
    # gpt-5-mini: $0.25 in, $0.025 cached, $2 out per 1M
    assert row["cost_micros"] == 250 + 5 + 100
    assert task_outcomes(isolated_home) == ["success"]
    assert "gpt-5-mini: 1,200 in (200 cached) / 50 out" in out.stderr
    assert_no_secret(isolated_home, out.stdout, out.stderr)


def test_anthropic_caches_the_system_prompt_and_reads_every_bucket(run, provider, isolated_home):
    provider.queue(Reply(input=30, cached=2000, cache_write=500, output=40))
    out = run("run", "-m", "claude-sonnet-4-6", "-s", "You are terse", "--cache", "hi")
    assert out.exit_code == 0, out.stderr
    assert out.stdout == "Hello, world.\n"
    sent = provider.requests[0]
    assert sent["path"] == "/v1/messages"
    assert sent["headers"]["x-api-key"] == ANTHROPIC_KEY
    assert sent["headers"]["anthropic-version"] == "2023-06-01"
    assert sent["body"]["system"] == [
        {"type": "text", "text": "You are terse", "cache_control": {"type": "ephemeral"}}
    ]
    [row] = attempts(isolated_home)
    assert (row["input_tokens"], row["cache_read_tokens"], row["cache_write_tokens"]) == (
        30,
        2000,
        500,
    )
    assert row["output_tokens"] == 40
    # sonnet 4.6: $3 in, $0.30 cache read, $3.75 cache write, $15 out per 1M
    assert row["cost_micros"] == 90 + 600 + 1875 + 600


def test_gemini_counts_thinking_as_output(run, provider, isolated_home):
    provider.queue(Reply(input=100, output=300, reasoning=200))
    out = run("run", "-m", "gemini-2.5-flash", "hi")
    assert out.exit_code == 0, out.stderr
    assert out.stdout == "Hello, world.\n"
    sent = provider.requests[0]
    assert sent["path"] == "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert sent["headers"]["x-goog-api-key"] == GEMINI_KEY
    [row] = attempts(isolated_home)
    assert (row["input_tokens"], row["output_tokens"], row["reasoning_tokens"]) == (100, 300, 200)


def test_a_local_endpoint_is_free_and_needs_no_key(run, provider, isolated_home):
    out = run("run", "-m", "ollama/qwen3:8b", "hi")
    assert out.exit_code == 0, out.stderr
    assert "authorization" not in provider.requests[0]["headers"]
    [row] = attempts(isolated_home)
    assert (row["model"], row["tier"], row["cost_micros"]) == ("qwen3:8b", "local", 0)


def test_the_task_type_picks_the_tier_and_model(run, provider, isolated_home):
    out = run("run", "--task", "test", "write tests for parse_duration")
    assert out.exit_code == 0, out.stderr
    [row] = attempts(isolated_home)
    assert (row["task_type"], row["tier"]) == ("test", "small")
    assert load_price_table(shipped_dir()).resolve(row["model"]).tier == "small"
    assert "small" in out.stderr.splitlines()[0]


def test_stdin_comes_before_the_argument(run, provider):
    assert run("run", "-m", "gpt-5-mini", "summarise this", input="notes\n").exit_code == 0
    content = provider.requests[0]["body"]["messages"][0]["content"]
    assert content == "notes\n\nsummarise this"


def test_json_output(run, provider):
    provider.queue(Reply(status=429, kind="status", headers={"retry-after": "0"}), Reply())
    body = json.loads(run("run", "-m", "gpt-5-mini", "hi", "--json").stdout)
    assert body["answer"] == "Hello, world."
    assert body["model"] == "gpt-5-mini" and body["usage"]["input_tokens"] == 12
    assert [a["status"] for a in body["attempts"]] == ["error", "ok"]
    assert body["attempts"][0]["error_kind"] == "rate_limit"
    assert body["task_id"].startswith("t-")


def test_dry_run_sends_nothing_and_hides_the_key(run, provider, isolated_home):
    out = run("run", "-m", "claude-sonnet-4-6", "hi", "--dry-run")
    assert out.exit_code == 0
    assert provider.requests == []
    assert "x-api-key: [redacted]" in out.stdout and "/v1/messages" in out.stdout
    assert not (isolated_home / "ledger.db").exists()
    assert_no_secret(isolated_home, out.stdout, out.stderr)


def test_tokenroute_task_groups_runs(run, provider, isolated_home, monkeypatch):
    task_id = run("task", "start", "--type", "code").stdout.strip()
    monkeypatch.setenv("TOKENROUTE_TASK", task_id)
    run("run", "-m", "gpt-5-mini", "one")
    run("run", "-m", "gpt-5-mini", "two")
    rows = attempts(isolated_home)
    assert [r["task_id"] for r in rows] == [task_id, task_id]
    assert [r["attempt"] for r in rows] == [1, 2]
    assert task_outcomes(isolated_home) == ["unknown"]  # the task's owner ends it


# ---------------------------------------------------------------- faults and retries


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        (Reply(kind="status", status=429, headers={"retry-after": "0"}), "rate_limit"),
        (Reply(kind="status", status=500), "server"),
        (Reply(kind="status", status=503), "server"),
        (Reply(kind="malformed"), "malformed"),
        (Reply(kind="reset"), "connection"),
    ],
    ids=["429", "500", "503", "malformed-json", "reset-mid-stream"],
)
def test_a_passing_fault_is_retried_and_every_attempt_logged(
    run, provider, isolated_home, fault, kind
):
    provider.queue(fault, Reply(output=9))
    out = run("run", "-m", "gpt-5-mini", "hi", "--no-stream")
    assert out.exit_code == 0, out.stderr
    assert out.stdout == "Hello, world.\n"  # one clean answer, even after a cut stream
    first, second = attempts(isolated_home)
    assert (first["status"], first["error_kind"]) == ("error", kind)
    assert (second["status"], second["output_tokens"]) == ("ok", 9)
    assert len(provider.requests) == 2
    assert task_outcomes(isolated_home) == ["success"]
    assert_no_secret(isolated_home, out.stdout, out.stderr)


def test_an_error_before_any_byte_costs_nothing_a_cut_stream_is_estimated(
    run, provider, isolated_home
):
    provider.queue(Reply(kind="status", status=500), Reply(kind="reset"), Reply())
    assert run("run", "-m", "gpt-5-mini", "hi", "--no-stream").exit_code == 0
    failed, cut, _ = attempts(isolated_home)
    assert (failed["input_tokens"], failed["output_tokens"], failed["cost_micros"]) == (0, 0, 0)
    assert cut["input_estimated"] == 1 and cut["input_tokens"] > 0 and cut["output_tokens"] > 0


def test_anthropic_overloaded_529_and_an_error_inside_the_stream(run, provider, isolated_home):
    provider.queue(
        Reply(kind="status", status=529, message="Overloaded"), Reply(kind="stream_error"), Reply()
    )
    out = run("run", "-m", "claude-haiku-4-5", "hi", "--no-stream")
    assert out.exit_code == 0, out.stderr
    assert [r["error_kind"] for r in attempts(isolated_home)] == ["overloaded", "overloaded", None]


def test_a_slow_first_byte_times_out_and_is_retried(run, provider, isolated_home):
    provider.queue(Reply(delay=1.5), Reply())
    out = run("run", "-m", "gpt-5-mini", "hi", "--timeout", "0.3")
    assert out.exit_code == 0, out.stderr
    assert [r["error_kind"] for r in attempts(isolated_home)] == ["timeout", None]


def test_retries_run_out(run, provider, isolated_home):
    provider.queue(*[Reply(kind="status", status=500, message="boom")] * 3)
    out = run("run", "-m", "gpt-5-mini", "hi", "--retries", "2")
    assert_one_line_error(out, ExitCode.PROVIDER, "openai: HTTP 500 boom")
    rows = attempts(isolated_home)
    assert [r["status"] for r in rows] == ["error"] * 3
    assert task_outcomes(isolated_home) == ["failure"]
    assert out.stdout == ""


def test_retry_after_longer_than_max_wait_is_not_waited_for(run, provider, isolated_home):
    provider.queue(Reply(kind="status", status=429, headers={"retry-after": "120"}))
    started = time.monotonic()
    out = run("run", "-m", "gpt-5-mini", "hi")
    assert_one_line_error(out, ExitCode.PROVIDER, "asks to wait 120 s")
    assert time.monotonic() - started < 10
    assert len(attempts(isolated_home)) == 1


def test_a_rejected_key_is_not_retried_and_never_echoed(run, provider, isolated_home):
    provider.queue(
        Reply(kind="status", status=401, message=f"Incorrect API key provided: {OPENAI_KEY}")
    )
    out = run("run", "-m", "gpt-5-mini", "hi")
    assert_one_line_error(out, ExitCode.PROVIDER, "HTTP 401", "tokenroute keys list")
    assert len(provider.requests) == 1
    assert attempts(isolated_home)[0]["error_kind"] == "auth"
    assert_no_secret(isolated_home, out.stdout, out.stderr)


def test_a_missing_usage_block_is_estimated_and_said(run, provider, isolated_home):
    provider.queue(Reply(kind="no_usage"))
    out = run("run", "-m", "gpt-5-mini", "hi")
    assert out.exit_code == 0
    [row] = attempts(isolated_home)
    assert row["input_estimated"] == 1 and row["output_tokens"] > 0
    assert "sent no usage: tokens estimated" in out.stderr


# ---------------------------------------------------------------- validation, escalation


def test_expect_json_retries_an_invalid_answer(run, provider, isolated_home):
    provider.queue(Reply(text=("not json",)), Reply(text=("```json\n", '{"a": 1}', "\n```")))
    out = run("run", "-m", "gpt-5-mini", "give json", "--expect", "json")
    assert out.exit_code == 0, out.stderr
    assert json.loads(out.stdout) == {"a": 1}
    assert [r["status"] for r in attempts(isolated_home)] == ["invalid", "ok"]


def test_expect_json_gives_up_with_its_own_exit_code(run, provider):
    provider.queue(*[Reply(text=("nope",))] * 2)
    out = run("run", "-m", "gpt-5-mini", "x", "--expect", "json", "--retries", "1")
    assert_one_line_error(out, ExitCode.INVALID_ANSWER, "not valid JSON")
    assert out.stdout == ""


def test_escalation_moves_up_a_tier_after_retries(run, provider, isolated_home):
    provider.queue(*[Reply(kind="status", status=500)] * 2)
    out = run("run", "--tier", "small", "--escalate", "--retries", "1", "hi")
    assert out.exit_code == 0, out.stderr
    rows = attempts(isolated_home)
    assert [r["tier"] for r in rows] == ["small", "small", "mid"]
    assert [r["status"] for r in rows] == ["error", "error", "ok"]
    assert "escalating to" in out.stderr


def test_max_cost_refuses_before_sending(run, provider, isolated_home):
    out = run("run", "-m", "claude-opus-4-6", "hi", "--max-cost", "0.000001")
    assert_one_line_error(out, ExitCode.OVER_BUDGET, "over --max-cost")
    assert provider.requests == []


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["run", "-m", "no-such-model", "hi"], ExitCode.NOT_FOUND, "unknown model 'no-such-model'"),
        (["run", "--task", "poetry", "hi"], ExitCode.USAGE, "--task must be auto or one of"),
        (["run", "--expect", "xml", "hi"], ExitCode.USAGE, "--expect takes json"),
        (["run", "--max-cost", "cheap", "hi"], ExitCode.USAGE, "--max-cost must be an amount"),
        (["run", "--tier", "huge", "hi"], ExitCode.USAGE, "tier"),
        (["run"], ExitCode.USAGE, "give a prompt"),
    ],
)
def test_bad_run_input(run, provider, args, code, message):
    assert_one_line_error(run(*args), code, message)
    assert provider.requests == []


def test_no_key_says_how_to_set_one(run, isolated_home):
    out = run("run", "-m", "claude-sonnet-4-6", "hi")
    assert_one_line_error(
        out,
        ExitCode.USAGE,
        "no API key for anthropic: set ANTHROPIC_API_KEY or run 'tokenroute keys set anthropic'",
    )


def test_a_broken_config_names_the_setting(run, isolated_home):
    write(isolated_home / "config.yaml", "retries: many\n")
    assert_one_line_error(run("run", "hi"), ExitCode.BAD_INPUT, "retries must be a whole number")
    write(isolated_home / "config.yaml", "endpoints:\n  mine: {base_url: 'ftp://x'}\n")
    assert_one_line_error(run("run", "hi"), ExitCode.BAD_INPUT, "endpoints: mine: base_url")


def signalled_mid_stream(provider: FakeProvider, signum: int) -> tuple[int, bytes]:
    """`run` as its own process, sent `signum` once its answer has begun to stream:
    (exit code, stderr)."""
    provider.queue(Reply(kind="stall", text=("partial answer ",) * 3))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    process = subprocess.Popen(
        [sys.executable, "-m", "tokenroute", "run", "-m", "gpt-5-mini", "hi"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdout.read(8) == b"partial "  # the stream has begun
    process.send_signal(signum)
    _, err = process.communicate(timeout=20)
    return process.returncode, err


def test_ctrl_c_mid_stream_records_a_cancelled_attempt(provider, isolated_home, tmp_path):
    import signal

    code, err = signalled_mid_stream(provider, signal.SIGINT)
    assert code == ExitCode.INTERRUPTED, err
    assert b"Traceback" not in err
    [row] = attempts(isolated_home)
    assert (row["status"], row["error_kind"], row["input_estimated"]) == (
        "cancelled",
        "interrupted",
        1,
    )
    assert row["output_tokens"] > 0


@pytest.mark.parametrize(
    ("signum", "code", "name"),
    [(15, ExitCode.TERMINATED, "SIGTERM"), (1, ExitCode.HUNG_UP, "SIGHUP")],
)
def test_sigterm_or_sighup_mid_stream_is_handled_as_ctrl_c(
    provider, isolated_home, signum, code, name
):
    """`timeout`, `kill`, a cancelled CI job and a closed terminal: the tokens were billed,
    so the attempt is recorded as cancelled, and the exit code says which signal."""
    exit_code, err = signalled_mid_stream(provider, signum)
    assert exit_code == code, err
    assert err.decode().strip().splitlines()[-1] == f"tokenroute: error: stopped by {name}"
    [row] = attempts(isolated_home)
    assert (row["status"], row["error_kind"]) == ("cancelled", "interrupted")


@pytest.mark.parametrize("args", [["prices"], ["log"], ["pick", "--explain-policy"]])
def test_a_closed_stdout_ends_quietly_with_success(isolated_home, args):
    """`tokenroute prices | head -1`: the reader had enough; that is no error."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    process = subprocess.Popen(
        [sys.executable, "-m", "tokenroute", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    process.stdout.close()  # closed before the command writes a byte
    err = process.stderr.read()
    assert process.wait(timeout=20) == 0, err
    assert b"error" not in err and b"Exception" not in err


# ---------------------------------------------------------------- keys


def test_keys_set_list_remove(run, isolated_home):
    out = run("keys", "set", "xai", input="xai-SECRETKEY0123456789\n")
    assert out.exit_code == 0, out.stderr
    path = isolated_home / "keys.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    listed = run("keys", "list", "--json")
    assert "xai-SECRETKEY" not in listed.stdout + out.stdout + out.stderr
    rows = {r["endpoint"]: r for r in json.loads(listed.stdout)["keys"]}
    assert (
        rows["xai"]["key_source"] == "keys file"
        and rows["ollama"]["key_source"] == "not needed (local)"
    )
    assert run("keys", "remove", "xai").exit_code == 0
    assert json.loads(path.read_text()) == {}
    assert_one_line_error(run("keys", "remove", "xai"), ExitCode.NOT_FOUND, "no stored key")
    assert_one_line_error(run("keys", "set", "nope", input="k\n"), ExitCode.USAGE, "no endpoint")
    assert_one_line_error(run("keys", "set", "xai", input="\n"), ExitCode.BAD_INPUT, "empty")


def test_a_stored_key_is_used(run, provider, isolated_home, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    run("keys", "set", "openai", input="sk-stored-0123456789\n")
    assert run("run", "-m", "gpt-5-mini", "hi").exit_code == 0
    assert provider.requests[0]["headers"]["authorization"] == "Bearer sk-stored-0123456789"


def test_config_show_and_path(run, provider, isolated_home):
    assert run("config", "path").stdout.strip() == str(isolated_home / "config.yaml")
    shown = json.loads(run("config", "show", "--json").stdout)["config"]
    assert shown["retries"] == 2 and shown["retry_base"] == 0.01
    assert shown["endpoints"]["google"]["base_url"] == provider.url
    # OPENAI_BASE_URL is in force (the fixture points it at the local server), and shown
    assert shown["endpoints"]["openai"]["base_url"] == provider.url + "/v1"
    listed = {r["endpoint"]: r for r in json.loads(run("keys", "list", "--json").stdout)["keys"]}
    assert listed["openai"]["base_url"] == provider.url + "/v1"


# ---------------------------------------------------------------- budgets


def spend(run, model: str, usd_in_tokens: int, **fields) -> None:
    line = {"model": model, "input_tokens": usd_in_tokens, "output_tokens": 0, **fields}
    assert run("record", input=json.dumps(line)).exit_code == 0


def test_a_budget_refuses_a_run_that_would_break_it(run, provider, isolated_home):
    assert run("budget", "set", "--daily", "1").exit_code == 0
    spend(run, "claude-opus-4-6", 199_000)  # $0.995 of input at $5 per 1M
    out = run("run", "-m", "claude-opus-4-6", "hi")
    assert_one_line_error(out, ExitCode.OVER_BUDGET, "over budget: all spend", "$0.9950 of $1")
    assert provider.requests == []


def test_a_downgrading_budget_moves_to_a_cheaper_tier_and_warns_near_the_limit(
    run, provider, isolated_home
):
    run("budget", "set", "--daily", "0.02", "--task-type", "code", "--downgrade")
    spend(run, "gpt-5-nano", 320_000, task_type="code")  # $0.016 at $0.05 per 1M
    out = run("run", "--task", "code", "implement the endpoint")
    assert out.exit_code == 0, out.stderr
    rows = attempts(isolated_home)
    assert rows[-1]["tier"] in ("small", "economy")
    assert "downgraded by a budget" in out.stderr
    assert "warning: budget task-type code" in out.stderr


def test_report_shows_the_budget_burn(run, isolated_home):
    run("budget", "set", "--daily", "2", "--project", "billing")
    spend(run, "gpt-5-nano", 10_000_000, project="billing")  # $0.50
    body = json.loads(run("report", "--json").stdout)
    [burn] = body["budgets"]
    assert (burn["value"], burn["period"], burn["share"]) == ("billing", "day", 0.25)
    assert "project billing: $0.5000 of $2.00 this day (25%)" in run("report").stdout


def test_the_policy_can_turn_escalation_on(run, provider, isolated_home):
    from tokenroute.advisor.policy import DEFAULT_POLICY

    policy = DEFAULT_POLICY.read_text().replace("escalate: false", "escalate: true")
    write(isolated_home / "policy.yaml", policy)
    provider.queue(*[Reply(kind="status", status=500)] * 3)
    out = run("run", "--tier", "small", "--retries", "2", "hi")
    assert out.exit_code == 0, out.stderr
    assert [r["tier"] for r in attempts(isolated_home)] == ["small"] * 3 + ["mid"]


def test_budget_list_shows_the_burn(run, isolated_home):
    run("budget", "set", "--daily", "2", "--monthly", "10")
    spend(run, "gpt-5-nano", 10_000_000)  # $0.50
    body = json.loads(run("budget", "list", "--json").stdout)
    burn = {b["period"]: b for b in body["budgets"]}
    assert burn["day"]["cost_usd"] == pytest.approx(0.5) and burn["day"]["share"] == 0.25
    assert burn["month"]["limit_usd"] == 10
    assert "25%" in run("budget", "list").stdout
    assert run("budget", "remove").exit_code == 0
    assert json.loads(run("budget", "list", "--json").stdout)["budgets"] == []


def test_budget_burn_marks_spend_it_could_not_price(run, isolated_home):
    run("budget", "set", "--daily", "2")
    spend(run, "gpt-5-nano", 10_000_000)  # $0.50
    spend(run, "mystery-model-9", 10_000_000)  # not in the price table
    listed = run("budget", "list")
    assert "$0.5000+?" in listed.stdout and "25%+?" in listed.stdout
    assert "1 call(s) have no known price, so the limit may already be passed" in listed.stderr
    [burn] = json.loads(run("budget", "list", "--json").stdout)["budgets"]
    assert (burn["cost_usd"], burn["unpriced_attempts"]) == (0.5, 1)
    assert "all spend: $0.5000+? of $2.00 this day (25%+?)" in run("report").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["budget", "set"], "give --daily"),
        (["budget", "set", "--daily", "-3"], "--daily must be an amount"),
        (["budget", "set", "--daily", "1", "--tag", "a", "--project", "b"], "one of --task-type"),
        (["budget", "set", "--daily", "1", "--task-type", "poetry"], "--task-type must be one"),
    ],
)
def test_bad_budget_input(run, args, message):
    assert_one_line_error(run(*args), ExitCode.USAGE, message)


def test_removing_a_missing_budget(run):
    assert_one_line_error(run("budget", "remove", "--tag", "x"), ExitCode.NOT_FOUND, "no such")


def test_schema_checks_the_answer(run, provider, isolated_home, tmp_path):
    schema = write(
        tmp_path / "invoice.json",
        json.dumps(
            {"type": "object", "required": ["total"], "properties": {"total": {"type": "number"}}}
        ),
    )
    provider.queue(Reply(text=('{"total": "12"}',)), Reply(text=('{"total": 12.5}',)))
    out = run("run", "-m", "gpt-5-mini", "extract", "--schema", str(schema))
    assert out.exit_code == 0, out.stderr
    assert json.loads(out.stdout) == {"total": 12.5}
    rows = attempts(isolated_home)
    assert [(r["status"], r["error_kind"]) for r in rows] == [("invalid", "schema"), ("ok", None)]
    assert "breaks the schema at $.total" in out.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [("{not json", "the schema is not JSON"), ('{"type": 12}', "not a valid JSON Schema")],
)
def test_a_bad_schema_file(run, provider, tmp_path, text, message):
    schema = write(tmp_path / "s.json", text)
    out = run("run", "-m", "gpt-5-mini", "x", "--schema", str(schema))
    assert_one_line_error(out, ExitCode.BAD_INPUT, message)
    assert provider.requests == []


# ---------------------------------------------------------------- doctor


def test_doctor_checks_keys_prices_ledger_and_endpoints(run, provider, isolated_home):
    out = run("doctor", "--network", "--json")
    assert out.exit_code == 0, out.stdout
    checks = {(c["area"], c["name"]): c for c in json.loads(out.stdout)["checks"]}
    assert checks[("keys", "openai")]["status"] == "ok"
    assert checks[("keys", "xai")]["status"] == "warn"
    assert checks[("prices", "table")]["status"] == "ok"
    assert checks[("endpoint", "openai")]["detail"] == "answers"
    assert ("endpoint", "ollama") not in checks  # local servers only with --local
    paths = {r["path"] for r in provider.requests}
    assert {"/v1/models", "/v1beta/models"} <= paths


def test_doctor_local_needs_one_local_server_not_every_one(run, provider, isolated_home):
    out = run("doctor", "--local", "--json")
    assert out.exit_code == 0, out.stdout
    checks = {(c["area"], c["name"]): c for c in json.loads(out.stdout)["checks"]}
    assert checks[("endpoint", "ollama")]["status"] == "ok"  # the fake provider answers
    assert checks[("endpoint", "vllm")]["status"] == "warn"  # nothing on its default port
    write(
        isolated_home / "config.yaml",
        "endpoints:\n  ollama: {base_url: 'http://127.0.0.1:9/v1'}\n",
    )
    out = run("doctor", "--local", "--json")
    assert out.exit_code == ExitCode.CHECK_FAILED
    failed = [c for c in json.loads(out.stdout)["checks"] if c["status"] == "fail"]
    assert [c["name"] for c in failed] == ["local"]


def test_doctor_fails_on_a_rejected_key_and_a_broken_config(run, provider, isolated_home):
    provider.queue(Reply(kind="status", status=401, message=f"bad key {ANTHROPIC_KEY}"))
    out = run("doctor", "--network")
    assert out.exit_code == ExitCode.CHECK_FAILED
    assert "HTTP 401" in out.stdout
    assert_no_secret(isolated_home, out.stdout, out.stderr)
    write(isolated_home / "config.yaml", "retries: [\n")
    out = run("doctor", "--json")
    assert out.exit_code == ExitCode.CHECK_FAILED
    failed = [c for c in json.loads(out.stdout)["checks"] if c["status"] == "fail"]
    assert failed[0]["area"] == "config" and "not valid YAML" in failed[0]["detail"]


# ---------------------------------------------------------------- conversations


def test_continue_resends_the_history_and_the_ledger_counts_it(run, provider, isolated_home):
    first = json.loads(run("run", "-m", "claude-haiku-4-5", "first question", "--json").stdout)
    provider.queue(Reply(input=40, output=5))
    out = run("run", "-c", "-m", "claude-haiku-4-5", "and a second one")
    assert out.exit_code == 0, out.stderr
    assert provider.requests[1]["body"]["messages"] == [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "Hello, world."},
        {"role": "user", "content": "and a second one"},
    ]
    one, two = attempts(isolated_home)
    assert one["conversation_id"] == two["conversation_id"] == first["conversation_id"]
    assert one["history_tokens"] == 0 and two["history_tokens"] > 0
    report = json.loads(run("report", "--json").stdout)
    [tax] = report["conversations"]
    assert tax["conversation_id"] == first["conversation_id"]
    assert tax["history_tokens"] == two["history_tokens"] and tax["attempts"] == 2
    assert "History re-read tax" in run("report").stdout
    # --cid continues a given conversation, here the same one: three turns now
    run("run", "--cid", first["conversation_id"], "-m", "claude-haiku-4-5", "third")
    assert len(provider.requests[2]["body"]["messages"]) == 5


def test_continue_without_a_conversation(run, provider):
    assert_one_line_error(
        run("run", "-c", "-m", "gpt-5-mini", "hi"), ExitCode.USAGE, "no conversation to continue"
    )
    assert_one_line_error(
        run("run", "--cid", "c-nope", "-m", "gpt-5-mini", "hi"),
        ExitCode.NOT_FOUND,
        "no conversation 'c-nope'",
    )
    assert provider.requests == []


def test_local_first_uses_a_running_server_and_escalates_to_the_paid_model(
    run, provider, isolated_home
):
    # every local endpoint answers at the fake server: the first listed is used
    provider.queue(Reply(), Reply(kind="status", status=500), Reply())
    out = run("run", "--local", "--task", "format", "--retries", "0", "sort these lines")
    assert out.exit_code == 0, out.stderr
    rows = attempts(isolated_home)
    assert [(r["tier"], r["status"]) for r in rows] == [("local", "error"), ("economy", "ok")]
    assert rows[0]["model"] == "some-model" and rows[0]["cost_micros"] == 0
    assert "local first" in out.stderr


def test_local_first_skips_a_server_that_does_not_answer(run, provider, isolated_home):
    write(isolated_home / "config.yaml", "retry_base: 0.01\n")  # local servers at their defaults
    out = run("run", "--local", "--task", "format", "sort these lines")
    assert out.exit_code == 0, out.stderr
    assert [r["tier"] for r in attempts(isolated_home)] == ["economy"]


# ---------------------------------------------------------------- found in review


def test_a_key_with_a_stray_line_ending_works_and_a_bad_key_is_one_line(
    run, provider, isolated_home, monkeypatch
):
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY + "\r\n")  # a .env file saved on Windows
    assert run("run", "-m", "gpt-5-mini", "hi").exit_code == 0
    assert provider.requests[0]["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY + "\u201d")  # a pasted smart quote
    out = run("run", "-m", "gpt-5-mini", "hi")
    assert_one_line_error(out, ExitCode.USAGE, "the key for openai (from $OPENAI_API_KEY)")
    assert_no_secret(isolated_home, out.stdout, out.stderr)


def test_xai_reasoning_is_billed_and_mistral_gets_no_stream_options(
    run, provider, isolated_home, monkeypatch
):
    write(
        isolated_home / "config.yaml",
        f"endpoints:\n  xai: {{base_url: '{provider.url}/v1'}}\n"
        f"  mistral: {{base_url: '{provider.url}/v1'}}\n",
    )
    monkeypatch.setenv("XAI_API_KEY", "xai-test-0123456789")
    monkeypatch.setenv("MISTRAL_API_KEY", "mistral0123456789")
    # xAI's completion_tokens leave the reasoning out: 2 visible + 387 reasoning
    provider.queue(Reply(output=2, reasoning=387))
    assert run("run", "-m", "grok-4", "hi").exit_code == 0
    [row] = attempts(isolated_home)
    assert (row["output_tokens"], row["reasoning_tokens"], row["input_estimated"]) == (389, 387, 0)
    assert run("run", "-m", "mistral-medium-2508", "hi").exit_code == 0
    assert "stream_options" not in provider.requests[1]["body"]


def test_a_chunk_of_the_wrong_shape_is_a_malformed_try(run, provider, isolated_home):
    provider.queue(Reply(kind="odd"), Reply())
    out = run("run", "-m", "gpt-5-mini", "hi", "--no-stream")
    assert out.exit_code == 0, out.stderr
    assert [r["error_kind"] for r in attempts(isolated_home)] == ["malformed", None]


def test_max_cost_also_caps_retries(run, provider, isolated_home):
    provider.queue(*[Reply(text=("nope",), output=1000)] * 3)  # $0.025 each on opus
    out = run(
        "run",
        "-m",
        "claude-opus-4-6",
        "x",
        "--expect",
        "json",
        "--max-tokens",
        "1000",
        "--max-cost",
        "0.04",
    )
    assert_one_line_error(out, ExitCode.OVER_BUDGET, "another try on claude-opus-4-6")
    assert [r["status"] for r in attempts(isolated_home)] == ["invalid"]


def test_continue_skips_a_failed_run(run, provider, isolated_home):
    first = json.loads(run("run", "-m", "gpt-5-mini", "one", "--json").stdout)
    provider.queue(*[Reply(kind="status", status=500)] * 3)
    assert run("run", "-m", "gpt-5-mini", "two").exit_code == ExitCode.PROVIDER
    assert run("run", "-c", "-m", "gpt-5-mini", "three").exit_code == 0
    assert attempts(isolated_home)[-1]["conversation_id"] == first["conversation_id"]


def test_a_budget_refuses_rather_than_swaps_a_named_model(run, provider, isolated_home):
    run("budget", "set", "--daily", "0.0001", "--downgrade")
    out = run("run", "-m", "claude-opus-4-6", "hi")
    assert_one_line_error(out, ExitCode.OVER_BUDGET, "over budget")
    assert provider.requests == []


def test_a_local_endpoint_is_free_even_for_a_priced_name(run, provider, isolated_home):
    assert run("run", "-m", "ollama/gpt-5-mini", "hi").exit_code == 0
    assert attempts(isolated_home)[0]["cost_micros"] == 0


def test_gemini_errors_in_the_stream_are_retried_and_a_blocked_prompt_is_not(
    run, provider, isolated_home
):
    provider.queue(Reply(kind="stream_error"), Reply())
    assert run("run", "-m", "gemini-2.5-flash", "hi").exit_code == 0
    provider.queue(Reply(kind="blocked"))
    out = run("run", "-m", "gemini-2.5-flash", "hi")
    assert_one_line_error(out, ExitCode.PROVIDER, "the prompt was blocked (SAFETY)")
    kinds = [r["error_kind"] for r in attempts(isolated_home)]
    assert kinds == ["stream_error", None, "blocked"]


def test_an_answer_cut_at_the_length_limit_is_said(run, provider):
    provider.queue(Reply(stop="length"))
    out = run("run", "-m", "gpt-5-mini", "hi")
    assert out.exit_code == 0
    assert "stopped early (length)" in out.stderr and "--max-tokens" in out.stderr


def test_dry_run_needs_no_key(run, isolated_home):
    out = run("run", "-m", "gpt-5-mini", "hi", "--dry-run")
    assert out.exit_code == 0, out.stderr
    assert "POST https://api.openai.com/v1/chat/completions" in out.stdout


def test_budgets_are_kept_on_retries_too(run, provider, isolated_home):
    run("budget", "set", "--daily", "0.04")
    provider.queue(*[Reply(text=("nope",), output=1000)] * 3)  # $0.025 each on opus
    out = run(
        "run",
        "-m",
        "claude-opus-4-6",
        "x",
        "--expect",
        "json",
        "--max-tokens",
        "1000",
    )
    assert_one_line_error(out, ExitCode.OVER_BUDGET, "another try on claude-opus-4-6: over budget")
    assert [r["status"] for r in attempts(isolated_home)] == ["invalid"]


# ---------------------------------------------------------------- hostile servers


@pytest.mark.parametrize("kind", ["trickle", "drip"])
def test_a_trickling_stream_is_cut_at_the_deadline_not_held_forever(
    run, provider, isolated_home, kind
):
    """Keep-alives (or single bytes) every 0.2 s defeat a per-byte timeout; the whole try
    has a deadline."""
    provider.queue(Reply(kind=kind), Reply())
    out = run("run", "-m", "gpt-5-mini", "hi", "--deadline", "1", "--no-stream")
    assert out.exit_code == 0, out.stderr
    assert out.stdout == "Hello, world.\n"
    assert [r["error_kind"] for r in attempts(isolated_home)] == ["timeout", None]
    assert "longer than 1 s (--deadline)" in out.stderr


@pytest.mark.parametrize(
    ("fault", "kind"),
    [(Reply(kind="page"), "malformed"), (Reply(text=(1, 2)), "malformed")],
    ids=["html-page-with-200", "text-that-is-a-number"],
)
def test_a_body_of_the_wrong_kind_is_a_malformed_try(run, provider, isolated_home, fault, kind):
    provider.queue(fault, Reply())
    out = run("run", "-m", "gpt-5-mini", "hi", "--no-stream")
    assert out.exit_code == 0, out.stderr
    assert [r["error_kind"] for r in attempts(isolated_home)] == [kind, None]
    assert len(provider.requests) == 2  # one row per request the server saw


def test_a_retried_cut_stream_starts_the_new_answer_on_its_own_line(run, provider, isolated_home):
    provider.queue(Reply(kind="reset", text=("The answer", " is", " cut")), Reply())
    out = run("run", "-m", "gpt-5-mini", "hi")
    assert out.exit_code == 0, out.stderr
    assert out.stdout == "The answer is\nHello, world.\n"


def test_a_malformed_base_url_is_one_line_naming_the_setting_not_the_password(
    run, provider, isolated_home, monkeypatch
):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://user:PW-hunter2@127.0.0.1:99999/v1")
    out = run("run", "-m", "gpt-5-mini", "hi")
    assert_one_line_error(out, ExitCode.BAD_INPUT, "$OPENAI_BASE_URL is not a usable address")
    assert "hunter2" not in out.stdout + out.stderr
    assert provider.requests == []


def test_a_refused_local_connection_is_not_retried(run, isolated_home):
    import socket

    with socket.socket() as probe:  # bound, never listening: refused, and no one else's
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        write(
            isolated_home / "config.yaml",
            f"retry_base: 0.01\nendpoints:\n  ollama: {{base_url: 'http://127.0.0.1:{port}/v1'}}\n",
        )
        out = run("run", "-m", "ollama/llama3", "hi", "--retries", "3")
    assert_one_line_error(out, ExitCode.PROVIDER, "is the server running?")
    assert "retrying" not in out.stderr


def test_a_failed_run_with_json_prints_the_attempts_and_the_error(run, provider, isolated_home):
    provider.queue(*[Reply(text=("not json",), output=4)] * 2)
    out = run("run", "-m", "gpt-5-mini", "x", "--expect", "json", "--retries", "1", "--json")
    assert out.exit_code == ExitCode.INVALID_ANSWER
    assert out.stderr.count("tokenroute: error:") == 1
    body = json.loads(out.stdout)
    assert body["ok"] is False and body["error"]["exit_code"] == ExitCode.INVALID_ANSWER
    assert body["answer"] == "not json"  # the invalid answer is kept, not lost
    assert body["error"]["kind"] == "invalid_answer"
    assert [a["status"] for a in body["attempts"]] == ["invalid", "invalid"]
    assert body["cost_usd"] > 0
    provider.queue(*[Reply(kind="status", status=500)] * 2)
    out = run("run", "-m", "gpt-5-mini", "x", "--retries", "1", "--json")
    body = json.loads(out.stdout)
    assert out.exit_code == ExitCode.PROVIDER and body["error"]["kind"] == "server"
    assert body["answer"] is None and len(body["attempts"]) == 2


# ---------------------------------------------------------------- what is kept


def messages(home: Path) -> list[str]:
    with ledger_db(home) as conn:
        return [r[0] for r in conn.execute("SELECT content FROM messages ORDER BY turn, role")]


def test_no_store_keeps_only_hashes_and_forget_removes_kept_text(
    run, provider, isolated_home, monkeypatch
):
    provider.queue(Reply(text=("kept answer",)), Reply(text=("unkept answer",)))
    assert run("run", "-m", "gpt-5-mini", "PROMPT-KEPT-1").exit_code == 0
    assert run("run", "-m", "gpt-5-mini", "PROMPT-UNKEPT-2", "--no-store").exit_code == 0
    assert messages(isolated_home) == ["kept answer", "PROMPT-KEPT-1"]
    hashes = [r["prompt_hash"] for r in attempts(isolated_home)]
    assert all(hashes) and len(set(hashes)) == 2  # both runs keep their prompt's hash
    out = run("forget", "--before", "2026-11-24", "--dry-run", "--json")
    assert json.loads(out.stdout)["turns"] == 1 and messages(isolated_home)
    out = run("forget", "--before", "2026-11-24")
    assert out.exit_code == 0 and "forgot the text of 1 turn(s)" in out.stderr
    assert messages(isolated_home) == []
    assert len(attempts(isolated_home)) == 2  # what it cost stays
    blob = b"".join(p.read_bytes() for p in isolated_home.glob("ledger.db*"))
    assert b"PROMPT-KEPT-1" not in blob and b"kept answer" not in blob


def test_store_text_false_in_the_config_keeps_no_text(run, provider, isolated_home):
    config = isolated_home / "config.yaml"
    write(config, config.read_text() + "store_text: false\n")
    provider.queue(Reply())
    assert run("run", "-m", "gpt-5-mini", "secret plans").exit_code == 0
    assert messages(isolated_home) == []
    write(config, config.read_text() + "store_text: maybe\n")
    out = run("run", "-m", "gpt-5-mini", "hi")
    assert_one_line_error(out, ExitCode.BAD_INPUT, "store_text must be true or false")


def test_a_password_holding_an_at_sign_is_hidden_whole():
    from tokenroute.dispatch.providers.base import redact, shown_url

    assert shown_url("http://u:p@ss@127.0.0.1:9/v1?key=abc") == "http://***@127.0.0.1:9/v1?key=***"
    said = redact("HTTP 502 from http://u:p@ss@proxy/v1?key=sk-abc&x=1")
    assert "p@ss" not in said and "sk-abc" not in said and "ss@" not in said
