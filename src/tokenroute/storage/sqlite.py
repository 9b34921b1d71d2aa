"""The ledger: a plain SQLite file, one row per attempt; the storage package is the only
one that knows SQL.

WAL mode and a busy timeout let parallel pipelines write while a report reads. The schema
version lives in `PRAGMA user_version`; migrations only ever add, so no data is lost, and
a ledger from a newer tokenroute is refused rather than misread.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokenroute.errors import LedgerError
from tokenroute.models import Attempt, AttemptFilter, Task
from tokenroute.storage.schema import REBUILD_SUMMARIES, SCHEMA_VERSION, migrate, statements

if TYPE_CHECKING:
    from tokenroute.storage.bulk import BatchResult, StoredKeys
    from tokenroute.storage.checkpoints import Checkpointer
    from tokenroute.storage.location import Location
    from tokenroute.storage.repricing import NewPrice, Unpriced
    from tokenroute.storage.rows import BulkRow, Stored

BUSY_TIMEOUT_MS = 30_000
BULK_CACHE_KB = 64 * 1024  # page cache for imports (used only as it fills)
# write-ahead log before an import's commit copies it into the ledger (the log then peaks
# near 64 MB): 6% of a first import of 1M lines, with one checkpoint per ~5 groups rather
# than one after each. A file ledger's imports leave that to a thread (storage/checkpoints),
# and commit-time checkpoints start only at BACKSTOP_FACTOR times this.
BULK_CHECKPOINT_KB = 40 * 1024
# A new ledger's pages: 8 KB rather than SQLite's 4 KB. Each commit of an import writes every
# page its rows touched, which for the indexes keyed at random is nearly all of them: with
# half as many pages to write, a first import of 1M lines takes 5.6 s rather than 5.8 s, and
# reports read the same (16 KB would gain more there, and cost report --top 15%). A ledger
# made before keeps its own: a page size changes only by rewriting the file (VACUUM).
PAGE_SIZE = 8192


# The newest EVIDENCE_TASKS of a type only: what a tier does now, read in a few ms whatever
# the ledger's size (tasks_by_type).
EVIDENCE_TASKS = 1000
FIRST_TRIES = """
    SELECT first_tier,
        COUNT(*) FILTER (WHERE outcome = 'success' AND last_tier IS first_tier),
        COUNT(*) FILTER (WHERE (last_tier IS NOT first_tier AND answered)
            OR (outcome = 'failure' AND last_tier IS first_tier
                AND (outcome_by IS 'user' OR answered))
            OR (outcome = 'unknown' AND invalid_there))
    FROM (
        SELECT t.first_tier, t.last_tier, t.outcome, t.outcome_by,
            EXISTS (SELECT 1 FROM attempts a WHERE a.task_id = t.id
                AND a.tier IS t.first_tier AND a.status IN ('ok', 'invalid')) AS answered,
            EXISTS (SELECT 1 FROM attempts a WHERE a.task_id = t.id
                AND a.tier IS t.first_tier AND a.status = 'invalid') AS invalid_there
        FROM tasks t
        -- the second test repeats the index's own condition, so that it is used
        WHERE COALESCE(t.type, t.last_task_type) = ? AND t.first_tier IS NOT NULL
            AND COALESCE(t.type, t.last_task_type) IS NOT NULL
            AND (t.outcome != 'unknown' OR t.last_tier IS NOT t.first_tier OR EXISTS (
                SELECT 1 FROM attempts a WHERE a.task_id = t.id AND a.status = 'invalid'))
        ORDER BY t.first_at DESC LIMIT ?
    ) AS e
    GROUP BY 1
"""


class Ledger:
    """An open ledger. Use `open_ledger` to get one."""

    def __init__(self, conn: sqlite3.Connection, path: Location) -> None:
        self.conn = conn
        self.path = path
        # per source: the keys this writer's imports stored (bulk.StoredKeys); None once
        # they cannot be known without asking the ledger
        self._stored_keys: dict[str, StoredKeys | None] = {}
        self._checkpoints: Checkpointer | None = None  # an import's, in a thread of its own

    @property
    def db(self):
        """The ledger as a sqlite-utils Database, for browsing (imported lazily: ~0.1 s)."""
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    def rebuild_summaries(self) -> None:
        """Recompute usage_daily and the task totals from the attempts (after a bulk load)."""
        with self.transaction() as conn:
            for statement in statements(REBUILD_SUMMARIES):
                conn.execute(statement)

    def close(self) -> None:
        try:
            if self._checkpoints is not None:
                self._checkpoints.close()
        finally:
            self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the write lock at once, so writers queue, not fail."""
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{self.path}: cannot write to the ledger ({exc})") from None
        try:
            yield conn
            conn.execute("COMMIT")  # can fail too (a full disk, a reference checked at the end)
        except sqlite3.DatabaseError as exc:
            _roll_back(conn)
            raise LedgerError(f"{self.path}: cannot write to the ledger ({exc})") from None
        except BaseException:
            _roll_back(conn)
            raise

    @contextmanager
    def only_one(self, job: str) -> Iterator[bool]:
        """Whether this process alone runs `job` on this ledger (an export): a lock file
        beside a SQLite ledger, an advisory lock in a PostgreSQL one. Released on exit."""
        if not isinstance(self.path, Path):
            with self.conn.only_one(job) as alone:  # type: ignore[attr-defined]
                yield alone
            return
        try:
            import fcntl
        except ImportError:  # Windows: no lock; run one export at a time by hand
            yield True
            return
        with open(f"{self.path}.{job}-lock", "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # ------------------------------------------------------------ writes
    # (storage.rows is imported by the writes only: pick and report read, and start faster)

    def add_task(self, task: Task) -> None:
        from tokenroute.storage.rows import insert_task

        with self.transaction() as conn:
            insert_task(conn, task)

    def set_outcome(self, task_id: str, outcome: str, by: str, ended_at: str | None) -> bool:
        """Set a task's outcome; False when there is no such task."""
        from tokenroute.storage.rows import task_summary_moves

        with self.transaction() as conn, task_summary_moves(conn, task_id):
            cursor = conn.execute(
                "UPDATE tasks SET outcome = ?, outcome_by = ?, ended_at = COALESCE(?, ended_at) "
                "WHERE id = ?",
                (outcome, by, ended_at, task_id),
            )
            return cursor.rowcount == 1

    def add_attempts(self, batch: Sequence[tuple[Attempt, Task]]) -> list[Stored]:
        """Store attempts (each with the task it belongs to, created if new) in one transaction."""
        from tokenroute.storage.identity import writer
        from tokenroute.storage.rows import store_attempt

        who = writer()
        with self.transaction() as conn:
            return [
                store_attempt(
                    conn,
                    attempt._replace(
                        user_name=attempt.user_name or who.user,
                        host_name=attempt.host_name or who.host,
                    ),
                    task,
                )
                for attempt, task in batch
            ]

    @contextmanager
    def bulk_load(self) -> Iterator[None]:
        """Around a big import: into a new or nearly empty ledger file, the index no import
        reads is left out while the rows are stored, and built once as the import ends,
        however it ends (storage/deferred_indexes). Elsewhere, nothing changes."""
        from tokenroute.storage import deferred_indexes

        if not isinstance(self.path, Path):  # PostgreSQL: the server's own business
            yield
            return
        with self.transaction() as conn:
            deferring = deferred_indexes.worth_deferring(conn)
            if deferring:
                deferred_indexes.drop(conn)
        if not deferring:
            yield
            return
        try:
            yield
        except BaseException:
            # the import's own error is the one to report; should the build fail too, the
            # next open builds the index
            with suppress(LedgerError), self.transaction() as conn:
                deferred_indexes.restore(conn)
            raise
        with self.transaction() as conn:
            deferred_indexes.restore(conn)

    def import_rows(
        self,
        source: str,
        positions: Sequence[tuple[str, tuple[int, int, int, str]]],
        rows: Sequence[BulkRow],
    ) -> tuple[int, int, int]:
        """New attempts (`bulk_row`s) and the read positions of the files they came from,
        together or not at all: an import stopped half way loses nothing, repeats nothing.

        A copy of a call already stored (same source key) is skipped, unless it carries more
        output tokens (a later streaming snapshot): then it replaces the stored one.
        Returns (added, duplicates, replaced)."""
        from tokenroute.storage.bulk import StaleKeys

        # new rows land all over the indexes: SQLite's default 2 MB page cache would read
        # the same pages back again and again; and each commit rewrites most index pages,
        # which a checkpoint after every commit (SQLite's default, at 4 MB of log) copies
        # into the ledger each time
        self.conn.execute(f"PRAGMA cache_size = -{BULK_CACHE_KB}")
        log_kb = BULK_CHECKPOINT_KB
        if isinstance(self.path, Path):  # a file: checkpointed by a thread, this one backs up
            from tokenroute.storage.checkpoints import BACKSTOP_FACTOR, Checkpointer

            if self._checkpoints is None:
                self._checkpoints = Checkpointer(self.path)
            log_kb *= BACKSTOP_FACTOR
        pages = log_kb * 1024 // self.conn.execute("PRAGMA page_size").fetchone()[0]
        self.conn.execute(f"PRAGMA wal_autocheckpoint = {pages}")
        kept, first = self._stored_keys.get(source), source not in self._stored_keys
        self._stored_keys[source] = None  # until this batch is committed
        try:
            result, keys = self._import_batch(source, positions, rows, kept, first)
        except StaleKeys:  # rolled back: again, asking the ledger about every key
            result, keys = self._import_batch(source, positions, rows, None, False)
        self._stored_keys[source] = keys
        if self._checkpoints is not None:
            self._checkpoints.request()
        return tuple(result)  # type: ignore[return-value]

    def _import_batch(
        self,
        source: str,
        positions: Sequence[tuple[str, tuple[int, int, int, str]]],
        rows: Sequence[BulkRow],
        kept: StoredKeys | None,
        first: bool,
    ) -> tuple[BatchResult, StoredKeys | None]:
        """One transaction of import_rows; the keys to keep after it (bulk.StoredKeys)."""
        from tokenroute.storage.bulk import StoredKeys, store_batch

        # a batch inserts each task before its attempts and each tag after its attempt, so
        # SQLite's check of those references, a lookup per row (3% of a first import), is
        # left out (tests/test_import_parallel.py runs foreign_key_check after imports)
        self.conn.execute("PRAGMA foreign_keys = OFF")
        try:
            with self.transaction() as conn:
                keys = StoredKeys.resume(conn, source, kept, first)
                result = store_batch(conn, rows, keys)
                conn.executemany(
                    "INSERT OR REPLACE INTO import_files "
                    "(source, path, size, mtime_ns, offset, head) VALUES (?, ?, ?, ?, ?, ?)",
                    [(source, path, *position) for path, position in positions],
                )
                if keys is not None and not keys.stored(conn, rows):
                    keys = None
        finally:
            self.conn.execute("PRAGMA foreign_keys = ON")
        return result, keys

    def unpriced_attempts(self, since: str | None) -> list[Unpriced]:
        """Attempts stored with cost unknown, from `since` (a UTC stamp) on."""
        from tokenroute.storage.repricing import unpriced_attempts

        return unpriced_attempts(self.conn, since)

    def set_prices(self, prices: Sequence[NewPrice]) -> int:
        """Price attempts that are still unknown, summaries kept equal to a rebuild."""
        from tokenroute.storage.repricing import set_prices

        with self.transaction() as conn:
            return set_prices(conn, prices)

    def preview_rows(self, rows: Sequence[BulkRow]) -> tuple[int, int, int]:
        """What `import_rows` would add, skip and replace, changing nothing (--dry-run)."""
        from tokenroute.storage.bulk import preview_batch

        return tuple(preview_batch(self.conn, rows))  # type: ignore[return-value]

    def import_positions(self, source: str) -> dict[str, tuple[int, int, int, str]]:
        """Every file of a source as the last import left it, in one query."""
        rows = self.conn.execute(
            "SELECT path, size, mtime_ns, offset, head FROM import_files WHERE source = ?",
            (source,),
        )
        return {path: tuple(rest) for path, *rest in rows}  # type: ignore[misc]

    # ------------------------------------------------------------ reads

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, params).fetchall()

    def recent_attempts(self, where: AttemptFilter, limit: int) -> list[dict[str, Any]]:
        """The newest attempts first, as plain rows (what `tokenroute log` shows)."""
        from tokenroute.storage.report_windows import attempt_conditions

        conditions, params = attempt_conditions(where)
        clause = ("WHERE " + " AND ".join(conditions)) if conditions else ""
        cursor = self.conn.execute(
            f"""SELECT a.id, a.started_at, a.task_id, a.attempt, a.task_type, a.provider,
                a.model, a.tier, a.status, a.error_kind, a.input_tokens, a.cache_read_tokens,
                a.cache_write_tokens, a.cache_write_1h_tokens, a.output_tokens,
                a.reasoning_tokens, a.cost_micros, a.latency_ms, a.source, a.project,
                a.user_name, a.host_name,
                (SELECT group_concat(tag, ',') FROM attempt_tags WHERE attempt_id = a.id)
                    AS tags
            FROM attempts a {clause} ORDER BY a.started_at DESC, a.id DESC LIMIT ?""",
            [*params, limit],
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]

    def outcomes_by_tier(self, task_type: str) -> tuple[dict[str, tuple[int, int]], int]:
        """Per tier, (successes, failures) of the tasks of this type that started there, and
        how many tasks that is.

        First tries only: a task that reached a tier because a cheaper one had failed it is
        harder than one started there, and would bias that tier's record. What counts is a
        finished task's outcome, an invalid answer and an escalation; the retries of a task
        are one failure, and an HTTP error, a timeout or a rate limit says nothing.
        """
        found = self.first_tries([task_type]).get(task_type, {})
        return found, sum(w + f for w, f in found.values())

    def first_tries(
        self, task_types: Iterable[str], newest: int = EVIDENCE_TASKS
    ) -> dict[str, dict[str, tuple[int, int]]]:
        """outcomes_by_tier of each of these types, from its `newest` tasks of evidence."""
        found: dict[str, dict[str, tuple[int, int]]] = {}
        for task_type in task_types:
            for tier, wins, losses in self.conn.execute(FIRST_TRIES, (task_type, newest)):
                if tier and (wins or losses):
                    found.setdefault(task_type, {})[tier] = (wins, losses)
        return found

    def spend_since(self, scope: str | None, value: str | None, day: str) -> tuple[int, int]:
        """Micro-dollars spent from `day` (YYYY-MM-DD, UTC) on, and the calls whose price is
        unknown: all, or one task type, project or tag. The daily summary answers all but
        tags, which only the attempts know."""
        if scope == "tag":
            sql = (
                "SELECT SUM(a.cost_micros), COUNT(*) FILTER (WHERE a.cost_micros IS NULL) "
                "FROM attempts a JOIN attempt_tags t ON t.attempt_id = a.id "
                "WHERE t.tag = ? AND a.started_at >= ?"
            )
            row = self.conn.execute(sql, (value, day)).fetchone()
        elif scope in ("task_type", "project"):
            row = self.conn.execute(
                "SELECT SUM(cost_micros), SUM(unpriced) FROM usage_daily "
                f"WHERE day >= ? AND {scope} = ?",
                (day, value),
            ).fetchone()
        else:
            row = self.conn.execute(
                "SELECT SUM(cost_micros), SUM(unpriced) FROM usage_daily WHERE day >= ?", (day,)
            ).fetchone()
        return row[0] or 0, row[1] or 0

    def conversation(self, conversation_id: str) -> list[tuple[str, str]]:
        """The turns of a conversation, oldest first, as (role, content)."""
        return self.conn.execute(
            "SELECT role, content FROM messages WHERE conversation_id = ? "
            "ORDER BY turn, role = 'assistant'",
            (conversation_id,),
        ).fetchall()

    def last_conversation(self) -> str | None:
        """The newest conversation with a kept turn (what `run -c` continues): a failed run
        keeps none, so it never becomes the one to continue."""
        row = self.conn.execute(
            "SELECT conversation_id FROM messages ORDER BY created_at DESC, turn DESC LIMIT 1"
        ).fetchone()
        return row[0] if row else None

    def add_turn(self, conversation_id: str, prompt: str, answer: str, at: str) -> None:
        """Keep one exchange, so the next `run -c` can resend it."""
        with self.transaction() as conn:
            turn = conn.execute(
                "SELECT COALESCE(MAX(turn), 0) + 1 FROM messages WHERE conversation_id = ?",
                (conversation_id,),
            ).fetchone()[0]
            conn.executemany(
                "INSERT INTO messages (conversation_id, turn, role, content, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (conversation_id, turn, "user", prompt, at),
                    (conversation_id, turn, "assistant", answer, at),
                ],
            )

    def forget_text(self, before: str, *, dry_run: bool = False) -> tuple[int, int]:
        """Delete the text kept before `before` (a day): run's turns, and the descriptions
        tasks were given (pick, task start). How many of each went. secure_delete overwrites
        the pages and the checkpoint empties the WAL: the text is gone from the file."""
        turns = "FROM messages WHERE created_at < ?"
        described = "FROM tasks WHERE created_at < ? AND description IS NOT NULL"
        count = self.conn.execute(f"SELECT COUNT(*) {turns}", (before,)).fetchone()[0]
        tasks = self.conn.execute(f"SELECT COUNT(*) {described}", (before,)).fetchone()[0]
        found = (count // 2, tasks)  # a turn is a prompt and its answer
        if dry_run or not (count or tasks):
            return found
        self.conn.execute("PRAGMA secure_delete = ON")
        with self.transaction() as conn:
            conn.execute(f"DELETE {turns}", (before,))
            conn.execute(
                "UPDATE tasks SET description = NULL WHERE created_at < ? "
                "AND description IS NOT NULL",
                (before,),
            )
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return found

    def count_attempts(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]


def open_ledger(path: Location, *, create: bool = True) -> Ledger | None:
    """Open (and migrate) the ledger at `path`; None when it does not exist and `create` is off.
    A postgresql:// location (a ServerLedger) opens the team's database instead."""
    if not isinstance(path, Path):
        from tokenroute.storage.postgres import open_postgres

        conn = open_postgres(path, create=create)
        return None if conn is None else Ledger(conn, path)  # type: ignore[arg-type]
    if path.is_dir():
        raise LedgerError(f"{path}: is a folder; give the ledger file's path (--ledger PATH)")
    if not path.exists() or path.stat().st_size == 0:
        if not create:
            return None  # nothing recorded yet: reading must not create the ledger
        _create_private(path)
    read_only = not os.access(path, os.W_OK)
    try:
        conn = _connect(path, read_only)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            conn.close()
            raise LedgerError(
                f"{path}: ledger schema version {version} is newer than this tokenroute "
                f"understands ({SCHEMA_VERSION}): upgrade tokenroute, or use another --ledger"
            )
        _refuse_foreign(conn, path, version)
        if read_only:
            if version < SCHEMA_VERSION:
                raise LedgerError(
                    f"{path}: the ledger is read-only and needs an upgrade to schema "
                    f"{SCHEMA_VERSION}: make it writable once (chmod u+w), then try again"
                )
            return Ledger(conn, path)
        if version == 0:  # a new ledger: before its first table is made
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        _use_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        if version < SCHEMA_VERSION:
            migrate(conn, version)
        _restore_deferred_indexes(conn)
    except sqlite3.DatabaseError as exc:
        raise LedgerError(f"{path}: not a usable SQLite ledger ({exc})") from None
    return Ledger(conn, path)


def _restore_deferred_indexes(conn: sqlite3.Connection) -> None:
    """Build an index a big import left out, should it have been killed before it built it
    (an import under way then builds it no more)."""
    from tokenroute.storage import deferred_indexes

    if deferred_indexes.missing(conn):
        conn.execute("BEGIN IMMEDIATE")
        try:
            deferred_indexes.restore(conn)  # asks again: another process may have built it
        except BaseException:
            _roll_back(conn)
            raise
        conn.execute("COMMIT")


def _roll_back(conn: sqlite3.Connection) -> None:
    """End a failed transaction, unless SQLite already has (some errors roll it back): a
    transaction left open would swallow the connection's next writes."""
    with suppress(sqlite3.DatabaseError):
        conn.execute("ROLLBACK")


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch a new ledger to WAL. Two processes opening a new ledger at once (two people's
    first import) race for the switch, which SQLite refuses at once rather than waiting for
    the busy timeout: wait for the other one here."""
    import time

    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _create_private(path: Path) -> None:
    """An empty ledger file readable by its owner alone: it holds prompts and answers.
    (SQLite gives its -wal and -shm files the database file's mode.)"""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LedgerError(f"{path}: cannot create its folder ({exc.strerror})") from None
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600))
        os.chmod(path, 0o600)  # the umask does not widen it, nor narrows what we chose
    except OSError as exc:
        raise LedgerError(f"{path}: cannot create the ledger ({exc.strerror})") from None


def _connect(path: Path, read_only: bool) -> sqlite3.Connection:
    """A connection; a ledger we may not write is opened read-only, so it can still be
    read (reports, log) instead of failing on SQLite's first write."""
    timeout = BUSY_TIMEOUT_MS / 1000
    if not read_only:
        return sqlite3.connect(path, timeout=timeout, isolation_level=None)
    uri = path.resolve().as_uri()
    try:
        conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=timeout, isolation_level=None)
        conn.execute("PRAGMA user_version").fetchone()
        return conn
    except sqlite3.OperationalError:  # WAL without a writable folder for its -shm file
        wal = Path(f"{path}-wal")
        if wal.exists() and wal.stat().st_size:
            raise LedgerError(
                f"{path}: read-only, and its -wal file holds writes that cannot be read "
                "without a -shm file: copy the ledger somewhere writable"
            ) from None
        return sqlite3.connect(
            f"{uri}?immutable=1", uri=True, timeout=timeout, isolation_level=None
        )


def _refuse_foreign(conn: sqlite3.Connection, path: Path, version: int) -> None:
    """A database of another program's (llm's logs.db, say) is never made into a ledger:
    adding our tables and switching it to WAL would change a file that is not ours. Ours
    has `attempts` and `tasks` from schema 1 on; an empty file at version 0 is a new one."""
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    if (tables or version) and not {"attempts", "tasks"} <= set(tables):
        conn.close()
        shown = ", ".join(sorted(tables)[:3])
        raise LedgerError(
            f"{path}: another program's SQLite database (tables {shown}), not a tokenroute "
            "ledger: give the ledger's own path (--ledger PATH)"
        )
