"""A big import into a new ledger builds the started_at index once, at the end
(storage/deferred_indexes.py): whatever way the import ends, the ledger it leaves is the one
an import that kept the index all along leaves."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from claude_logs import write_tree
from test_ledger import unwritable

from tokenroute.ledger.importers import claude_code, load
from tokenroute.ledger.importers.files import log_files
from tokenroute.models import AttemptFilter
from tokenroute.storage import deferred_indexes
from tokenroute.storage.sqlite import open_ledger
from tokenroute.storage.usage_hours import hourly_usage

pytestmark = pytest.mark.sqlite_only
NOW = datetime(2026, 11, 23, tzinfo=UTC)
INDEX = "attempts_started_at"


def index_sql(path: Path) -> str | None:
    """The index as sqlite_master holds it, read without open_ledger (which builds it)."""
    conn = sqlite3.connect(path)
    found = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (INDEX,)).fetchone()
    conn.close()
    return None if found is None else found[0]


def contents(path: Path) -> dict[str, list[tuple]]:
    """Every row of the tables an import writes, but the ids and the writer's stamps."""
    conn = sqlite3.connect(path)
    found = {
        "attempts": conn.execute(
            "SELECT task_id, attempt, started_at, model, source_key, cost_micros, "
            "input_tokens, output_tokens FROM attempts ORDER BY source_key"
        ).fetchall(),
        "tasks": conn.execute(
            "SELECT id, first_at, last_at, attempts, cost_micros FROM tasks ORDER BY id"
        ).fetchall(),
        "usage_daily": conn.execute("SELECT * FROM usage_daily ORDER BY 1, 2, 3, 4").fetchall(),
        "tasks_daily": conn.execute("SELECT * FROM tasks_daily ORDER BY 1, 2, 3, 4").fetchall(),
        "by_started_at": conn.execute(
            f"SELECT started_at, source_key FROM attempts INDEXED BY {INDEX} "
            "ORDER BY started_at, source_key"
        ).fetchall(),
        "integrity": conn.execute("PRAGMA integrity_check").fetchall(),
    }
    conn.close()
    return found


@pytest.fixture
def files(tmp_path):
    write_tree(tmp_path / "claude", end=NOW, sessions=12)
    return log_files([tmp_path / "claude" / "projects"])


def import_into(path: Path, files, table, progress=lambda n: None):
    ledger = open_ledger(path)
    try:
        return load.import_files(
            "claude-code", files, claude_code.parse_file, ledger, table, NOW,
            workers=1, progress=progress,
        )  # fmt: skip
    finally:
        ledger.close()


def test_a_big_first_import_builds_the_index_once_at_the_end(tmp_path, files, table, monkeypatch):
    monkeypatch.setattr(load, "GROUP_ROWS", 20)  # several groups, each its own transaction
    kept = tmp_path / "kept.db"
    monkeypatch.setattr(load, "BULK_LOAD_FROM_BYTES", 1 << 40)  # too little to defer
    seen_kept: list[str | None] = []
    import_into(kept, files, table, lambda n: seen_kept.append(index_sql(kept)))
    assert None not in seen_kept

    monkeypatch.setattr(load, "BULK_LOAD_FROM_BYTES", 0)  # every import is big
    deferred = tmp_path / "deferred.db"
    seen: list[str | None] = []
    summary = import_into(deferred, files, table, lambda n: seen.append(index_sql(deferred)))
    assert summary.added > 40
    assert seen == [None] * len(files)  # left out while the groups were stored
    # and built at the end, as a new ledger's migration wrote it
    assert index_sql(deferred) == index_sql(kept) == deferred_indexes.DEFERRED[INDEX]
    assert contents(deferred) == contents(kept)


def test_a_ledger_holding_more_keeps_its_index(tmp_path, files, table, monkeypatch):
    monkeypatch.setattr(load, "BULK_LOAD_FROM_BYTES", 0)
    path = tmp_path / "ledger.db"
    first = import_into(path, files[:4], table)
    monkeypatch.setattr(deferred_indexes, "NEARLY_EMPTY", first.added - 1)
    seen: list[str | None] = []
    assert import_into(path, files[4:], table, lambda n: seen.append(index_sql(path))).added
    assert None not in seen  # rebuilding it would cost what the ledger already holds


def test_an_import_stopped_half_way_still_builds_it(tmp_path, files, table, monkeypatch):
    monkeypatch.setattr(load, "BULK_LOAD_FROM_BYTES", 0)
    monkeypatch.setattr(load, "GROUP_ROWS", 20)
    path = tmp_path / "ledger.db"

    def stop_after_three(n, done=[]):  # noqa: B006 (counts the calls)
        done.append(n)
        if len(done) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_into(path, files, table, stop_after_three)
    assert index_sql(path) == deferred_indexes.DEFERRED[INDEX]
    conn = sqlite3.connect(path)
    stored = conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
    assert stored and conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    # the import goes on from where it stopped, the index kept up as it goes
    rest = import_into(path, files, table)
    assert rest.added and index_sql(path) == deferred_indexes.DEFERRED[INDEX]


def test_after_a_kill_the_next_open_builds_it(tmp_path, files, table):
    path = tmp_path / "ledger.db"
    import_into(path, files, table)
    conn = sqlite3.connect(path)
    conn.execute(f"DROP INDEX {INDEX}")  # as a killed import leaves it
    conn.commit()
    conn.close()
    # a ledger that may not be written to is read without it
    with unwritable(path):
        ledger = open_ledger(path)
        assert index_sql(path) is None
        assert hourly_usage(ledger.conn, AttemptFilter(task_type="none such")) == []
        assert hourly_usage(ledger.conn, AttemptFilter())  # every hour with a call
        ledger.close()
    # the next open that may write builds it
    open_ledger(path).close()
    assert index_sql(path) == deferred_indexes.DEFERRED[INDEX]


def test_hours_read_the_same_without_the_index(tmp_path, files, table):
    path = tmp_path / "ledger.db"
    import_into(path, files, table)
    ledger = open_ledger(path)
    (model,) = ledger.conn.execute("SELECT model FROM attempts LIMIT 1").fetchone()
    with_index = hourly_usage(ledger.conn, AttemptFilter(model=model))
    ledger.conn.execute(f"DROP INDEX {INDEX}")
    assert with_index and hourly_usage(ledger.conn, AttemptFilter(model=model)) == with_index
    ledger.close()
