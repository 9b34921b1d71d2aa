"""Who made each call: attempts carry a user and a host (--user, TOKENROUTE_USER, the
config's `user`, the login name; TOKENROUTE_HOST or the machine's name), and the report
groups by them."""

from __future__ import annotations

import json

from claude_logs import write_tree
from conftest import assert_one_line_error, write
from test_ccusage_buckets import END

from tokenroute.errors import ExitCode


def record(run, *args: str, task: str = "A", tokens: int = 100) -> None:
    line = {"model": "gpt-5", "input_tokens": tokens, "output_tokens": 10, "task_id": task}
    out = run(*args, "record", input=json.dumps(line) + "\n")
    assert out.exit_code == 0, out.stderr


def who(run) -> list[tuple[str, str]]:
    rows = json.loads(run("log", "--json").stdout)["attempts"]
    return [(r["user_name"], r["host_name"]) for r in reversed(rows)]


def test_the_user_comes_from_the_flag_the_environment_the_config_or_the_login(
    run, monkeypatch, isolated_home
):
    monkeypatch.setenv("TOKENROUTE_HOST", "build-7")
    monkeypatch.setenv("LOGNAME", "login-name")
    monkeypatch.delenv("TOKENROUTE_USER", raising=False)
    record(run)
    write(isolated_home / "config.yaml", "user: from-config\n")
    record(run)
    monkeypatch.setenv("TOKENROUTE_USER", "from-env")
    record(run)
    record(run, "--user", "from-flag")
    assert who(run) == [
        ("login-name", "build-7"),
        ("from-config", "build-7"),
        ("from-env", "build-7"),
        ("from-flag", "build-7"),
    ]


def test_report_by_user_and_host_counts_each_persons_calls(run, monkeypatch):
    monkeypatch.setenv("TOKENROUTE_HOST", "laptop")
    record(run, "--user", "alice", tokens=1000)
    record(run, "--user", "bob", tokens=3000)  # the same task: both worked on it
    record(run, "--user", "bob", task="B", tokens=500)
    monkeypatch.setenv("TOKENROUTE_HOST", "ci")
    record(run, "--user", "bob", task="C", tokens=200)
    body = json.loads(run("report", "--by", "user,host", "--json").stdout)
    groups = {tuple(g["key"].values()): g for g in body["groups"]}
    assert set(groups) == {("alice", "laptop"), ("bob", "laptop"), ("bob", "ci")}
    assert groups[("bob", "laptop")]["input_tokens"] == 3500
    assert groups[("bob", "laptop")]["attempts"] == 2 and groups[("bob", "laptop")]["tasks"] == 2
    assert groups[("alice", "laptop")]["tasks"] == 1  # task A is alice's and bob's
    assert body["total"]["attempts"] == 4 and body["total"]["input_tokens"] == 4700
    spend = sum(g["cost_usd"] for g in body["groups"])
    assert abs(spend - body["total"]["cost_usd"]) < 1e-9  # each attempt in one group
    table = run("report", "--by", "user").stdout.split("\n\n")[0].splitlines()
    assert table[0].split()[:2] == ["user", "spend"] and table[1].split()[0] == "bob"


def test_an_import_is_the_importing_persons(run, tmp_path):
    write_tree(tmp_path / "claude", end=END, sessions=2)
    out = run("--user", "carol", "import", "claude-code", "--path", str(tmp_path / "claude"))
    assert out.exit_code == 0, out.stderr
    assert {user for user, _ in who(run)} == {"carol"}


def test_a_config_user_that_is_not_a_name_is_one_line(run, isolated_home, monkeypatch):
    monkeypatch.delenv("TOKENROUTE_USER", raising=False)
    write(isolated_home / "config.yaml", "user: [a, b]\n")
    line = json.dumps({"model": "gpt-5", "input_tokens": 1, "output_tokens": 1})
    out = run("record", input=line + "\n")
    assert_one_line_error(out, ExitCode.BAD_INPUT, "user must be a name")
    assert json.loads(run("log", "--json").stdout)["attempts"] == []  # nothing half-written


def test_a_task_counts_once_per_group_of_the_grouping_asked_for(run, monkeypatch):
    """One tagged task worked on by bob on two hosts and by alice: by tag it is one task,
    by user one for each of them, by user and host one per pair."""
    line = {"model": "gpt-5", "input_tokens": 10, "output_tokens": 1, "task_id": "X", "tags": ["x"]}
    for user, host in (("bob", "laptop"), ("bob", "ci"), ("alice", "ci")):
        monkeypatch.setenv("TOKENROUTE_HOST", host)
        assert run("--user", user, "record", input=json.dumps(line) + "\n").exit_code == 0

    def tasks(by: str) -> dict[tuple, int]:
        groups = json.loads(run("report", "--by", by, "--json").stdout)["groups"]
        return {tuple(g["key"].values()): g["tasks"] for g in groups}

    assert tasks("tag") == {("x",): 1}
    assert tasks("user") == {("bob",): 1, ("alice",): 1}
    assert tasks("user,host") == {("bob", "laptop"): 1, ("bob", "ci"): 1, ("alice", "ci"): 1}


def test_an_empty_user_is_a_usage_error(run):
    line = json.dumps({"model": "gpt-5", "input_tokens": 1, "output_tokens": 1})
    assert_one_line_error(run("--user", " ", "record", input=line + "\n"), ExitCode.USAGE, "--user")
