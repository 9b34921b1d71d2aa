"""An import's write-ahead log is copied into the ledger file by a thread of its own
(storage/checkpoints.py), and nothing of it outlives the ledger."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_import import assistant, lines

from tokenroute.ledger.importers import claude_code, load
from tokenroute.ledger.importers.files import log_files
from tokenroute.storage.checkpoints import BACKSTOP_FACTOR, Checkpointer
from tokenroute.storage.sqlite import BULK_CHECKPOINT_KB, open_ledger

pytestmark = pytest.mark.sqlite_only
NOW = datetime(2026, 11, 23, tzinfo=UTC)


@pytest.fixture
def checkpoint_threads():
    """The checkpoint threads started since the test began (other tests' open ledgers have
    their own)."""

    def named():
        return {t for t in threading.enumerate() if t.name == "tokenroute-checkpoints"}

    before = named()
    return lambda: named() - before


def wal_file_with_rows(path: Path, rows: int) -> sqlite3.Connection:
    """A WAL-mode file whose committed rows are all still in its log."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA wal_autocheckpoint = 0")  # only the checkpointer copies
    conn.execute("CREATE TABLE t (x TEXT)")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO t VALUES (?)", [("x" * 500,) for _ in range(rows)])
    conn.execute("COMMIT")
    return conn


def test_a_checkpoint_asked_for_copies_the_log_into_the_file(tmp_path, checkpoint_threads):
    path = tmp_path / "ledger.db"
    writer = wal_file_with_rows(path, 2000)
    before = path.stat().st_size
    checkpoints = Checkpointer(path)
    checkpoints.request()
    checkpoints.settle()
    assert path.stat().st_size > before + 2000 * 500  # the rows are in the file itself now
    assert checkpoint_threads()  # waiting for the next request
    # the writer goes on meanwhile, and the next request copies that too
    writer.executemany("INSERT INTO t VALUES (?)", [("y" * 500,) for _ in range(2000)])
    grown = path.stat().st_size
    checkpoints.request()
    checkpoints.settle()
    assert path.stat().st_size > grown + 2000 * 500
    checkpoints.close()
    assert not checkpoint_threads()
    checkpoints.request()  # after close: nothing starts again
    checkpoints.settle()
    assert not checkpoint_threads()
    assert writer.execute("SELECT COUNT(*) FROM t").fetchone() == (4000,)
    writer.close()


def test_a_ledger_the_thread_cannot_open_costs_nothing_but_its_checkpoints(
    tmp_path, checkpoint_threads
):
    checkpoints = Checkpointer(tmp_path / "no such folder" / "ledger.db")
    checkpoints.request()
    checkpoints.settle()  # returns: the importer's own checkpoints do the work
    checkpoints.request()  # and later ones cost nothing either
    checkpoints.settle()
    checkpoints.close()
    assert not checkpoint_threads()


def test_an_import_checkpoints_in_a_thread_that_ends_with_the_ledger(
    tmp_path, checkpoint_threads, table, monkeypatch
):
    projects = tmp_path / "claude" / "projects" / "-home-dev-app"
    projects.mkdir(parents=True)
    for session in range(6):
        calls = [
            assistant(
                f"msg_{session}_{turn}",
                f"req_{session}_{turn}",
                5 + turn,
                uuid=f"u{session}-{turn}",
                sessionId=f"s-{session}",
            )
            for turn in range(40)
        ]
        (projects / f"s-{session}.jsonl").write_text(lines(*calls))
    monkeypatch.setattr(load, "GROUP_ROWS", 30)  # a group of files per transaction, 6 of them
    path = tmp_path / "ledger.db"
    ledger = open_ledger(path)
    summary = load.import_files(
        "claude-code",
        log_files([projects.parent]),
        claude_code.parse_file,
        ledger,
        table,
        NOW,
        workers=1,
    )
    assert summary.added == 240
    assert checkpoint_threads()  # started by the import, kept for the ledger's next one
    backstop = (
        BACKSTOP_FACTOR
        * BULK_CHECKPOINT_KB
        * 1024
        // ledger.conn.execute("PRAGMA page_size").fetchone()[0]
    )
    assert ledger.conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (backstop,)
    ledger.close()
    assert not checkpoint_threads()
    # the thread's connection closed first: the ledger's own, the last, copied the log and
    # removed it
    assert not Path(f"{path}-wal").exists()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM attempts").fetchone() == (240,)
    conn.close()
