"""`tokenroute import llm`: simonw/llm's logs.db, both table layouts, new rows only."""

from __future__ import annotations

import json
import sqlite3

import pytest
from conftest import assert_one_line_error, ledger_db

from tokenroute.errors import ExitCode

RESPONSES = """CREATE TABLE responses (id TEXT PRIMARY KEY, model TEXT, prompt TEXT, system TEXT,
    prompt_json TEXT, options_json TEXT, response TEXT, response_json TEXT,
    conversation_id TEXT, duration_ms INTEGER, datetime_utc TEXT, input_tokens INTEGER,
    output_tokens INTEGER, token_details TEXT, schema_id TEXT, resolved_model TEXT)"""
LOGS = """CREATE TABLE logs (id INTEGER PRIMARY KEY, model TEXT, prompt TEXT, system TEXT,
    prompt_json TEXT, options_json TEXT, response TEXT, response_json TEXT, reply_to_id INTEGER,
    chat_id INTEGER, duration_ms INTEGER, datetime_utc TEXT)"""


def add_response(db, id, model, tokens_in, tokens_out, details=None, conversation="c1"):
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO responses (id, model, conversation_id, duration_ms, datetime_utc, "
            "input_tokens, output_tokens, token_details, prompt, response) "
            "VALUES (?, ?, ?, 900, '2026-11-20T10:00:00.123456', ?, ?, ?, 'secret prompt', 'a')",
            (
                id,
                model,
                conversation,
                tokens_in,
                tokens_out,
                json.dumps(details) if details else None,
            ),
        )


@pytest.fixture
def logs_db(tmp_path):
    db = tmp_path / "logs.db"
    with sqlite3.connect(db) as conn:
        conn.execute(RESPONSES)
        conn.execute(LOGS)
        usage = {"prompt_tokens": 50, "completion_tokens": 5, "total_tokens": 55}
        conn.execute(
            "INSERT INTO logs (id, model, chat_id, datetime_utc, response_json) "
            "VALUES (1, 'gpt-4o-mini', 1, '2024-05-01T09:00:00', ?)",
            (json.dumps({"usage": usage}),),
        )
        conn.execute(  # an old row without any usage: nothing to import
            "INSERT INTO logs (id, model, datetime_utc) VALUES (2, 'gpt-4', '2023-07-01T09:00:00')"
        )
    add_response(db, "01a", "gpt-4.1", 1200, 80, {"prompt_tokens_details": {"cached_tokens": 1000}})
    add_response(db, "01b", "claude-sonnet-4-5", 30, 300, {"cache_read_input_tokens": 5000}, "c2")
    add_response(db, "01c", "gpt-4.1", None, None)  # no counts recorded
    return db


def attempts(home) -> list[tuple]:
    conn = ledger_db(home)
    rows = conn.execute(
        "SELECT source_key, model, input_tokens, cache_read_tokens, output_tokens, task_id, "
        "latency_ms FROM attempts ORDER BY source_key"
    ).fetchall()
    conn.close()
    return rows


@pytest.mark.sqlite_only
def test_both_layouts_with_cached_input_read_per_provider(run, logs_db, isolated_home):
    out = run("import", "llm", "--path", str(logs_db))
    assert out.exit_code == 0, out.stderr
    assert attempts(isolated_home) == [
        ("llm-01a", "gpt-4.1", 200, 1000, 80, "llm-c1", 900),
        ("llm-01b", "claude-sonnet-4-5", 30, 5000, 300, "llm-c2", 900),
        ("llm-log-1", "gpt-4o-mini", 50, 0, 5, "llm-log-1", None),
    ]
    assert b"secret prompt" not in (isolated_home / "ledger.db").read_bytes()


def test_only_new_rows_are_read_again(run, logs_db, isolated_home):
    run("import", "llm", "--path", str(logs_db))
    again = run("import", "llm", "--path", str(logs_db))
    assert "0 rows read; added 0 attempts" in again.stderr
    add_response(logs_db, "01d", "gpt-4.1", 10, 1)
    out = run("import", "llm", "--path", str(logs_db))
    assert "1 rows read; added 1 attempts" in out.stderr, out.stderr
    assert len(attempts(isolated_home)) == 4


def test_a_file_that_is_not_sqlite(run, tmp_path, isolated_home):
    bogus = tmp_path / "logs.db"
    bogus.write_text("not a database\n" * 100)
    out = run("import", "llm", "--path", str(bogus))
    assert out.exit_code == ExitCode.BAD_INPUT
    assert f"{bogus}: cannot read: not an llm logs database" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_bad_row_is_named_and_the_rest_imported(run, logs_db, isolated_home):
    add_response(logs_db, "01e", "gpt-4.1", -3, 1)
    out = run("import", "llm", "--path", str(logs_db))
    assert out.exit_code == ExitCode.BAD_INPUT
    assert f"{logs_db}: responses row 4: input_tokens must be a whole number" in out.stderr
    assert len(attempts(isolated_home)) == 3


def test_a_missing_path(run, tmp_path):
    out = run("import", "llm", "--path", str(tmp_path / "nowhere.db"))
    assert_one_line_error(out, ExitCode.BAD_INPUT, "no such file")


def test_a_layout_it_cannot_read_is_said_and_fails(run, tmp_path, isolated_home):
    """A future llm that moves the counts: never '0 rows read' and success."""
    future = tmp_path / "logs.db"
    conn = sqlite3.connect(future)
    conn.execute("CREATE TABLE turns (id TEXT PRIMARY KEY, model TEXT, usage_json TEXT)")
    conn.execute("INSERT INTO turns VALUES ('01x', 'gpt-4.1', '{}')")
    conn.commit()
    conn.close()
    out = run("import", "llm", "--path", str(future))
    assert out.exit_code == ExitCode.BAD_INPUT
    assert "its turns table has no datetime_utc, input_tokens, output_tokens column" in out.stderr
    assert "1 rows rejected" in out.stderr  # the file itself: not a success over nothing


def test_turns_of_llm_0_32_on_are_read_once_even_when_replaced(run, tmp_path, isolated_home):
    db = tmp_path / "logs.db"
    conn = sqlite3.connect(db)
    conn.execute(
        "CREATE TABLE turns (id TEXT PRIMARY KEY, thread_id TEXT, model TEXT, "
        "resolved_model TEXT, input_tokens INTEGER, output_tokens INTEGER, token_details TEXT, "
        "duration_ms INTEGER, datetime_utc TEXT, response_json TEXT)"
    )
    row = (
        "01t", "th1", "gpt-5-mini", None, 1000, 50,
        json.dumps({"input_tokens_details": {"cached_tokens": 400, "cache_write_tokens": 100},
                    "output_tokens_details": {"reasoning_tokens": 20}}),
        900, "2026-11-20T10:00:00", None,
    )  # fmt: skip
    conn.execute("INSERT INTO turns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
    conn.commit()
    assert run("import", "llm", "--path", str(db)).exit_code == 0
    conn.execute("INSERT OR REPLACE INTO turns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
    conn.commit()  # llm rewrites a turn: a new rowid, the same call
    conn.close()
    again = run("import", "llm", "--path", str(db))
    assert "added 0 attempts, 1 duplicates skipped" in again.stderr
    got = (
        ledger_db(isolated_home)
        .execute(
            "SELECT task_id, input_tokens, cache_read_tokens, cache_write_tokens, output_tokens, "
            "reasoning_tokens FROM attempts"
        )
        .fetchall()
    )
    assert got == [("llm-th1", 500, 400, 100, 50, 20)]
