"""The ledger file: WAL, migrations, refusal of foreign files, duplicates, parallel writers."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import assert_one_line_error

from tokenroute.errors import ExitCode, LedgerError
from tokenroute.models import Attempt, Task, Usage
from tokenroute.storage.schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    STATUS_CHECK_AS_COMPARISONS,
    STATUS_CHECK_AS_LIST,
    migrate,
)
from tokenroute.storage.sqlite import PAGE_SIZE, open_ledger


def attempt(task_id: str, **fields) -> tuple[Attempt, Task]:
    base = Attempt(
        started_at="2026-11-01T10:00:00.000Z",
        task_id=task_id,
        model="gpt-5",
        usage=Usage(input=10, output=5),
        cost_micros=63,
    )
    values = {**base._asdict(), **fields}
    return Attempt(**values), Task(id=task_id, created_at=values["started_at"])


def sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# What each later migration added, to take a new ledger back to an older version's shape.
UNDO = {
    6: ["ALTER TABLE usage_daily DROP COLUMN reasoning_tokens"],
    7: ["DROP TABLE export_marks"],
    8: ["ALTER TABLE attempts DROP COLUMN user_name", "ALTER TABLE attempts DROP COLUMN host_name"],
    9: ["DROP INDEX tasks_unpriced"],
    10: [
        "PRAGMA writable_schema = ON",
        "UPDATE sqlite_master SET sql = replace(sql, "
        f"{sql_text(STATUS_CHECK_AS_COMPARISONS)}, {sql_text(STATUS_CHECK_AS_LIST)}) "
        "WHERE name = 'attempts'",
        "PRAGMA writable_schema = OFF",
    ],
}


def undo_migrations_after(conn: sqlite3.Connection, version: int) -> None:
    assert max(UNDO) == SCHEMA_VERSION, "a new migration needs its undo here"
    for number in sorted(UNDO, reverse=True):
        if number > version:
            for statement in UNDO[number]:
                conn.execute(statement)


def test_a_new_ledger_is_wal_and_at_the_latest_schema(tmp_path):
    ledger = open_ledger(tmp_path / "sub" / "ledger.db")
    assert ledger.query("PRAGMA journal_mode")[0][0] == "wal"
    assert ledger.query("PRAGMA user_version")[0][0] == SCHEMA_VERSION
    assert ledger.query("PRAGMA page_size")[0][0] == PAGE_SIZE != 4096  # SQLite's default
    assert {"attempts", "tasks", "attempt_tags"} <= set(ledger.db.table_names())


def test_reading_a_missing_ledger_creates_nothing(tmp_path):
    assert open_ledger(tmp_path / "none.db", create=False) is None
    assert not (tmp_path / "none.db").exists()


@pytest.mark.parametrize("version", range(SCHEMA_VERSION + 1))
def test_migrations_from_every_earlier_version_keep_the_data(tmp_path, version):
    path = tmp_path / "ledger.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:version], start=1):
        if callable(script):
            conn.execute("BEGIN")
            script(conn)
            conn.execute("COMMIT")
        else:
            conn.executescript(script)
        conn.execute(f"PRAGMA user_version = {number}")
    if version >= 1:
        conn.execute(
            "INSERT INTO tasks (id, created_at) VALUES ('t-old', '2025-01-01T00:00:00.000Z')"
        )
        conn.execute(
            "INSERT INTO attempts (started_at, task_id, attempt, model, status, source, cost_micros)"
            " VALUES ('2025-01-01T00:00:00.000Z', 't-old', 1, 'gpt-4o', 'ok', 'record', 1234)"
        )
    conn.close()
    ledger = open_ledger(path)
    assert ledger.query("PRAGMA user_version")[0][0] == SCHEMA_VERSION
    if version >= 1:
        assert ledger.query("SELECT task_id, cost_micros FROM attempts") == [("t-old", 1234)]
        assert ledger.query("PRAGMA page_size") == [(4096,)]  # a ledger keeps its pages
    if version == 1:  # the summaries added by version 2 are filled from the attempts there
        assert ledger.query("SELECT attempts, cost_micros, last_model FROM tasks") == [
            (1, 1234, "gpt-4o")
        ]
        assert ledger.query("SELECT day, attempts, cost_micros FROM usage_daily") == [
            ("2025-01-01", 1, 1234)
        ]


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "ledger.db"
    sqlite3.connect(path).execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(LedgerError, match="newer than this tokenroute"):
        open_ledger(path)


def test_a_file_that_is_not_sqlite_is_refused(tmp_path):
    path = tmp_path / "ledger.db"
    path.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(LedgerError, match="not a usable SQLite ledger"):
        open_ledger(path)
    assert path.read_text().startswith("these are my notes")


def test_attempt_numbers_count_up_within_a_task(tmp_path):
    ledger = open_ledger(tmp_path / "ledger.db")
    stored = ledger.add_attempts([attempt("t-1"), attempt("t-1"), attempt("t-2")])
    assert [(s.task_id, s.attempt) for s in stored] == [("t-1", 1), ("t-1", 2), ("t-2", 1)]


def test_the_same_source_key_is_stored_once(tmp_path):
    ledger = open_ledger(tmp_path / "ledger.db")
    first = ledger.add_attempts([attempt("t-1", source="claude-code", source_key="msg-1")])
    again = ledger.add_attempts([attempt("t-1", source="claude-code", source_key="msg-1")])
    assert first[0].id is not None and again[0].id is None
    assert ledger.count_attempts() == 1


def test_tags_are_a_plain_table(tmp_path):
    ledger = open_ledger(tmp_path / "ledger.db")
    ledger.add_attempts([attempt("t-1", tags=("nightly", "ci"))])
    assert sorted(ledger.query("SELECT tag FROM attempt_tags")) == [("ci",), ("nightly",)]


@pytest.mark.sqlite_only
def test_a_commit_that_fails_is_rolled_back_and_the_ledger_writes_on(tmp_path):
    """SQLite leaves the transaction open when COMMIT itself fails (here a reference checked
    only at the end): the ledger rolls it back, says so in one line, and the next write
    goes in."""
    ledger = open_ledger(tmp_path / "ledger.db")
    refused = pytest.raises(LedgerError, match="cannot write to the ledger .*FOREIGN KEY")
    with refused, ledger.transaction() as conn:
        conn.execute("PRAGMA defer_foreign_keys = ON")
        conn.execute("INSERT INTO attempt_tags (attempt_id, tag) VALUES (99, 'orphan')")
    assert not ledger.conn.in_transaction
    assert ledger.query("SELECT COUNT(*) FROM attempt_tags") == [(0,)]
    ledger.add_attempts([attempt("t-1", tags=("kept",))])
    assert ledger.query("SELECT tag FROM attempt_tags") == [("kept",)]


@pytest.mark.sqlite_only
def test_eight_parallel_writers_lose_nothing(tmp_path):
    """8 `tokenroute record` processes, 1,000 calls each, on one fresh ledger at once."""
    lines = "".join(
        json.dumps(
            {"model": "gpt-5-mini", "input_tokens": i, "output_tokens": 1, "task_type": "qa"}
        )
        + "\n"
        for i in range(1000)
    )
    env = {**os.environ, "TOKENROUTE_HOME": str(tmp_path / "home")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tokenroute", "record", "--tag", f"writer-{n}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        for n in range(8)
    ]
    for proc in procs:
        proc.stdin.write(lines)
        proc.stdin.close()
    errors = [proc.stderr.read() for proc in procs]
    codes = [proc.wait(timeout=120) for proc in procs]
    assert codes == [0] * 8, errors
    assert not any("locked" in e for e in errors)
    ledger = open_ledger(tmp_path / "home" / "ledger.db", create=False)
    assert ledger.count_attempts() == 8000
    assert ledger.query("SELECT COUNT(DISTINCT tag) FROM attempt_tags") == [(8,)]


def test_summaries_kept_on_write_equal_a_rebuild_from_the_attempts(tmp_path):
    ledger = open_ledger(tmp_path / "ledger.db")
    batch = [
        attempt("t-1", started_at="2026-11-01T10:00:00.000Z", model="gpt-5-mini", status="error"),
        attempt("t-1", started_at="2026-11-01T10:05:00.000Z", model="gpt-5", cost_micros=900),
        attempt("t-2", started_at="2026-11-02T08:00:00.000Z", cost_micros=None, model="x"),
        attempt("t-3", started_at="2026-11-02T09:00:00.000Z", task_type="qa", project="web"),
        attempt("t-1", started_at="2026-11-01T09:00:00.000Z", model="gpt-4o"),  # out of order
    ]
    batch.append(attempt("t-4", context_hash="ctx-a", usage=Usage(input=5, cache_read=50)))
    batch.append(attempt("t-5", context_hash="ctx-a", usage=Usage(input=7)))
    ledger.add_attempts(batch)
    ledger.set_outcome("t-1", "failure", "user", None)
    ledger.set_outcome("t-3", "success", "user", None)

    def summaries():
        return [
            ledger.query(f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4, 5, 6, 7, 8")
            for table in ("usage_daily", "tasks_daily")
        ] + [
            ledger.query("SELECT * FROM context_daily ORDER BY 1, 2"),
            ledger.query("SELECT * FROM tasks ORDER BY id"),
        ]

    kept = summaries()
    ledger.rebuild_summaries()
    assert kept == summaries()
    assert ledger.query("SELECT attempts, cache_read_tokens FROM context_daily") == [(2, 50)]
    t1 = ledger.query(
        "SELECT attempts, cost_micros, first_at, last_model FROM tasks WHERE id = 't-1'"
    )
    assert t1 == [(3, 63 + 900 + 63, "2026-11-01T09:00:00.000Z", "gpt-5")]


def test_migration_5_keys_claude_code_calls_by_message_id(tmp_path):
    path = tmp_path / "ledger.db"
    ledger = open_ledger(path)
    ledger.add_attempts(
        [
            attempt("t-1", source="claude-code", source_key="msg_1:req_1"),
            attempt("t-1", source="claude-code", source_key="u-7"),  # a keyless line's uuid
            attempt("t-2", source="jsonl", source_key="msg_2:req_2"),  # another source's key
        ]
    )
    ledger.conn.execute("DROP INDEX tasks_by_type")  # as a version 4 ledger has it
    ledger.conn.execute("DROP INDEX tasks_escalated")
    ledger.conn.execute("ALTER TABLE tasks DROP COLUMN first_tier")
    undo_migrations_after(ledger.conn, 5)
    ledger.conn.execute("PRAGMA user_version = 4")
    ledger.close()
    migrated = open_ledger(path, create=False)
    keys = migrated.query("SELECT source, source_key FROM attempts ORDER BY id")
    assert keys == [("claude-code", "msg_1"), ("claude-code", "u-7"), ("jsonl", "msg_2:req_2")]
    assert migrated.query("PRAGMA user_version") == [(SCHEMA_VERSION,)]


def attempts_table_sql(conn: sqlite3.Connection) -> str:
    return conn.execute("SELECT sql FROM sqlite_master WHERE name = 'attempts'").fetchone()[0]


def insert_status(conn: sqlite3.Connection, status: str) -> None:
    conn.execute(
        "INSERT INTO attempts (started_at, task_id, attempt, model, status, source) "
        "VALUES ('2026-11-01T10:00:00.000Z', 't-1', 9, 'gpt-5', ?, 'record')",
        (status,),
    )


def test_migration_10_writes_the_status_check_as_comparisons_with_the_same_rule(tmp_path):
    path = tmp_path / "ledger.db"
    ledger = open_ledger(path)
    ledger.add_attempts([attempt("t-1"), attempt("t-1", status="error")])
    undo_migrations_after(ledger.conn, 9)
    ledger.conn.execute("PRAGMA user_version = 9")
    ledger.close()
    old = sqlite3.connect(path)
    assert STATUS_CHECK_AS_LIST in attempts_table_sql(old)  # as a version 9 ledger has it
    old.close()

    migrated = open_ledger(path, create=False)
    conn = migrated.conn
    assert migrated.query("PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert STATUS_CHECK_AS_COMPARISONS in attempts_table_sql(conn)
    assert STATUS_CHECK_AS_LIST not in attempts_table_sql(conn)
    assert migrated.query("PRAGMA integrity_check") == [("ok",)]
    assert migrated.query("SELECT status FROM attempts ORDER BY id") == [("ok",), ("error",)]
    for status in ("ok", "error", "invalid", "cancelled"):
        insert_status(conn, status)
    for connection in (conn, sqlite3.connect(path)):  # this one, and one opened after it
        with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
            insert_status(connection, "done")


def test_a_sqlite_that_refuses_schema_edits_migrates_and_keeps_the_list(tmp_path):
    """A SQLite built defensive refuses writable_schema's edits: the ledger still opens, at
    the latest version, with the rule as it was."""
    path = tmp_path / "ledger.db"
    ledger = open_ledger(path)
    ledger.add_attempts([attempt("t-1")])
    undo_migrations_after(ledger.conn, 9)
    ledger.conn.execute("PRAGMA user_version = 9")
    ledger.close()
    conn = sqlite3.connect(path, isolation_level=None)

    def no_schema_edits(action: int, table: str | None, *_: object) -> int:
        if action == sqlite3.SQLITE_UPDATE and table == "sqlite_master":
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    conn.set_authorizer(no_schema_edits)
    migrate(conn, 9)
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert STATUS_CHECK_AS_LIST in attempts_table_sql(conn)
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
        insert_status(conn, "done")


def test_migration_6_puts_the_reasoning_tokens_already_stored_in_the_daily_summary(tmp_path):
    path = tmp_path / "ledger.db"
    ledger = open_ledger(path)
    ledger.add_attempts(
        [
            attempt("t-1", usage=Usage(input=10, output=50, reasoning=30)),
            attempt("t-1", usage=Usage(input=10, output=20, reasoning=5), status="error"),
            attempt("t-2", usage=Usage(input=10, output=9), model="gpt-5-mini"),
        ]
    )
    undo_migrations_after(ledger.conn, 5)
    ledger.conn.execute("PRAGMA user_version = 5")
    ledger.close()
    migrated = open_ledger(path, create=False)
    rows = migrated.query(
        "SELECT model, ok, output_tokens, reasoning_tokens FROM usage_daily ORDER BY 1, 2"
    )
    assert rows == [("gpt-5", 0, 20, 5), ("gpt-5", 1, 50, 30), ("gpt-5-mini", 1, 9, 0)]
    migrated.add_attempts([attempt("t-3", usage=Usage(input=1, output=8, reasoning=8))])
    assert migrated.query(
        "SELECT reasoning_tokens FROM usage_daily WHERE model = 'gpt-5' AND ok = 1"
    ) == [(38,)]


def test_learning_counts_tasks_not_retries_and_ignores_transport_errors(tmp_path):
    """What a tier's record holds: one failure per task however many retries, an invalid
    answer or an escalation after one; never a 5xx or a timeout on its own."""
    ledger = open_ledger(tmp_path / "ledger.db")

    def task(task_id: str, outcome: str, by: str | None, *tries: tuple[str, str, str | None]):
        rows = []
        for n, (tier, status, kind) in enumerate(tries):
            a, t = attempt(task_id, tier=tier, status=status, error_kind=kind, task_type="test")
            a = a._replace(started_at=f"2026-11-01T10:00:0{n}.000Z")
            rows.append((a, t._replace(type="test", outcome=outcome, outcome_by=by)))
        ledger.add_attempts(rows)

    # escalated after two invalid answers on small, then finished on mid
    task("t-a", "success", "run", ("small", "invalid", "schema"), ("small", "invalid", "schema"),
         ("mid", "ok", None))  # fmt: skip
    # two server errors, then the same tier finished it
    task("t-b", "success", "run", ("small", "error", "server"), ("small", "error", "timeout"),
         ("small", "ok", None))  # fmt: skip
    # `run` gave up on rate limits alone: says nothing about small
    task("t-c", "failure", "run", *[("small", "error", "rate_limit")] * 3)
    # the user said small's answer was no good
    task("t-d", "failure", "user", ("small", "ok", None))
    # an invalid answer on a task nobody has ended yet
    task("t-e", "unknown", None, ("small", "invalid", "invalid_json"))
    by_tier, tasks = ledger.outcomes_by_tier("test")
    # first tries only: t-a's success on mid came after small failed it, harder than a start
    assert by_tier == {"small": (1, 3)}
    assert tasks == 4  # t-c is not evidence


def test_recorded_errors_say_nothing_and_each_task_counts_once(tmp_path):
    ledger = open_ledger(tmp_path / "ledger.db")
    for n in range(5):  # calls recorded as timeouts: one-call tasks ended as failures
        a, t = attempt(f"t-{n}", tier="small", status="error", error_kind="timeout")
        ledger.add_attempts(
            [(a._replace(task_type="extract"), t._replace(outcome="failure", outcome_by="record"))]
        )
    rows = []
    for n, tier in enumerate(("small", "mid", "frontier")):  # one task, invalid on three tiers
        a, t = attempt("t-open", tier=tier, status="invalid", error_kind="schema")
        rows.append((a._replace(task_type="extract", started_at=f"2026-11-02T10:00:0{n}.000Z"), t))
    ledger.add_attempts(rows)
    by_tier, tasks = ledger.outcomes_by_tier("extract")
    assert by_tier == {"small": (0, 1)}  # where it started; the rest were escalations
    assert tasks == 1


def test_a_tasks_first_tier_is_its_earliest_attempts_whatever_order_they_come_in(tmp_path):
    ledger = open_ledger(tmp_path / "ledger.db")
    late, task = attempt("t-1", tier="mid")
    early, _ = attempt("t-1", tier="small")
    ledger.add_attempts([(late._replace(started_at="2026-11-01T10:05:00.000Z"), task)])
    ledger.add_attempts([(early._replace(started_at="2026-11-01T10:00:00.000Z"), task)])
    assert ledger.query("SELECT first_tier, last_tier FROM tasks") == [("small", "mid")]
    ledger.rebuild_summaries()
    assert ledger.query("SELECT first_tier, last_tier FROM tasks") == [("small", "mid")]


def test_an_escalation_after_timeouts_alone_says_nothing_of_the_start(tmp_path):
    ledger = open_ledger(tmp_path / "ledger.db")
    for n in range(3):
        first, task = attempt(f"t-{n}", tier="small", status="error", error_kind="timeout")
        then, _ = attempt(f"t-{n}", tier="mid")
        ledger.add_attempts(
            [
                (first._replace(task_type="code"), task._replace(type="code", outcome="success")),
                (then._replace(task_type="code", started_at="2026-11-01T10:01:00.000Z"), task),
            ]
        )
    assert ledger.outcomes_by_tier("code") == ({}, 0)


@contextmanager
def unwritable(path: Path) -> Iterator[None]:
    """`path` as this user cannot write it: mode 0444, or for root (who may write any
    file) the immutable flag, where the file system has one."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        yield
        path.chmod(0o600)
        return
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
        pytest.skip("root, and no immutable flag on this file system: nothing is read-only")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.mark.sqlite_only
def test_a_read_only_ledger_can_still_be_read_and_a_write_is_one_line(run, isolated_home):
    """A ledger this user may read but not write (an archived copy, another user's): log
    and report work, and a write is one line."""
    assert run("record", "-m", "gpt-5-mini", "--input-tokens", "10").exit_code == 0
    ledger = isolated_home / "archived.db"
    with sqlite3.connect(isolated_home / "ledger.db") as source, sqlite3.connect(ledger) as copy:
        source.backup(copy)  # one file, as an archived ledger is
    with unwritable(ledger):
        out = run("log", "--json", "--ledger", str(ledger))
        assert out.exit_code == 0, out.stderr
        assert len(json.loads(out.stdout)["attempts"]) == 1
        assert run("report", "--json", "--ledger", str(ledger)).exit_code == 0
        out = run("record", "-m", "gpt-5-mini", "--input-tokens", "10", "--ledger", str(ledger))
        assert_one_line_error(out, ExitCode.LEDGER, "cannot write to the ledger")


@pytest.mark.sqlite_only
def test_a_new_ledger_is_readable_by_its_owner_alone(run, isolated_home):
    import os
    import stat

    os.umask(0o022)
    assert run("record", "-m", "gpt-5-mini", "--input-tokens", "10").exit_code == 0
    assert stat.S_IMODE((isolated_home / "ledger.db").stat().st_mode) == 0o600


def test_another_program_s_database_is_refused_and_left_as_it_was(run, tmp_path):
    import sqlite3

    foreign = tmp_path / "logs.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE responses (id TEXT, model TEXT)")
    before = foreign.read_bytes()
    out = run("record", "-m", "gpt-5-mini", "--input-tokens", "1", "--ledger", str(foreign))
    assert_one_line_error(out, ExitCode.LEDGER, "another program's SQLite database")
    assert foreign.read_bytes() == before and not Path(f"{foreign}-wal").exists()


def test_a_foreign_database_with_a_schema_version_is_refused_too(run, tmp_path):
    foreign = tmp_path / "places.sqlite"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE moz_places (id INTEGER)")
        conn.execute("PRAGMA user_version = 2")
    out = run("log", "--ledger", str(foreign))
    assert_one_line_error(out, ExitCode.LEDGER, "another program's SQLite database")
    with sqlite3.connect(foreign) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


@pytest.mark.sqlite_only
def test_processes_opening_a_new_ledger_at_once_all_get_it(tmp_path):
    """The first calls of a day often come at once (two agents, two people's imports): the
    switch of a new ledger to WAL is refused at once by SQLite while another process holds
    it, so each must wait for the other rather than fail with 'database is locked'."""
    command = [sys.executable, "-m", "tokenroute", "record", "-m", "gpt-5",
               "--input-tokens", "1", "--output-tokens", "1"]  # fmt: skip
    for trial in range(6):
        env = {**os.environ, "TOKENROUTE_HOME": str(tmp_path / f"home-{trial}")}
        procs = [
            subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
            )
            for _ in range(3)
        ]
        results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
        assert [code for code, _ in results] == [0, 0, 0], results
        ledger = open_ledger(tmp_path / f"home-{trial}" / "ledger.db", create=False)
        assert ledger.count_attempts() == 3
        assert ledger.query("PRAGMA journal_mode") == [("wal",)]
