"""What a first import of a Claude Code tree cannot avoid, step by step, in CPU seconds, and
what tokenroute's importer spends on each step of the same tree.

Usage: python bench/import_floor.py TREE   (TREE: a generated tree, as bench/import.py makes)

The floor is the least work each step stands for, timed alone in this process:
- read: every file's bytes, cut into lines;
- json: orjson over every line (the importer decodes only lines that mention usage, and only
  a few of their fields, so it can come in under this);
- insert: the importer's own rows into a ledger with today's schema and indexes, in one
  transaction, then the summary tables rebuilt from them once (the insert alone, into a
  table without any index, is shown too).
The importer's steps are its own functions run in one process as an import runs them:
reading the new lines, parsing and pricing them into rows, storing the groups.
bench/import.py prints both, each step as a share of the import.
"""

from __future__ import annotations

import gc
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

NOW = datetime(2026, 12, 2, tzinfo=UTC)  # after every generated call (the generator's days)


def _files(tree: Path) -> list[Path]:
    from tokenroute.ledger.importers.files import log_files

    root = tree / "projects" if (tree / "projects").is_dir() else tree
    return log_files([root])


def floor(tree: Path) -> dict[str, float]:
    """Each step's least CPU seconds on the tree, file by file (memory stays small)."""
    from tokenroute.ledger.importers import claude_code
    from tokenroute.ledger.importers.files import read_new
    from tokenroute.ledger.importers.log_rows import RowMaker
    from tokenroute.prices.table import load_price_table, shipped_dir
    from tokenroute.storage.rows import ROW_STARTED_AT, insert_attempts
    from tokenroute.storage.schema import REBUILD_SUMMARIES, statements
    from tokenroute.storage.sqlite import BULK_CACHE_KB, open_ledger

    steps = dict.fromkeys(("read", "json", "insert, no index", "insert", "summaries"), 0.0)
    maker = RowMaker(load_price_table(shipped_dir()), "claude-code", NOW, None)
    rows, tasks = [], {}
    gc.disable()
    try:
        for path in _files(tree):
            start = time.process_time()
            lines = path.read_bytes().split(b"\n")[:-1]
            middle = time.process_time()
            for line in lines:
                orjson.loads(line)
            steps["read"] += middle - start
            steps["json"] += time.process_time() - middle
            # the rows to insert are the importer's own (not timed)
            for values, task, _ in claude_code.parse_rows(
                path, read_new(path, None).lines, maker
            ).rows:
                rows.append((*values, 1))
                tasks.setdefault(task[0], task)
        rows.sort(key=lambda row: row[ROW_STARTED_AT])  # as the importer stores them
        with tempfile.TemporaryDirectory() as scratch:
            ledger = open_ledger(Path(scratch) / "ledger.db", create=True)
            bare = sqlite3.connect(Path(scratch) / "bare.db", isolation_level=None)
            bare.execute(
                ledger.conn.execute(
                    "SELECT sql FROM sqlite_master WHERE name = 'attempts'"
                ).fetchone()[0]
            )
            start = time.process_time()
            bare.execute("BEGIN")
            insert_attempts(bare, rows)
            bare.execute("COMMIT")
            steps["insert, no index"] = time.process_time() - start
            conn = ledger.conn
            conn.execute(f"PRAGMA cache_size = -{BULK_CACHE_KB}")  # as an import sets it
            start = time.process_time()
            with ledger.transaction():
                conn.executemany(
                    "INSERT INTO tasks (id, created_at, type, description, project, outcome, "
                    "outcome_by, ended_at, sample) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
                    tasks.values(),
                )
                insert_attempts(conn, rows)
            steps["insert"] = time.process_time() - start
            start = time.process_time()
            with ledger.transaction():
                for statement in statements(REBUILD_SUMMARIES):
                    conn.execute(statement)
            steps["summaries"] = time.process_time() - start
            bare.close()
            ledger.close()
    finally:
        gc.enable()
    return steps


def importer_steps(tree: Path) -> dict[str, float]:
    """The importer's CPU seconds per step, in one process, as `import claude-code` runs."""
    from tokenroute.ledger.importers import claude_code
    from tokenroute.ledger.importers.files import read_new
    from tokenroute.ledger.importers.load import GROUP_ROWS, no_cycle_collection
    from tokenroute.ledger.importers.log_rows import RowMaker
    from tokenroute.prices.table import load_price_table, shipped_dir
    from tokenroute.storage.identity import writer
    from tokenroute.storage.sqlite import open_ledger

    steps = dict.fromkeys(("read", "parse and price", "store"), 0.0)
    # stamped with the importing person, as the command's rows are (the store leaves them)
    maker = RowMaker(load_price_table(shipped_dir()), "claude-code", NOW, None, writer())
    with tempfile.TemporaryDirectory() as scratch, no_cycle_collection():
        ledger = open_ledger(Path(scratch) / "ledger.db", create=True)
        rows, positions = [], []

        def store() -> None:
            start = time.process_time()
            ledger.import_rows("claude-code", positions, rows)
            steps["store"] += time.process_time() - start
            rows.clear()
            positions.clear()

        for path in _files(tree):
            start = time.process_time()
            chunk = read_new(path, None)
            middle = time.process_time()
            rows.extend(claude_code.parse_rows(path, chunk.lines, maker).rows)
            steps["read"] += middle - start
            steps["parse and price"] += time.process_time() - middle
            positions.append((str(path), chunk.position))
            if len(rows) >= GROUP_ROWS:
                store()
        store()
        ledger.close()
    return steps


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__.splitlines()[2])
    tree = Path(sys.argv[1])
    print("CPU seconds in one process")
    for name, seconds in floor(tree).items():
        print(f"  floor     {name:<18} {seconds:6.2f} s")
    for name, seconds in importer_steps(tree).items():
        print(f"  importer  {name:<18} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
