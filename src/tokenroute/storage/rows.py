"""How an attempt becomes a row of `attempts`, and the summaries kept in step as it is
stored: one attempt at a time here (record, run), many at once in bulk.py (imports)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from itertools import repeat
from operator import attrgetter, eq, itemgetter
from typing import Any, NamedTuple

from tokenroute.models import Attempt, Task, Usage

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
ROW_MODEL = _ATTEMPT_COLUMNS.index("model")
ROW_TIER = _ATTEMPT_COLUMNS.index("tier")
ROW_PROVIDER = _ATTEMPT_COLUMNS.index("provider")
ROW_TASK_TYPE = _ATTEMPT_COLUMNS.index("task_type")
ROW_PROJECT = _ATTEMPT_COLUMNS.index("project")
ROW_COST = _ATTEMPT_COLUMNS.index("cost_micros")
ROW_USER = _ATTEMPT_COLUMNS.index("user_name")
ROW_HOST = _ATTEMPT_COLUMNS.index("host_name")
ROW_USAGE = _ATTEMPT_COLUMNS.index("input_tokens")  # then cache read, writes, output, reasoning
# One attempt for the bulk writer: its row (attempt_row), its task (Task's fields in order)
# and its tags, all plain tuples.
BulkRow = tuple[tuple[Any, ...], tuple[Any, ...], tuple[str, ...]]


class Stored(NamedTuple):
    """What became of one attempt: its row id and number, or None when it was a duplicate."""

    id: int | None
    attempt: int | None
    task_id: str


def bulk_row(attempt: Attempt, task: Task) -> BulkRow:
    return attempt_row(attempt), tuple(task), attempt.tags


# Python's sqlite3 binds None only after looking for a way to adapt it, and finding none
# costs about a microsecond a value: with ~8 NULLs a row, a sixth of an imported row's
# insert. An adapter that is found at once takes a tenth of that (the value stays None, so
# the column is NULL as before). Process-wide, as sqlite3's adapters are; the same NULL for
# every other statement too.
def _null(value: None) -> None:
    return value


sqlite3.register_adapter(type(None), _null)
_INSERT = (
    f"INSERT OR IGNORE INTO attempts ({', '.join(_ATTEMPT_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _ATTEMPT_COLUMNS)})"
)


def insert_attempt(conn: sqlite3.Connection, values: tuple[Any, ...]) -> sqlite3.Cursor:
    """Insert one row (from `attempt_values`); a copy of a stored source key is ignored."""
    return conn.execute(_INSERT, values)


def insert_attempts(conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert many rows (from `attempt_values`) in one executemany.

    Most columns of an import's rows hold one value for all of them (the source, status,
    provider, price revision, writer, and the NULLs and zeros of what a log does not
    record): 18 of 33 in a first import of Claude Code's logs. Those go into the statement
    as literals, read once as it is prepared, and only the others are bound for each row:
    binding a value costs about as much as SQLite's storing it (at a million lines the
    insert took 1.4 s, and takes 0.8 s so)."""
    shared = shared_columns(rows) if len(rows) >= SHARED_FROM_ROWS else ()
    if not shared:
        conn.executemany(_INSERT, rows)
        return
    if len(shared) == len(_ATTEMPT_COLUMNS):  # every row the same: one value stays bound
        shared = shared[:-1]
    literals = tuple((column, _literal(rows[0][column])) for column in shared)
    varying = tuple(c for c in range(len(_ATTEMPT_COLUMNS)) if c not in shared)
    conn.executemany(_insert_with(literals), map(_values_of(varying), rows))


SHARED_FROM_ROWS = 100  # fewer rows gain less than the search for shared columns costs
# A text value that goes into a statement as it is: nothing SQL could read otherwise (no
# quote, no NUL), short, ASCII; any other value is bound, as always.
_PLAIN_TEXT = re.compile(r"[A-Za-z0-9_.:@/+ -]{0,200}")
_INT64 = range(-(2**63), 2**63)


def _literal(value: Any) -> str | None:
    """`value` as an SQL literal, or None when it must be bound."""
    if value is None:
        return "NULL"
    if type(value) is int and value in _INT64:  # not a bool: True would be read as a name
        return str(value)
    if type(value) is str and _PLAIN_TEXT.fullmatch(value):
        return f"'{value}'"
    return None


def shared_columns(rows: Sequence[tuple[Any, ...]]) -> list[int]:
    """The columns every row has the first row's value in, where that value can be a
    literal. One pass over the rows at C speed; each row that differs drops the columns
    it differs in, and the pass goes on from there."""
    first = rows[0]
    columns = [c for c in range(len(first)) if _literal(first[c]) is not None]
    start = 0
    while len(columns) > 1:
        key = itemgetter(*columns)
        wanted = key(first)
        same = map(eq, repeat(wanted), map(key, rows[start:]))
        for offset, equal in enumerate(same):
            if not equal:
                other = rows[start + offset]
                columns = [c for c in columns if first[c] == other[c]]  # one at least
                start += offset
                break
        else:
            return columns
    return []  # one column or none: not worth a statement of its own


def _values_of(columns: tuple[int, ...]) -> Any:
    """A row's values in `columns`, as a tuple."""
    if len(columns) == 1:
        only = columns[0]
        return lambda row: (row[only],)
    return itemgetter(*columns)


@lru_cache(maxsize=64)
def _insert_with(literals: tuple[tuple[int, str], ...]) -> str:
    """_INSERT with these columns' values written in (column index, literal)."""
    written = dict(literals)
    values = ", ".join(written.get(c, "?") for c in range(len(_ATTEMPT_COLUMNS)))
    return f"INSERT OR IGNORE INTO attempts ({', '.join(_ATTEMPT_COLUMNS)}) VALUES ({values})"


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
        output_tokens = output_tokens + excluded.output_tokens,
        reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens
"""
_ADD_DAILY = (
    "INSERT INTO usage_daily VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?)"
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
def task_summary_moves(conn: sqlite3.Connection, task_id: str) -> Iterator[None]:
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
            u.reasoning,
        ),
    )
    at = a.started_at
    with task_summary_moves(conn, a.task_id):
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


def store_attempt(
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
