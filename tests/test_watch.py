"""`tokenroute report --watch`: today's spend, the last attempts, budgets; live imports."""

from __future__ import annotations

import json

import pytest
from conftest import PINNED_NOW, assert_one_line_error

from tokenroute.errors import ExitCode


def claude_line(message_id: str, output: int) -> str:
    return (
        json.dumps(
            {
                "type": "assistant",
                "sessionId": "live",
                "cwd": "/home/dev/src/acme-api",
                "uuid": message_id,
                "timestamp": PINNED_NOW,
                "requestId": f"req-{message_id}",
                "message": {
                    "id": message_id,
                    "model": "claude-sonnet-4-6",
                    "usage": {"input_tokens": 10, "output_tokens": output},
                },
            }
        )
        + "\n"
    )


def test_frames_show_todays_spend_and_last_attempts(run):
    run("record", "--model", "gpt-4.1", "--input-tokens", "1000", "--output-tokens", "10")
    run("budget", "set", "--daily", "5")
    out = run("report", "--watch", "--count", "2", "--interval", "0.2")
    assert out.exit_code == 0, out.stderr
    assert out.stdout.count("tokenroute report --watch: today") == 2
    assert "gpt-4.1" in out.stdout and "task-type" in out.stdout
    assert "all spend  day     $0.002080  $5.00" in out.stdout  # the budget burn


def test_each_redraw_imports_what_the_agent_appended(run, tmp_path, monkeypatch):
    projects = tmp_path / "claude" / "projects" / "-home-dev-src-acme-api"
    projects.mkdir(parents=True)
    log = projects / "live.jsonl"
    log.write_text(claude_line("m1", 5))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    out = run("report", "--watch", "--count", "1", "--import", "claude-code")
    assert out.exit_code == 0, out.stderr
    assert "claude-sonnet-4-6" in out.stdout
    with log.open("a") as handle:
        handle.write(claude_line("m2", 7))
    run("report", "--watch", "--count", "1", "--import", "claude-code")
    totals = json.loads(run("report", "--json").stdout)["total"]
    assert totals["attempts"] == 2


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--watch", "--interval", "0"], "--interval"),
        (["--watch", "--json"], "--watch"),
        (["--watch", "--import", "cursor"], "--import must be one of"),
        (["--count", "2"], "go with --watch"),
    ],
)
def test_bad_watch_options(run, args, fragment):
    assert_one_line_error(run("report", *args), ExitCode.USAGE, fragment)


@pytest.mark.parametrize(("signum", "code"), [(2, ExitCode.OK), (15, ExitCode.TERMINATED)])
def test_ctrl_c_ends_a_live_view_quietly_but_sigterm_says_so(isolated_home, signum, code):
    """Ctrl-C is the usual way out of `report --watch`; SIGTERM (`timeout`, a CI cancel) is not."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "TOKENROUTE_HOME": str(isolated_home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tokenroute", "report", "--watch", "--interval", "0.2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    assert proc.stdout.read(5)  # the first frame is out: the loop is running
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == code, err
    assert b"Traceback" not in err


def test_pipe_frames_keep_warnings_on_stderr_once(run):
    line = json.dumps({"model": "mystery-model-9", "input_tokens": 5, "output_tokens": 5})
    assert run("record", input=line + "\n").exit_code == 0
    out = run("report", "--watch", "--count", "2", "--interval", "0.2")
    assert out.exit_code == 0
    assert "warning" not in out.stdout
    assert out.stderr.count("not in the spend") == 1
