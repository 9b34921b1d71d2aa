"""The ledger: a plain SQLite file, one row per attempt. The only module that knows SQL.

WAL mode and a busy timeout let parallel pipelines write while a report reads. The schema
version lives in `PRAGMA user_version`; migrations only ever add, so no data is lost, and
a ledger from a newer tokenroute is refused rather than misread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlite_utils

from tokenroute.errors import LedgerError
from tokenroute.models import Attempt, AttemptFilter, Task, Usage
from tokenroute.report import ContextRepeat, TaskSlice, TierOutcome, TokenMix

BUSY_TIMEOUT_MS = 30_000

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
)
SCHEMA_VERSION = len(MIGRATIONS)

_ATTEMPT_COLUMNS = (
    "started_at",
    "ended_at",
    "task_id",
    "attempt",
    "task_type",
    "tier",
    "provider",
    "model",
    "model_requested",
    "model_answered",
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
    "input_estimated",
    "batch",
    "cost_micros",
    "price_revision",
    "latency_ms",
    "status",
    "error_kind",
    "source",
    "source_key",
    "project",
    "prompt_hash",
    "context_hash",
)
_INSERT_ATTEMPT = (
    f"INSERT OR IGNORE INTO attempts ({', '.join(_ATTEMPT_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _ATTEMPT_COLUMNS)})"
)


@dataclass(frozen=True)
class Stored:
    """What became of one attempt: its row id and number, or None when it was a duplicate."""

    id: int | None
    attempt: int | None
    task_id: str


class Ledger:
    """An open ledger. Use `open_ledger` to get one."""

    def __init__(self, db: sqlite_utils.Database, path: Path) -> None:
        self.db = db
        self.path = path

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the write lock at once, so writers queue, not fail."""
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    # ------------------------------------------------------------ writes

    def add_task(self, task: Task) -> None:
        with self.transaction() as conn:
            _insert_task(conn, task)

    def set_outcome(self, task_id: str, outcome: str, by: str, ended_at: str | None) -> bool:
        """Set a task's outcome; False when there is no such task."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE tasks SET outcome = ?, outcome_by = ?, ended_at = COALESCE(?, ended_at) "
                "WHERE id = ?",
                (outcome, by, ended_at, task_id),
            )
            return cursor.rowcount == 1

    def add_attempts(self, batch: Sequence[tuple[Attempt, Task]]) -> list[Stored]:
        """Store attempts (each with the task it belongs to, created if new) in one transaction."""
        stored = []
        with self.transaction() as conn:
            for attempt, task in batch:
                _insert_task(conn, task)
                number = conn.execute(
                    "SELECT COALESCE(MAX(attempt), 0) + 1 FROM attempts WHERE task_id = ?",
                    (attempt.task_id,),
                ).fetchone()[0]
                cursor = conn.execute(_INSERT_ATTEMPT, _attempt_values(attempt, number))
                if cursor.rowcount == 0:  # the same (source, source_key) is already stored
                    stored.append(Stored(None, None, attempt.task_id))
                    continue
                row_id = cursor.lastrowid
                conn.executemany(
                    "INSERT OR IGNORE INTO attempt_tags (attempt_id, tag) VALUES (?, ?)",
                    [(row_id, tag) for tag in attempt.tags],
                )
                stored.append(Stored(row_id, number, attempt.task_id))
        return stored

    # ------------------------------------------------------------ reads

    def task(self, task_id: str) -> Task | None:
        row = self.conn.execute(
            "SELECT id, created_at, type, description, project, outcome, outcome_by, ended_at "
            "FROM tasks WHERE id = ?",
            (task_id,),
        ).fetchone()
        return None if row is None else Task(*row)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, params).fetchall()

    def count_attempts(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]

    # ------------------------------------------------------------ report queries

    def task_slices(self, by: Sequence[str], where: AttemptFilter) -> Iterator[TaskSlice]:
        keys = [GROUP_EXPRESSIONS[name] for name in by]
        clause, params = _where(where)
        sql = f"""
            SELECT {_select_keys(keys)} a.task_id, t.outcome, COUNT(*),
                COALESCE(SUM(a.cost_micros), 0), SUM(a.cost_micros IS NULL),
                COALESCE(SUM(CASE WHEN a.status != 'ok' THEN a.cost_micros END), 0),
                SUM(a.input_tokens), SUM(a.cache_read_tokens),
                SUM(a.cache_write_tokens + a.cache_write_1h_tokens), SUM(a.output_tokens)
            FROM attempts a JOIN tasks t ON t.id = a.task_id {_tag_join(by, where)}
            {clause}
            GROUP BY {_group_keys(keys)} a.task_id"""
        width = len(keys)
        for row in self.conn.execute(sql, params):
            yield TaskSlice(tuple(row[:width]), *row[width:])

    def token_mixes(self, by: Sequence[str], where: AttemptFilter) -> Iterator[TokenMix]:
        keys = [GROUP_EXPRESSIONS[name] for name in by]
        clause, params = _where(where, "a.cost_micros IS NOT NULL")
        sql = f"""
            SELECT {_select_keys(keys)} substr(a.started_at, 1, 10), a.provider, a.task_type,
                SUM(a.input_tokens), SUM(a.cache_read_tokens), SUM(a.cache_write_tokens),
                SUM(a.cache_write_1h_tokens), SUM(a.output_tokens), SUM(a.cost_micros)
            FROM attempts a {_tag_join(by, where)} {clause}
            GROUP BY {_group_keys(keys)} {len(keys) + 1}, a.provider, a.task_type"""
        width = len(keys)
        for row in self.conn.execute(sql, params):
            day, provider, task_type, fresh, read, write, write_1h, output, spent = row[width:]
            usage = Usage(
                input=fresh,
                cache_read=read,
                cache_write=write,
                cache_write_1h=write_1h,
                output=output,
            )
            yield TokenMix(
                tuple(row[:width]), date.fromisoformat(day), provider, task_type, usage, spent
            )

    def models_by_task_type(self, where: AttemptFilter) -> dict[str | None, set[str]]:
        clause, params = _where(where, "a.cost_micros IS NOT NULL")
        used: dict[str | None, set[str]] = {}
        sql = (
            f"SELECT DISTINCT a.task_type, a.model FROM attempts a {_tag_join((), where)} {clause}"
        )
        for task_type, model in self.conn.execute(sql, params):
            used.setdefault(task_type, set()).add(model)
        return used

    def daily_spend(self, where: AttemptFilter) -> list[tuple[date, Decimal]]:
        clause, params = _where(where)
        sql = f"""SELECT substr(a.started_at, 1, 10), COALESCE(SUM(a.cost_micros), 0)
            FROM attempts a {_tag_join((), where)} {clause} GROUP BY 1 ORDER BY 1"""
        return [
            (date.fromisoformat(day), Decimal(micros) / 1_000_000)
            for day, micros in self.conn.execute(sql, params)
        ]

    def context_repeats(self, where: AttemptFilter, limit: int = 3) -> list[ContextRepeat]:
        clause, params = _where(where, "a.context_hash IS NOT NULL")
        sql = f"""SELECT a.context_hash, COUNT(*), SUM(a.cache_read_tokens),
                SUM(a.input_tokens + a.cache_write_tokens + a.cache_write_1h_tokens)
            FROM attempts a {_tag_join((), where)} {clause}
            GROUP BY a.context_hash HAVING COUNT(*) > 1 ORDER BY 2 DESC LIMIT {int(limit)}"""
        return [ContextRepeat(*row) for row in self.conn.execute(sql, params)]

    def tier_outcomes(self, where: AttemptFilter) -> list[TierOutcome]:
        """Per task type and tier of each task's last attempt: tasks, and how many succeeded."""
        clause, params = _where(where)
        sql = f"""
            WITH last AS (
                SELECT a.task_id, a.task_type, a.tier, MAX(a.attempt)
                FROM attempts a {_tag_join((), where)} {clause} GROUP BY a.task_id)
            SELECT last.task_type, last.tier, COUNT(*), SUM(t.outcome = 'success')
            FROM last JOIN tasks t ON t.id = last.task_id
            WHERE t.outcome != 'unknown'
            GROUP BY last.task_type, last.tier"""
        return [TierOutcome(*row) for row in self.conn.execute(sql, params)]

    def unpriced_models(self, where: AttemptFilter) -> list[str]:
        clause, params = _where(where, "a.cost_micros IS NULL")
        sql = f"SELECT DISTINCT a.model FROM attempts a {_tag_join((), where)} {clause} ORDER BY 1"
        return [row[0] for row in self.conn.execute(sql, params)]

    def recent_attempts(self, where: AttemptFilter, limit: int) -> list[dict[str, Any]]:
        clause, params = _where(where)
        sql = f"""
            SELECT a.id, a.started_at, a.task_id, a.attempt, a.task_type, a.provider, a.model,
                a.tier, a.status, a.error_kind, a.input_tokens, a.cache_read_tokens,
                a.cache_write_tokens, a.cache_write_1h_tokens, a.output_tokens,
                a.reasoning_tokens, a.cost_micros, a.latency_ms, a.source, a.project,
                (SELECT group_concat(tag, ',') FROM attempt_tags WHERE attempt_id = a.id)
            FROM attempts a {_tag_join((), where)} {clause}
            ORDER BY a.started_at DESC, a.id DESC LIMIT ?"""
        cursor = self.conn.execute(sql, [*params, limit])
        names = [d[0] for d in cursor.description]
        names[-1] = "tags"
        return [dict(zip(names, row, strict=True)) for row in cursor]


GROUP_EXPRESSIONS = {
    "model": "a.model",
    "tier": "COALESCE(a.tier, '-')",
    "task-type": "COALESCE(a.task_type, '-')",
    "provider": "COALESCE(a.provider, '-')",
    "project": "COALESCE(a.project, '-')",
    "tag": "COALESCE(g.tag, '-')",
    "day": "substr(a.started_at, 1, 10)",
    "week": "strftime('%Y-W%W', a.started_at)",
    "month": "substr(a.started_at, 1, 7)",
}


def _select_keys(keys: Sequence[str]) -> str:
    return "".join(f"{key}, " for key in keys)


def _group_keys(keys: Sequence[str]) -> str:
    return "".join(f"{i}, " for i in range(1, len(keys) + 1))


def _tag_join(by: Sequence[str], where: AttemptFilter) -> str:
    if "tag" in by or where.tag is not None:
        return "LEFT JOIN attempt_tags g ON g.attempt_id = a.id"
    return ""


def _where(where: AttemptFilter, *extra: str) -> tuple[str, list[Any]]:
    conditions, params = list(extra), []
    for column, value, op in (
        ("a.started_at", where.start, ">="),
        ("a.started_at", where.end, "<"),
        ("a.task_type", where.task_type, "="),
        ("a.project", where.project, "="),
        ("a.source", where.source, "="),
        ("a.model", where.model, "="),
        ("g.tag", where.tag, "="),
    ):
        if value is not None:
            conditions.append(f"{column} {op} ?")
            params.append(value)
    return ("WHERE " + " AND ".join(conditions)) if conditions else "", params


def open_ledger(path: Path, *, create: bool = True) -> Ledger | None:
    """Open (and migrate) the ledger at `path`; None when it does not exist and `create` is off."""
    if not path.exists():
        if not create:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            conn.close()
            raise LedgerError(
                f"{path}: ledger schema version {version} is newer than this tokenroute "
                f"understands ({SCHEMA_VERSION}): upgrade tokenroute, or use another --ledger"
            )
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        if version < SCHEMA_VERSION:
            migrate(conn, version)
    except sqlite3.DatabaseError as exc:
        raise LedgerError(f"{path}: not a usable SQLite ledger ({exc})") from None
    return Ledger(sqlite_utils.Database(conn), path)


def migrate(conn: sqlite3.Connection, version: int) -> None:
    """Apply every migration after `version`, each in its own transaction with its version."""
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            if current >= number:  # another process migrated while we waited for the lock
                conn.execute("COMMIT")
                continue
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def _statements(script: str) -> Iterable[str]:
    return (s.strip() for s in script.split(";") if s.strip())


def _insert_task(conn: sqlite3.Connection, task: Task) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO tasks "
        "(id, created_at, type, description, project, outcome, outcome_by, ended_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            task.id,
            task.created_at,
            task.type,
            task.description,
            task.project,
            task.outcome,
            task.outcome_by,
            task.ended_at,
        ),
    )


def _attempt_values(attempt: Attempt, number: int) -> tuple[Any, ...]:
    usage: Usage = attempt.usage
    row = asdict(attempt)
    row.update(
        attempt=number,
        input_tokens=usage.input,
        cache_read_tokens=usage.cache_read,
        cache_write_tokens=usage.cache_write,
        cache_write_1h_tokens=usage.cache_write_1h,
        output_tokens=usage.output,
        reasoning_tokens=usage.reasoning,
        input_estimated=int(attempt.input_estimated),
        batch=int(attempt.batch),
    )
    return tuple(row[column] for column in _ATTEMPT_COLUMNS)
