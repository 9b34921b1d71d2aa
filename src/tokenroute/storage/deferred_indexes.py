"""The index a big import into a new ledger goes without while it stores, built once at
the end.

A first import stores its rows a group at a time, and the files of one group hold calls of
every day, so each group's rows land all over the started_at index: each commit rewrites
most of its pages, and the checkpoints copy them again. No statement of an import reads
that index (it numbers and sums by task and by row id), so when the ledger holds nearly
nothing yet it is dropped before the first group and built from the stored rows once, at
the end. At 1M lines of Claude Code logs (365k calls) the build takes 0.15 s, and the import
takes about 0.1 s less in all, the build included (medians of 6 runs: 5.97 s -> 5.88 s).

An import that ends any way but a kill builds the index as it ends. After a kill the ledger
is still whole, only slower to report from; the next open that may write builds the index
(sqlite.open_ledger), and until then a query that names it (usage_hours) goes without it.
"""

from __future__ import annotations

import sqlite3

# Each as the schema's migration wrote it: a rebuilt index reads the same in sqlite_schema
# (tests/test_deferred_indexes.py compares them with a new ledger's).
DEFERRED = {"attempts_started_at": "CREATE INDEX attempts_started_at ON attempts (started_at)"}
# Attempts a ledger may hold for an import to go without the index: building it then costs
# what storing that many rows with it did, and the import is big (load.BULK_LOAD_FROM_BYTES).
NEARLY_EMPTY = 20_000


def worth_deferring(conn: sqlite3.Connection) -> bool:
    """Whether the ledger holds so few attempts that rebuilding the index costs little."""
    held = conn.execute(
        "SELECT COUNT(*) FROM (SELECT 1 FROM attempts LIMIT ?)", (NEARLY_EMPTY + 1,)
    ).fetchone()[0]
    return held <= NEARLY_EMPTY


def drop(conn: sqlite3.Connection) -> None:
    """Drop the deferred indexes (inside the caller's transaction)."""
    for name in DEFERRED:
        conn.execute(f"DROP INDEX IF EXISTS {name}")


def missing(conn: sqlite3.Connection) -> list[str]:
    """The deferred indexes the ledger lacks (an import is under way, or was killed)."""
    present = {
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'attempts'"
        )
    }
    return [name for name in DEFERRED if name not in present]


def restore(conn: sqlite3.Connection) -> None:
    """Build the deferred indexes the ledger lacks (inside the caller's transaction)."""
    for name in missing(conn):
        conn.execute(DEFERRED[name])
