"""The ledger: a plain SQLite file, one row per attempt. The only module that knows SQL.

WAL mode and a busy timeout let parallel pipelines write while a report reads. The schema
version lives in `PRAGMA user_version`; migrations only ever add, so no data is lost, and
a ledger from a newer tokenroute is refused rather than misread.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import compress
from operator import attrgetter, is_not
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from tokenroute.errors import LedgerError
from tokenroute.models import Attempt, AttemptFilter, Task, Usage

if TYPE_CHECKING:
    from tokenroute.storage.repricing import NewPrice, Unpriced

BUSY_TIMEOUT_MS = 30_000
BULK_CACHE_KB = 64 * 1024  # page cache for imports (used only as it fills)

# Each entry moves the schema one version up. Never edit one that has shipped: add another.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE tasks (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        ended_at TEXT,
        type TEXT,
        description TEXT,
        project TEXT,
        outcome TEXT NOT NULL DEFAULT 'unknown'
            CHECK (outcome IN ('success', 'failure', 'unknown')),
        outcome_by TEXT
    );
    CREATE TABLE attempts (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        task_id TEXT NOT NULL REFERENCES tasks(id),
        attempt INTEGER NOT NULL,
        task_type TEXT,
        tier TEXT,
        provider TEXT,
        model TEXT NOT NULL,
        model_requested TEXT,
        model_answered TEXT,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        cache_read_tokens INTEGER NOT NULL DEFAULT 0,
        cache_write_tokens INTEGER NOT NULL DEFAULT 0,
        cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        reasoning_tokens INTEGER NOT NULL DEFAULT 0,
        input_estimated INTEGER NOT NULL DEFAULT 0,
        batch INTEGER NOT NULL DEFAULT 0,
        cost_micros INTEGER,
        price_revision TEXT,
        latency_ms INTEGER,
        status TEXT NOT NULL CHECK (status IN ('ok', 'error', 'invalid', 'cancelled')),
        error_kind TEXT,
        source TEXT NOT NULL,
        source_key TEXT,
        project TEXT,
        prompt_hash TEXT,
        context_hash TEXT
    );
    CREATE UNIQUE INDEX attempts_source_key ON attempts (source, source_key)
        WHERE source_key IS NOT NULL;
    CREATE INDEX attempts_started_at ON attempts (started_at);
    CREATE INDEX attempts_task ON attempts (task_id, attempt);
    CREATE TABLE attempt_tags (
        attempt_id INTEGER NOT NULL REFERENCES attempts(id),
        tag TEXT NOT NULL,
        PRIMARY KEY (attempt_id, tag)
    );
    CREATE INDEX attempt_tags_tag ON attempt_tags (tag);
    """,
    # 2: summaries kept up to date on every write, so reports never scan every attempt.
    """
    ALTER TABLE tasks ADD COLUMN first_at TEXT;
    ALTER TABLE tasks ADD COLUMN last_at TEXT;
    ALTER TABLE tasks ADD COLUMN source TEXT;
    ALTER TABLE tasks ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tasks ADD COLUMN cost_micros INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tasks ADD COLUMN unpriced INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tasks ADD COLUMN last_model TEXT;
    ALTER TABLE tasks ADD COLUMN last_tier TEXT;
    ALTER TABLE tasks ADD COLUMN last_provider TEXT;
    ALTER TABLE tasks ADD COLUMN last_task_type TEXT;
    ALTER TABLE tasks ADD COLUMN sample INTEGER NOT NULL DEFAULT 0;
    UPDATE tasks SET sample = abs(random()) % 1000;
    CREATE INDEX tasks_by_first_at ON tasks (
        first_at, cost_micros, last_model, last_tier, last_provider, last_task_type, type,
        project, source);
    CREATE INDEX tasks_by_sample ON tasks (
        sample, first_at, cost_micros, last_model, last_tier, last_provider, last_task_type,
        type, project, source);
    CREATE TABLE usage_daily (
        day TEXT NOT NULL,
        model TEXT NOT NULL,
        task_type TEXT NOT NULL,
        tier TEXT NOT NULL,
        provider TEXT NOT NULL,
        project TEXT NOT NULL,
        source TEXT NOT NULL,
        ok INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        unpriced INTEGER NOT NULL,
        cost_micros INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        cache_write_tokens INTEGER NOT NULL,
        cache_write_1h_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        PRIMARY KEY (day, model, task_type, tier, provider, project, source, ok)
    ) WITHOUT ROWID;
    CREATE TABLE tasks_daily (
        day TEXT NOT NULL,
        model TEXT NOT NULL,
        task_type TEXT NOT NULL,
        tier TEXT NOT NULL,
        provider TEXT NOT NULL,
        project TEXT NOT NULL,
        source TEXT NOT NULL,
        outcome TEXT NOT NULL,
        tasks INTEGER NOT NULL,
        cost_micros INTEGER NOT NULL,
        PRIMARY KEY (day, model, task_type, tier, provider, project, source, outcome)
    ) WITHOUT ROWID;
    CREATE TABLE context_daily (
        day TEXT NOT NULL,
        context_hash TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        other_input_tokens INTEGER NOT NULL,
        PRIMARY KEY (day, context_hash)
    ) WITHOUT ROWID
    """,
    # 3: conversations. `run -c` resends the history, so the turns are kept; each attempt
    # says which conversation it belongs to and how many of its input tokens were history.
    """
    ALTER TABLE attempts ADD COLUMN conversation_id TEXT;
    ALTER TABLE attempts ADD COLUMN history_tokens INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX attempts_conversation ON attempts (conversation_id, started_at)
        WHERE conversation_id IS NOT NULL;
    CREATE TABLE messages (
        conversation_id TEXT NOT NULL,
        turn INTEGER NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        content TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (conversation_id, turn, role)
    ) WITHOUT ROWID
    """,
    # 4: where each imported log file was read up to, so the next import reads only the rest.
    """
    CREATE TABLE import_files (
        source TEXT NOT NULL,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        offset INTEGER NOT NULL,
        head TEXT NOT NULL,
        PRIMARY KEY (source, path)
    ) WITHOUT ROWID
    """,
    # 5: Claude Code calls are keyed by message id alone (gateways send no request id, and
    # older fork copies drop it); stored 'msg:req' keys lose the request id.
    # Each task's first tier, and tasks by type: pick learns from first tries, per task.
    """
    UPDATE OR IGNORE attempts SET source_key = substr(source_key, 1, instr(source_key, ':') - 1)
    WHERE source = 'claude-code' AND source_key LIKE 'msg%:%';
    ALTER TABLE tasks ADD COLUMN first_tier TEXT;
    UPDATE tasks SET first_tier = (
        SELECT tier FROM attempts WHERE attempts.task_id = tasks.id
        ORDER BY started_at, attempt LIMIT 1);
    CREATE INDEX tasks_by_type ON tasks (COALESCE(type, last_task_type), first_at)
        WHERE first_tier IS NOT NULL AND COALESCE(type, last_task_type) IS NOT NULL;
    CREATE INDEX tasks_escalated ON tasks (first_at)
        WHERE first_tier IS NOT last_tier AND outcome != 'unknown'
    """,
)
# Each task's totals and newest attempt, recomputed from its attempts ({which} picks them).
TASK_TOTALS = """
    UPDATE tasks SET
        first_at = s.first_at, last_at = s.last_at, attempts = s.attempts,
        cost_micros = s.cost, unpriced = s.unpriced, source = l.source,
        last_model = l.model, last_tier = l.tier, last_provider = l.provider,
        last_task_type = l.task_type, project = COALESCE(tasks.project, l.project),
        first_tier = l.first_tier
    FROM (
        SELECT task_id, MIN(started_at) AS first_at, MAX(started_at) AS last_at,
            COUNT(*) AS attempts, COALESCE(SUM(cost_micros), 0) AS cost,
            SUM(cost_micros IS NULL) AS unpriced
        FROM attempts WHERE {which} GROUP BY task_id
    ) AS s
    JOIN (
        SELECT task_id, source, model, tier, provider, task_type, project, first_tier FROM (
            SELECT task_id, source, model, tier, provider, task_type, project,
                ROW_NUMBER() OVER (PARTITION BY task_id ORDER BY started_at DESC, attempt DESC)
                    AS newest,
                FIRST_VALUE(tier) OVER (PARTITION BY task_id ORDER BY started_at, attempt)
                    AS first_tier
            FROM attempts WHERE {which})
        WHERE newest = 1
    ) AS l ON l.task_id = s.task_id
    WHERE tasks.id = s.task_id
"""
# What each task of a type says about the tier it started at (its first try): a success
# there, or a failure there (an answer came back there and it escalated or ended as a
# failure, or an invalid answer on a task with no outcome yet, or the user said so). Not
# evidence: no answer at that tier at all (transport errors only, escalated or not), and a
# task with neither outcome nor invalid answer.
# The newest EVIDENCE_TASKS of a type only: what a tier does now, read in a few ms whatever
# the ledger's size (tasks_by_type).
EVIDENCE_TASKS = 1000
_FIRST_TRIES = """
    SELECT first_tier,
        SUM(outcome = 'success' AND last_tier IS first_tier),
        SUM((last_tier IS NOT first_tier AND answered)
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
# A task left with no attempts (its only call moved to another task) has no totals.
EMPTIED_TASKS = """
    UPDATE tasks SET first_at = NULL, last_at = NULL, attempts = 0, cost_micros = 0,
        unpriced = 0
    WHERE {which} AND first_at IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM attempts WHERE attempts.task_id = tasks.id)
"""
# The summary rows of the attempts or tasks that {where} picks (all of them: "1").
USAGE_DAILY_ROWS = """
    INSERT INTO usage_daily
    SELECT substr(started_at, 1, 10), model, COALESCE(task_type, ''), COALESCE(tier, ''),
        COALESCE(provider, ''), COALESCE(project, ''), source, status = 'ok', COUNT(*),
        SUM(cost_micros IS NULL), COALESCE(SUM(cost_micros), 0), SUM(input_tokens),
        SUM(cache_read_tokens), SUM(cache_write_tokens), SUM(cache_write_1h_tokens),
        SUM(output_tokens)
    FROM attempts WHERE {where} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
"""
TASKS_DAILY_ROWS = """
    INSERT INTO tasks_daily
    SELECT substr(first_at, 1, 10), COALESCE(last_model, ''), COALESCE(type, last_task_type, ''),
        COALESCE(last_tier, ''), COALESCE(last_provider, ''), COALESCE(project, ''),
        COALESCE(source, ''), outcome, COUNT(*), SUM(cost_micros)
    FROM tasks WHERE first_at IS NOT NULL AND {where} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
"""
# Rebuilds every summary from the attempts: after migration 2, and after bulk loads.
REBUILD_SUMMARIES = f"""
    DELETE FROM usage_daily;
    {USAGE_DAILY_ROWS.format(where="1")};
    DELETE FROM context_daily;
    INSERT INTO context_daily
    SELECT substr(started_at, 1, 10), context_hash, COUNT(*), SUM(cache_read_tokens),
        SUM(input_tokens + cache_write_tokens + cache_write_1h_tokens)
    FROM attempts WHERE context_hash IS NOT NULL GROUP BY 1, 2;
    {TASK_TOTALS.format(which="1")};
    {EMPTIED_TASKS.format(which="1")};
    DELETE FROM tasks_daily;
    {TASKS_DAILY_ROWS.format(where="1")}
"""
SCHEMA_VERSION = len(MIGRATIONS)

# An attempt's own fields are columns of the same name; its usage and flags are spelled out,
# and its number (given when it is stored) comes last. Read with one attrgetter: an import
# writes hundreds of thousands of rows.
_SPELLED_OUT = ("usage", "tags", "input_estimated", "batch")
_PLAIN_FIELDS = tuple(name for name in Attempt._fields if name not in _SPELLED_OUT)
_plain_values = attrgetter(*_PLAIN_FIELDS)
_ATTEMPT_COLUMNS = (
    *_PLAIN_FIELDS,
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
    "input_estimated",
    "batch",
    "attempt",
)
# Where attempt_row puts what the bulk writer reads back out of a row.
ROW_STARTED_AT = _ATTEMPT_COLUMNS.index("started_at")
ROW_TASK_ID = _ATTEMPT_COLUMNS.index("task_id")
ROW_SOURCE = _ATTEMPT_COLUMNS.index("source")
ROW_SOURCE_KEY = _ATTEMPT_COLUMNS.index("source_key")
ROW_OUTPUT = _ATTEMPT_COLUMNS.index("output_tokens")
# One attempt for the bulk writer: its row (attempt_row), its task (Task's fields in order)
# and its tags, all plain tuples.
BulkRow = tuple[tuple[Any, ...], tuple[Any, ...], tuple[str, ...]]


def bulk_row(attempt: Attempt, task: Task) -> BulkRow:
    return attempt_row(attempt), tuple(task), attempt.tags


# Binding None costs Python's sqlite3 about a microsecond a value (it tries to adapt it), a
# third of an imported row's time; so a row is inserted with only its non-NULL columns. That
# is the same row: no nullable column of attempts has a default.
_INSERTS: dict[tuple[bool, ...], str] = {}
_NONES = (None,) * len(_ATTEMPT_COLUMNS)


def _insert_for(shape: tuple[bool, ...]) -> str:
    """The INSERT of the columns `shape` marks present."""
    if shape not in _INSERTS:
        columns = list(compress(_ATTEMPT_COLUMNS, shape))
        _INSERTS[shape] = (
            f"INSERT OR IGNORE INTO attempts ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})"
        )
    return _INSERTS[shape]


def _non_null(values: tuple[Any, ...]) -> tuple[tuple[bool, ...], tuple[Any, ...]]:
    """Which columns a row fills, and their values."""
    shape = tuple(map(is_not, values, _NONES))
    return shape, tuple(compress(values, shape))


def insert_attempt(conn: sqlite3.Connection, values: tuple[Any, ...]) -> sqlite3.Cursor:
    """Insert one row (from `attempt_values`); a copy of a stored source key is ignored."""
    shape, present = _non_null(values)
    return conn.execute(_insert_for(shape), present)


def insert_attempts(conn: sqlite3.Connection, rows: Iterable[tuple[Any, ...]]) -> None:
    """Insert many rows, one executemany per set of non-NULL columns (imports have few)."""
    by_shape: dict[tuple[bool, ...], list[tuple[Any, ...]]] = {}
    for values in rows:
        shape, present = _non_null(values)
        by_shape.setdefault(shape, []).append(present)
    for shape, group in by_shape.items():
        conn.executemany(_insert_for(shape), group)


class Stored(NamedTuple):
    """What became of one attempt: its row id and number, or None when it was a duplicate."""

    id: int | None
    attempt: int | None
    task_id: str


class Ledger:
    """An open ledger. Use `open_ledger` to get one."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path

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
        except sqlite3.DatabaseError as exc:
            conn.execute("ROLLBACK")
            raise LedgerError(f"{self.path}: cannot write to the ledger ({exc})") from None
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    # ------------------------------------------------------------ writes

    def add_task(self, task: Task) -> None:
        with self.transaction() as conn:
            insert_task(conn, task)

    def set_outcome(self, task_id: str, outcome: str, by: str, ended_at: str | None) -> bool:
        """Set a task's outcome; False when there is no such task."""
        with self.transaction() as conn, _task_summary_moves(conn, task_id):
            cursor = conn.execute(
                "UPDATE tasks SET outcome = ?, outcome_by = ?, ended_at = COALESCE(?, ended_at) "
                "WHERE id = ?",
                (outcome, by, ended_at, task_id),
            )
            return cursor.rowcount == 1

    def add_attempts(self, batch: Sequence[tuple[Attempt, Task]]) -> list[Stored]:
        """Store attempts (each with the task it belongs to, created if new) in one transaction."""
        with self.transaction() as conn:
            return [_store_attempt(conn, attempt, task) for attempt, task in batch]

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
        from tokenroute.storage.bulk import store_batch

        # new rows land all over the indexes: SQLite's default 2 MB page cache would read
        # the same pages back again and again
        self.conn.execute(f"PRAGMA cache_size = -{BULK_CACHE_KB}")
        with self.transaction() as conn:
            result = store_batch(conn, rows)
            conn.executemany(
                "INSERT OR REPLACE INTO import_files "
                "(source, path, size, mtime_ns, offset, head) VALUES (?, ?, ?, ?, ?, ?)",
                [(source, path, *position) for path, position in positions],
            )
        return tuple(result)  # type: ignore[return-value]

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
        conditions, params = [], []
        for column, value, op in (
            ("started_at", where.start, ">="),
            ("started_at", where.end, "<"),
            ("task_type", where.task_type, "="),
            ("project", where.project, "="),
            ("source", where.source, "="),
            ("model", where.model, "="),
        ):
            if value is not None:
                conditions.append(f"a.{column} {op} ?")
                params.append(value)
        clause = ("WHERE " + " AND ".join(conditions)) if conditions else ""
        cursor = self.conn.execute(
            f"""SELECT a.id, a.started_at, a.task_id, a.attempt, a.task_type, a.provider,
                a.model, a.tier, a.status, a.error_kind, a.input_tokens, a.cache_read_tokens,
                a.cache_write_tokens, a.cache_write_1h_tokens, a.output_tokens,
                a.reasoning_tokens, a.cost_micros, a.latency_ms, a.source, a.project,
                (SELECT group_concat(tag, ',') FROM attempt_tags WHERE attempt_id = a.id)
                    AS tags
            FROM attempts a {clause} ORDER BY a.started_at DESC LIMIT ?""",
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
            for tier, wins, losses in self.conn.execute(_FIRST_TRIES, (task_type, newest)):
                if tier and (wins or losses):
                    found.setdefault(task_type, {})[tier] = (wins, losses)
        return found

    def spend_since(self, scope: str | None, value: str | None, day: str) -> tuple[int, int]:
        """Micro-dollars spent from `day` (YYYY-MM-DD, UTC) on, and the calls whose price is
        unknown: all, or one task type, project or tag. The daily summary answers all but
        tags, which only the attempts know."""
        if scope == "tag":
            sql = (
                "SELECT SUM(a.cost_micros), SUM(a.cost_micros IS NULL) FROM attempts a "
                "JOIN attempt_tags t ON t.attempt_id = a.id WHERE t.tag = ? AND a.started_at >= ?"
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


def open_ledger(path: Path, *, create: bool = True) -> Ledger | None:
    """Open (and migrate) the ledger at `path`; None when it does not exist and `create` is off."""
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
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        if version < SCHEMA_VERSION:
            migrate(conn, version)
    except sqlite3.DatabaseError as exc:
        raise LedgerError(f"{path}: not a usable SQLite ledger ({exc})") from None
    return Ledger(conn, path)


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


def migrate(conn: sqlite3.Connection, version: int) -> None:
    """Apply every migration after `version`, each in its own transaction with its version."""
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            if current >= number:  # another process migrated while we waited for the lock
                conn.execute("COMMIT")
                continue
            for statement in statements(script):
                conn.execute(statement)
            if number == len(MIGRATIONS) and version < 2:
                # the summaries came with migration 2; they are built with the last schema
                for statement in statements(REBUILD_SUMMARIES):
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def statements(script: str) -> Iterable[str]:
    return (s.strip() for s in script.split(";") if s.strip())


def _inherit_from_task(conn: sqlite3.Connection, attempt: Attempt) -> Attempt:
    """An attempt of a typed task is of that type, whatever it says itself (a task is one
    piece of work: its evidence and its spend stay under one type); without a project, it
    is the task's."""
    task_type, project = conn.execute(
        "SELECT type, project FROM tasks WHERE id = ?", (attempt.task_id,)
    ).fetchone()
    return attempt._replace(
        task_type=task_type or attempt.task_type, project=attempt.project or project
    )


# usage_daily rows add up: a row for a group already there is added to it.
ADD_TO_DAILY_ROW = """
    ON CONFLICT DO UPDATE SET
        attempts = attempts + excluded.attempts,
        unpriced = unpriced + excluded.unpriced,
        cost_micros = cost_micros + excluded.cost_micros,
        input_tokens = input_tokens + excluded.input_tokens,
        cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
        cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
        cache_write_1h_tokens = cache_write_1h_tokens + excluded.cache_write_1h_tokens,
        output_tokens = output_tokens + excluded.output_tokens
"""
_ADD_DAILY = (
    "INSERT INTO usage_daily VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)"
    + ADD_TO_DAILY_ROW
)
_ADD_TO_TASK = """
    UPDATE tasks SET
        attempts = attempts + 1,
        cost_micros = cost_micros + ?,
        unpriced = unpriced + ?,
        first_tier = CASE WHEN ? < COALESCE(first_at, '~') THEN ? ELSE first_tier END,
        first_at = MIN(COALESCE(first_at, ?), ?),
        source = CASE WHEN ? >= COALESCE(last_at, '') THEN ? ELSE source END,
        project = COALESCE(project, ?),
        last_model = CASE WHEN ? >= COALESCE(last_at, '') THEN ? ELSE last_model END,
        last_tier = CASE WHEN ? >= COALESCE(last_at, '') THEN ? ELSE last_tier END,
        last_provider = CASE WHEN ? >= COALESCE(last_at, '') THEN ? ELSE last_provider END,
        last_task_type = CASE WHEN ? >= COALESCE(last_at, '') THEN ? ELSE last_task_type END,
        last_at = MAX(COALESCE(last_at, ?), ?)
    WHERE id = ?
"""


_TASK_GROUP = """
    SELECT substr(first_at, 1, 10), COALESCE(last_model, ''), COALESCE(type, last_task_type, ''),
        COALESCE(last_tier, ''), COALESCE(last_provider, ''), COALESCE(project, ''),
        COALESCE(source, ''), outcome, cost_micros
    FROM tasks WHERE id = ? AND first_at IS NOT NULL
"""
_MOVE_TASK = """
    INSERT INTO tasks_daily VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT DO UPDATE SET
        tasks = tasks + excluded.tasks, cost_micros = cost_micros + excluded.cost_micros
"""
_ADD_CONTEXT = """
    INSERT INTO context_daily VALUES (?, ?, 1, ?, ?)
    ON CONFLICT DO UPDATE SET
        attempts = attempts + 1,
        cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
        other_input_tokens = other_input_tokens + excluded.other_input_tokens
"""


@contextmanager
def _task_summary_moves(conn: sqlite3.Connection, task_id: str) -> Iterator[None]:
    """Take a task out of tasks_daily before it changes, and put it back after."""
    before = conn.execute(_TASK_GROUP, (task_id,)).fetchone()
    if before is not None:
        conn.execute(_MOVE_TASK, (*before[:8], -1, -before[8]))
        conn.execute(
            "DELETE FROM tasks_daily WHERE day = ? AND model = ? AND task_type = ? AND tier = ? "
            "AND provider = ? AND project = ? AND source = ? AND outcome = ? AND tasks = 0",
            before[:8],
        )
    yield
    after = conn.execute(_TASK_GROUP, (task_id,)).fetchone()
    if after is not None:
        conn.execute(_MOVE_TASK, (*after[:8], 1, after[8]))


def _add_to_summaries(conn: sqlite3.Connection, a: Attempt) -> None:
    """Keep every summary in step with one new attempt."""
    u = a.usage
    if a.context_hash is not None:
        other = u.input + u.cache_write + u.cache_write_1h
        conn.execute(_ADD_CONTEXT, (a.started_at[:10], a.context_hash, u.cache_read, other))
    known = a.cost_micros is not None
    conn.execute(
        _ADD_DAILY,
        (
            a.started_at[:10],
            a.model,
            a.task_type or "",
            a.tier or "",
            a.provider or "",
            a.project or "",
            a.source,
            int(a.status == "ok"),
            int(not known),
            a.cost_micros or 0,
            u.input,
            u.cache_read,
            u.cache_write,
            u.cache_write_1h,
            u.output,
        ),
    )
    at = a.started_at
    with _task_summary_moves(conn, a.task_id):
        conn.execute(
            _ADD_TO_TASK,
            (
                a.cost_micros or 0,
                int(not known),
                at,
                a.tier,
                at,
                at,
                at,
                a.source,
                a.project,
                at,
                a.model,
                at,
                a.tier,
                at,
                a.provider,
                at,
                a.task_type,
                at,
                at,
                a.task_id,
            ),
        )


def _store_attempt(
    conn: sqlite3.Connection,
    attempt: Attempt,
    task: Task,
) -> Stored:
    """Insert one attempt (and its task when new); a known (source, source_key) is skipped."""
    if (
        attempt.source_key is not None
        and conn.execute(
            "SELECT 1 FROM attempts WHERE source = ? AND source_key = ?",
            (attempt.source, attempt.source_key),
        ).fetchone()
    ):
        return Stored(None, None, attempt.task_id)  # the same call: no attempt, no new task
    insert_task(conn, task)
    if attempt.task_type is None or attempt.project is None:
        attempt = _inherit_from_task(conn, attempt)
    number = conn.execute(
        "SELECT COALESCE(MAX(attempt), 0) + 1 FROM attempts WHERE task_id = ?",
        (attempt.task_id,),
    ).fetchone()[0]
    cursor = insert_attempt(conn, attempt_values(attempt, number))
    if cursor.rowcount == 0:  # the same (source, source_key) is already stored
        return Stored(None, None, attempt.task_id)
    row_id = cursor.lastrowid
    conn.executemany(
        "INSERT OR IGNORE INTO attempt_tags (attempt_id, tag) VALUES (?, ?)",
        [(row_id, tag) for tag in attempt.tags],
    )
    _add_to_summaries(conn, attempt)
    return Stored(row_id, number, attempt.task_id)


def insert_task(conn: sqlite3.Connection, task: Task) -> None:
    insert_tasks(conn, [task])


def insert_tasks(conn: sqlite3.Connection, tasks: Iterable[tuple[Any, ...]]) -> None:
    """Tasks (Task, or a plain tuple in its field order) not stored yet; a task already
    stored keeps what it has."""
    conn.executemany(
        "INSERT OR IGNORE INTO tasks "
        "(id, created_at, type, description, project, outcome, outcome_by, ended_at, sample) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, abs(random()) % 1000)",
        tasks,
    )


def attempt_row(attempt: Attempt) -> tuple[Any, ...]:
    """The attempt's row without its number, in `_ATTEMPT_COLUMNS` order (tags live in
    their own table). A plain tuple: imports send rows between processes."""
    usage: Usage = attempt.usage
    return (
        *_plain_values(attempt),
        usage.input,
        usage.cache_read,
        usage.cache_write,
        usage.cache_write_1h,
        usage.output,
        usage.reasoning,
        int(attempt.input_estimated),
        int(attempt.batch),
    )


def attempt_values(attempt: Attempt, number: int) -> tuple[Any, ...]:
    """The attempt's whole row, numbered."""
    return (*attempt_row(attempt), number)
