"""Several people on one ledger at once, on both backends (a SQLite file; a PostgreSQL
database): recorders and a report side by side lose nothing, and two people importing the
same Claude Code log at once add every call once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
from claude_logs import write_tree
from test_ccusage_buckets import END

from tokenroute.storage.location import ledger_location
from tokenroute.storage.sqlite import open_ledger

pytestmark = pytest.mark.sqlite_only  # both backends already, by new_ledger


def cli(ledger: str, *args: str, user: str = "tester", stdin: str | None = None):
    env = {**os.environ, "TOKENROUTE_LEDGER": ledger, "TOKENROUTE_USER": user}
    return subprocess.Popen(
        [sys.executable, "-m", "tokenroute", *args],
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
    )  # fmt: skip


def test_sixteen_recorders_and_a_report_in_a_loop_lose_nothing(new_ledger):
    home = new_ledger()
    per_writer = 300  # each a transaction of 300 new tasks: long enough to overlap the others
    lines = "".join(
        json.dumps({"model": "gpt-5-mini", "input_tokens": i + 1, "output_tokens": 1}) + "\n"
        for i in range(per_writer)
    )
    stop = threading.Event()
    reports: list[tuple[int, str]] = []

    def report_loop() -> None:
        while not stop.is_set():
            done = cli(home, "report", "--json", "--by", "user")
            _, err = done.communicate(timeout=120)
            reports.append((done.returncode, err))

    looping = threading.Thread(target=report_loop)
    looping.start()
    writers = [cli(home, "record", user=f"user-{n}", stdin=lines) for n in range(16)]
    for proc in writers:
        proc.stdin.write(lines)
        proc.stdin.close()
    results = [(proc.wait(timeout=300), proc.stderr.read()) for proc in writers]
    stop.set()
    looping.join(timeout=300)
    assert [code for code, _ in results] == [0] * 16, results
    assert reports and all(code == 0 for code, _ in reports), reports[:3]
    ledger = open_ledger(ledger_location(home), create=False)
    assert ledger.count_attempts() == 16 * per_writer
    by_user = dict(ledger.query("SELECT user_name, COUNT(*) FROM attempts GROUP BY 1"))
    assert by_user == {f"user-{n}": per_writer for n in range(16)}
    total = json.loads(cli(home, "report", "--json").communicate(timeout=120)[0])["total"]
    assert total["attempts"] == 16 * per_writer
    assert total["input_tokens"] == 16 * sum(range(1, per_writer + 1))


def test_two_people_importing_the_same_log_at_once_add_each_call_once(tmp_path, new_ledger):
    tree = tmp_path / "claude"
    write_tree(tree, end=END, sessions=12)
    alone = new_ledger("alone")
    single = cli(alone, "import", "claude-code", "--path", str(tree / "projects"))
    assert single.wait(timeout=120) == 0, single.stderr.read()
    shared = new_ledger("shared")
    both = [
        cli(shared, "import", "claude-code", "--path", str(tree / "projects"), user=name)
        for name in ("ana", "ben")
    ]
    assert [p.wait(timeout=120) for p in both] == [0, 0], [p.stderr.read() for p in both]

    def calls(home: str) -> list[tuple]:
        ledger = open_ledger(ledger_location(home), create=False)
        return ledger.query(
            "SELECT source_key, input_tokens, output_tokens, cache_read_tokens FROM attempts "
            "ORDER BY source_key"
        )

    assert calls(shared) == calls(alone)  # every call once, whoever read it first
