"""Many attempts at once (imports): a few set-based statements per batch, not a dozen per row.

The summaries move with the batch: the new rows are those with an id above the largest one
before it (SQLite gives a new row the next id), so usage_daily and context_daily are topped
up from a GROUP BY over just those rows, and each task the batch touches is taken out of
tasks_daily, recomputed from its own attempts (an indexed read) and put back. The work is
proportional to the batch and its tasks, never to the whole ledger.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from functools import partial
from itertools import count as count_from
from itertools import repeat
from operator import add, eq, is_not, itemgetter
from typing import Any, NamedTuple

from tokenroute.models import Task
from tokenroute.storage.identity import Writer, writer
from tokenroute.storage.rows import (
    ADD_TO_DAILY_ROW,
    ROW_COST,
    ROW_HOST,
    ROW_MODEL,
    ROW_OUTPUT,
    ROW_PROJECT,
    ROW_PROVIDER,
    ROW_SOURCE,
    ROW_SOURCE_KEY,
    ROW_STARTED_AT,
    ROW_TASK_ID,
    ROW_TASK_TYPE,
    ROW_TIER,
    ROW_USER,
    BulkRow,
    insert_attempt,
    insert_attempts,
    insert_tasks,
)
from tokenroute.storage.schema import EMPTIED_TASKS, TASK_TOTALS, statements

CHUNK = 500  # ids per IN (...) list, well under SQLite's bound-parameter limit
_values = itemgetter(0)  # of a BulkRow
_source = itemgetter(ROW_SOURCE)  # of its values
_source_key = itemgetter(ROW_SOURCE_KEY)
_project = itemgetter(ROW_PROJECT)
_task_id = itemgetter(ROW_TASK_ID)
_user = itemgetter(ROW_USER)
_host = itemgetter(ROW_HOST)
_TASK_TYPE = Task._fields.index("type")  # in a task tuple
_not_none = partial(is_not, None)


class BatchResult(NamedTuple):
    added: int
    duplicates: int  # copies of calls already stored with at least as much output
    replaced: int  # stored copies replaced by one with more output


# Daily sums of the attempts {where} selects, times :sign (1 adds them, -1 takes them away).
_DAILY_FROM = f"""
    INSERT INTO usage_daily
    SELECT substr(started_at, 1, 10), model, COALESCE(task_type, ''), COALESCE(tier, ''),
        COALESCE(provider, ''), COALESCE(project, ''), source,
        CASE WHEN status = 'ok' THEN 1 ELSE 0 END, :sign * COUNT(*),
        :sign * COUNT(*) FILTER (WHERE cost_micros IS NULL), :sign * COALESCE(SUM(cost_micros), 0),
        :sign * SUM(input_tokens), :sign * SUM(cache_read_tokens),
        :sign * SUM(cache_write_tokens), :sign * SUM(cache_write_1h_tokens),
        :sign * SUM(output_tokens), :sign * SUM(reasoning_tokens)
    FROM attempts WHERE {{where}} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
    {ADD_TO_DAILY_ROW};
    INSERT INTO context_daily
    SELECT substr(started_at, 1, 10), context_hash, :sign * COUNT(*),
        :sign * SUM(cache_read_tokens),
        :sign * SUM(input_tokens + cache_write_tokens + cache_write_1h_tokens)
    FROM attempts WHERE context_hash IS NOT NULL AND {{where}} GROUP BY 1, 2
    ON CONFLICT DO UPDATE SET
        attempts = attempts + excluded.attempts,
        cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
        other_input_tokens = other_input_tokens + excluded.other_input_tokens
"""
_EMPTY_DAILY = """
    DELETE FROM usage_daily WHERE attempts = 0;
    DELETE FROM context_daily WHERE attempts = 0
"""
_NEW_ROWS = "id > :before"
_GONE_ROWS = "id IN (SELECT id FROM temp.gone_attempts)"

# The touched tasks (temp.batch_tasks) in tasks_daily: out with sign -1, back in with 1.
_TASK_GROUPS = """
    SELECT substr(first_at, 1, 10), COALESCE(last_model, ''), COALESCE(type, last_task_type, ''),
        COALESCE(last_tier, ''), COALESCE(last_provider, ''), COALESCE(project, ''),
        COALESCE(source, ''), outcome{totals}
    FROM tasks WHERE id IN (SELECT id FROM temp.batch_tasks) AND first_at IS NOT NULL
"""
_TASKS_DAILY = f"""
    INSERT INTO tasks_daily
    {_TASK_GROUPS.format(totals=", :sign * COUNT(*), :sign * SUM(cost_micros)")}
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
    ON CONFLICT DO UPDATE SET
        tasks = tasks + excluded.tasks, cost_micros = cost_micros + excluded.cost_micros;
    DELETE FROM tasks_daily WHERE tasks = 0 AND
        (day, model, task_type, tier, provider, project, source, outcome) IN (
            {_TASK_GROUPS.format(totals="")})
"""
_RECOMPUTE_TASKS = TASK_TOTALS.format(which="task_id IN (SELECT id FROM temp.known_tasks)")
# A task first stored by this batch has only the batch's attempts: its totals are summed here,
# in the order the attempts were numbered, rather than by the window query above (0.4 s of a
# first import of 73k calls).
_SET_NEW_TASK = """
    UPDATE tasks SET first_at = ?, last_at = ?, attempts = ?, cost_micros = ?, unpriced = ?,
        source = ?, last_model = ?, last_tier = ?, last_provider = ?, last_task_type = ?,
        project = COALESCE(project, ?), first_tier = ?
    WHERE id = ?
"""
# Attempts that came without a type or project take their task's, as single writes do; only
# rows whose task has one are rewritten (most imported rows have neither).
_INHERIT = """
    UPDATE attempts SET
        task_type = COALESCE((SELECT type FROM tasks WHERE tasks.id = task_id), task_type),
        project = COALESCE(project, (SELECT project FROM tasks WHERE tasks.id = task_id))
    WHERE id > :before AND (
        (SELECT type FROM tasks WHERE tasks.id = task_id) IS NOT task_type
            AND (SELECT type FROM tasks WHERE tasks.id = task_id) IS NOT NULL
        OR project IS NULL AND (SELECT project FROM tasks WHERE tasks.id = task_id) IS NOT NULL)
"""


def store_batch(
    conn: sqlite3.Connection, rows: Sequence[BulkRow], keys: StoredKeys | None = None
) -> BatchResult:
    """Store a batch of attempts (`bulk_row`s), each with its task, inside the caller's
    transaction.

    A call already stored under the same source key is skipped, unless the new copy carries
    more output tokens (a later streaming snapshot): then it replaces the stored one.
    `keys`, when the caller has them (`StoredKeys.resume`), spares asking the ledger about
    keys it does not hold."""
    fresh, gone, duplicates = _sort_out(conn, rows, keys)
    fresh.sort(key=_started_at)  # a task's calls are numbered in the order they were made
    _prepare_temp_tables(conn)
    task_ids = {values[ROW_TASK_ID] for values, _, _ in fresh}
    conn.executemany("INSERT OR IGNORE INTO temp.batch_tasks VALUES (?)", [(t,) for t in task_ids])
    # before the take-out, and the replaced rows deleted only after the new ones are in: a
    # new row never reuses a replaced row's id (an export's mark says "up to this id")
    before = _largest_id(conn)
    if gone:
        _take_out(conn, gone)  # the replaced copies' tasks join the batch's
    conn.execute(
        "INSERT INTO temp.known_tasks SELECT id FROM tasks "
        "WHERE id IN (SELECT id FROM temp.batch_tasks)"
    )
    known = {task_id for (task_id,) in conn.execute("SELECT id FROM temp.known_tasks")}
    _run(conn, _TASKS_DAILY, sign=-1)  # the touched tasks leave their old groups
    first_of_each: dict[str, tuple] = {}
    for _, task, _ in fresh:  # many attempts share a task: the first one's details are kept
        first_of_each.setdefault(task[0], task)
    insert_tasks(conn, first_of_each.values())
    numbers = _next_attempt_numbers(conn, task_ids)
    numbered = _numbered_at_once(fresh, numbers, known)
    if numbered is None:
        numbered = _numbered_one_by_one(conn, fresh, numbers, known)
    keyed, tags, of_new_tasks = numbered
    insert_attempts(conn, keyed)
    if keys is not None and _rows_after(conn, before) != len(fresh):
        raise StaleKeys  # a key taken for new was in the ledger: the caller redoes the batch
    conn.executemany(_SET_NEW_TASK, _new_task_totals(of_new_tasks, first_of_each))
    if gone:
        conn.execute(f"DELETE FROM attempts WHERE {_GONE_ROWS}")
    conn.executemany(
        "INSERT OR IGNORE INTO attempt_tags (attempt_id, tag) "
        "SELECT id, ? FROM attempts WHERE source = ? AND source_key = ?",
        tags,
    )
    if _may_inherit(conn, fresh, first_of_each, known):
        conn.execute(_INHERIT, {"before": before})
    _run(conn, _DAILY_FROM.format(where=_NEW_ROWS), sign=1, before=before)
    _run(conn, _RECOMPUTE_TASKS)
    _run(conn, EMPTIED_TASKS.format(which="id IN (SELECT id FROM temp.batch_tasks)"))
    _run(conn, _TASKS_DAILY, sign=1)  # and join their new ones
    return BatchResult(len(fresh) - len(gone), duplicates, len(gone))


def _numbered_at_once(
    fresh: Sequence[BulkRow], numbers: dict[str, int], known: set[str]
) -> tuple[list[tuple[Any, ...]], list[tuple[str, str, str]], list[tuple[Any, ...]]] | None:
    """What store_batch's loop makes of a batch whose every row is keyed (a first
    import's): the numbered rows (signed where they name no writer), their tags by key,
    and the rows of new tasks, numbered in C rather than a row at a time; None for a batch
    with a keyless row."""
    values = list(map(_values, fresh))
    if None in map(_source_key, values):
        return None
    if None in map(_user, values) or None in map(_host, values):  # a few made the long way
        who = writer()
        values = [
            v if v[ROW_USER] is not None and v[ROW_HOST] is not None else signed(v, who)
            for v in values
        ]
    counters = {task_id: count_from(first) for task_id, first in numbers.items()}
    attempt_numbers = map(next, map(counters.__getitem__, map(_task_id, values)))
    rows = list(map(add, values, zip(attempt_numbers)))  # each row and its number
    tags = [
        (tag, row[ROW_SOURCE], row[ROW_SOURCE_KEY])
        for row, (_, _, attempt_tags) in zip(rows, fresh, strict=True)
        if attempt_tags
        for tag in attempt_tags
    ]
    of_new_tasks = [row for row in rows if row[ROW_TASK_ID] not in known] if known else rows
    return rows, tags, of_new_tasks


def _numbered_one_by_one(
    conn: sqlite3.Connection, fresh: Sequence[BulkRow], numbers: dict[str, int], known: set[str]
) -> tuple[list[tuple[Any, ...]], list[tuple[str, str, str]], list[tuple[Any, ...]]]:
    """`_numbered_at_once` for any batch: rows signed where they name no writer, and each
    keyless row inserted here with its tags (by the row id just written)."""
    keyed: list[tuple[Any, ...]] = []
    tags: list[tuple[str, str, str]] = []
    of_new_tasks: list[tuple[Any, ...]] = []
    who = writer()  # an import's calls are the importing person's
    for values, _, attempt_tags in fresh:
        if values[ROW_USER] is None or values[ROW_HOST] is None:
            values = signed(values, who)
        task_id = values[ROW_TASK_ID]
        row = (*values, numbers[task_id])
        numbers[task_id] += 1
        if task_id not in known:
            of_new_tasks.append(row)
        if values[ROW_SOURCE_KEY] is not None:
            keyed.append(row)
            if attempt_tags:  # most have none: no generator for them
                tags.extend(
                    (tag, values[ROW_SOURCE], values[ROW_SOURCE_KEY]) for tag in attempt_tags
                )
        else:  # no key to find it again by: its tags go in by the row id just written
            written = insert_attempt(conn, row)
            if written.rowcount == 1 and attempt_tags:  # else lastrowid is another row's
                conn.executemany(
                    "INSERT OR IGNORE INTO attempt_tags VALUES (?, ?)",
                    [(written.lastrowid, tag) for tag in attempt_tags],
                )
    return keyed, tags, of_new_tasks


def _may_inherit(
    conn: sqlite3.Connection,
    fresh: Sequence[BulkRow],
    new_tasks: dict[str, tuple[Any, ...]],
    known: set[str],
) -> bool:
    """Whether `_INHERIT` could change a row of the batch: some task of it has a type, or
    some row has no project. Asked per task, not per row (a first import's rows have their
    project, and its tasks no type: the UPDATE would read three subqueries a row to change
    nothing, 3% of the storing at 1M lines)."""
    if None in map(_project, map(_values, fresh)):
        return True
    if any(task[_TASK_TYPE] is not None for task in new_tasks.values()):
        return True
    return bool(known) and bool(
        conn.execute(
            "SELECT 1 FROM tasks WHERE id IN (SELECT id FROM temp.known_tasks) "
            "AND type IS NOT NULL LIMIT 1"
        ).fetchone()
    )


def signed(values: tuple[Any, ...], who: Writer) -> tuple[Any, ...]:
    """The row with the writer's user and host where it names none (rows made in bulk can
    carry them already: log_rows stamps its templates)."""
    row = list(values)
    if row[ROW_USER] is None:
        row[ROW_USER] = who.user
    if row[ROW_HOST] is None:
        row[ROW_HOST] = who.host
    return tuple(row)


def _new_task_totals(
    rows: Sequence[tuple[Any, ...]], tasks: dict[str, tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    """TASK_TOTALS for tasks whose every attempt is in `rows` (numbered rows, each task's in
    the order they were numbered), as `_SET_NEW_TASK`'s parameters. The attempts' type and
    project are read as `_INHERIT` leaves them: the task's type wins, the task's project
    fills a gap."""
    sums: dict[str, list[Any]] = {}
    for row in rows:
        task_id, cost = row[ROW_TASK_ID], row[ROW_COST]
        total = sums.get(task_id)
        if total is None:
            sums[task_id] = total = [0, 0, 0, row, row]  # attempts, cost, unpriced, first, last
        total[0] += 1
        if cost is None:
            total[2] += 1
        else:
            total[1] += cost
        total[4] = row  # numbered in time order: the last one is the newest
    updates = []
    for task_id, (count, cost, unpriced, first, last) in sums.items():
        task = tasks[task_id]
        task_type = task[2] if task[2] is not None else last[ROW_TASK_TYPE]
        project = last[ROW_PROJECT] if last[ROW_PROJECT] is not None else task[4]
        updates.append(
            (
                *(
                    first[ROW_STARTED_AT],
                    last[ROW_STARTED_AT],
                    count,
                    cost,
                    unpriced,
                    last[ROW_SOURCE],
                ),
                *(last[ROW_MODEL], last[ROW_TIER], last[ROW_PROVIDER], task_type, project),
                first[ROW_TIER],
                task_id,
            )
        )
    return updates


def _started_at(row: BulkRow) -> str:
    return row[0][ROW_STARTED_AT]


def preview_batch(conn: sqlite3.Connection, rows: Sequence[BulkRow]) -> BatchResult:
    """What `store_batch` would do, without writing (for --dry-run)."""
    fresh, gone, duplicates = _sort_out(conn, rows, None)
    return BatchResult(len(fresh) - len(gone), duplicates, len(gone))


class StaleKeys(Exception):
    """The kept keys missed one the ledger holds (found because its row was not inserted)."""


def _largest_id(conn: sqlite3.Connection) -> int:
    """The newest attempt's id (0 in an empty ledger): a new row gets one above it."""
    return conn.execute("SELECT COALESCE(MAX(id), 0) FROM attempts").fetchone()[0]


def _rows_after(conn: sqlite3.Connection, before: int) -> int:
    return conn.execute("SELECT COUNT(*) FROM attempts WHERE id > ?", (before,)).fetchone()[0]


class StoredKeys:
    """The source keys of one source in the ledger, as the one process writing them knows
    them: a first import then asks the ledger only about keys it stored itself earlier in
    the import (a call copied into two sessions' logs), not about every key of every batch
    (a tenth of the writer's time at 1,000,000 lines, and on a first import it finds none).

    Kept only from a ledger holding no keyed row of the source, and believed only while the
    largest id is the one this writer left: any other tokenroute writer's row moves it (the
    only tokenroute writes that delete attempts, an import's replacements, insert first).
    Where it could still be wrong (a hand edit deletes the newest row, and a new row takes
    its id), a row of the batch is not inserted: store_batch counts them and raises
    StaleKeys, and the batch is redone asking the ledger. The keys are kept as hashes: a
    collision costs only a look in the ledger."""

    LIMIT = 1_000_000  # keys remembered (70 MB; a first import of 1M lines has 365k); past
    # it the ledger is asked again

    def __init__(self, source: str, last_id: int) -> None:
        self.source = source
        self.last_id = last_id
        self.hashes: set[int] = set()

    @classmethod
    def resume(
        cls, conn: sqlite3.Connection, source: str, kept: StoredKeys | None, first: bool
    ) -> StoredKeys | None:
        """Inside the write transaction: the keys to go on with, or None to ask the ledger.
        `first`: no batch of this source was stored by this writer yet."""
        last_id = _largest_id(conn)
        if kept is not None:
            return kept if kept.last_id == last_id else None
        if (
            not first
            or conn.execute(
                "SELECT 1 FROM attempts WHERE source = ? AND source_key IS NOT NULL LIMIT 1",
                (source,),
            ).fetchone()
        ):
            return None
        return cls(source, last_id)

    def may_hold(self, keyed: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """The keyed rows whose key the ledger may hold: another source's, and this one's
        whose hash is kept. Hashed and looked up in C (a first import has 365k rows, and
        its batches nearly never hold one)."""
        hashes = list(map(hash, map(_source_key, keyed)))
        ours = list(map(eq, repeat(self.source), map(_source, keyed)))
        if all(ours) and self.hashes.isdisjoint(hashes):
            return []
        return [
            values
            for values, key_hash, mine in zip(keyed, hashes, ours, strict=True)
            if not mine or key_hash in self.hashes
        ]

    def stored(self, conn: sqlite3.Connection, rows: Sequence[BulkRow]) -> bool:
        """Add a stored batch's keys (each is in the ledger now, new or not), still inside
        its transaction; False once there are too many to keep."""
        values = list(map(_values, rows))
        keys = map(_source_key, values)
        if not all(map(eq, repeat(self.source), map(_source, values))):
            keys = (v[ROW_SOURCE_KEY] for v in values if v[ROW_SOURCE] == self.source)
        self.hashes.update(map(hash, filter(_not_none, keys)))
        self.last_id = _largest_id(conn)
        return len(self.hashes) <= self.LIMIT


def _sort_out(
    conn: sqlite3.Connection, rows: Sequence[BulkRow], keys: StoredKeys | None
) -> tuple[list[BulkRow], list[int], int]:
    """The attempts to store, the stored copies they replace, and the copies dropped."""
    rows, duplicates = _biggest_copies(rows)
    keyed = list(map(_values, rows))
    if None in map(_source_key, keyed):
        keyed = [values for values in keyed if values[ROW_SOURCE_KEY] is not None]
    if keys is not None:
        keyed = keys.may_hold(keyed)
    stored = _stored_copies(conn, keyed)
    if not stored:  # a first import's every batch, nearly
        return rows, [], duplicates
    fresh: list[BulkRow] = []
    gone: list[int] = []
    for row in rows:
        values = row[0]
        old = stored.get((values[ROW_SOURCE], values[ROW_SOURCE_KEY]))
        if old is None:
            fresh.append(row)
        elif old[1] < values[ROW_OUTPUT]:
            gone.append(old[0])
            fresh.append(row)
        else:
            duplicates += 1
    return fresh, gone, duplicates


def _biggest_copies(rows: Sequence[BulkRow]) -> tuple[list[BulkRow], int]:
    """One copy per source key, the one with the most output; and how many were dropped."""
    values = list(map(_values, rows))
    if None not in map(_source_key, values):  # a first import's groups: every key once, nearly
        keys = set(zip(map(_source, values), map(_source_key, values), strict=True))
        if len(keys) == len(rows):  # found in C, not a row at a time
            return list(rows), 0
    best: dict[tuple[str, str], BulkRow] = {}
    keyless = []
    for row in rows:
        values = row[0]
        if values[ROW_SOURCE_KEY] is None:
            keyless.append(row)
            continue
        key = (values[ROW_SOURCE], values[ROW_SOURCE_KEY])
        if key not in best or values[ROW_OUTPUT] > best[key][0][ROW_OUTPUT]:
            best[key] = row
    return [*best.values(), *keyless], len(rows) - len(best) - len(keyless)


def _stored_copies(
    conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]
) -> dict[tuple[str, str], tuple[int, int]]:
    """(source, source key) -> (row id, output tokens) of the copies already in the ledger."""
    found: dict[tuple[str, str], tuple[int, int]] = {}
    by_source: dict[str, list[str]] = {}
    for values in rows:
        by_source.setdefault(values[ROW_SOURCE], []).append(values[ROW_SOURCE_KEY])
    for source, keys in by_source.items():
        for chunk in _chunks(keys):
            marks = ", ".join("?" for _ in chunk)
            for key, row_id, output in conn.execute(
                f"SELECT source_key, id, output_tokens FROM attempts "
                f"WHERE source = ? AND source_key IN ({marks})",
                (source, *chunk),
            ):
                found[(source, key)] = (row_id, output)
    return found


def _prepare_temp_tables(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS batch_tasks (id TEXT PRIMARY KEY)")
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS gone_attempts (id INTEGER PRIMARY KEY)")
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS known_tasks (id TEXT PRIMARY KEY)")
    conn.execute("DELETE FROM temp.batch_tasks")
    conn.execute("DELETE FROM temp.known_tasks")
    conn.execute("DELETE FROM temp.gone_attempts")


def _take_out(conn: sqlite3.Connection, gone: list[int]) -> None:
    """Take replaced copies out of the daily sums, their tags and their keys."""
    conn.executemany("INSERT OR IGNORE INTO temp.gone_attempts VALUES (?)", [(i,) for i in gone])
    conn.execute(
        "INSERT OR IGNORE INTO temp.batch_tasks SELECT DISTINCT task_id FROM attempts "
        f"WHERE {_GONE_ROWS}"
    )
    _run(conn, _DAILY_FROM.format(where=_GONE_ROWS), sign=-1)
    _run(conn, _EMPTY_DAILY)
    conn.execute(f"DELETE FROM attempt_tags WHERE attempt_{_GONE_ROWS}")
    # out of the way of their new copies' keys; deleted once those are in (store_batch)
    conn.execute(f"UPDATE attempts SET source_key = NULL WHERE {_GONE_ROWS}")


def _next_attempt_numbers(conn: sqlite3.Connection, task_ids: Iterable[str]) -> dict[str, int]:
    numbers = dict.fromkeys(task_ids, 1)
    for chunk in _chunks(sorted(task_ids)):
        marks = ", ".join("?" for _ in chunk)
        for task_id, highest in conn.execute(
            f"SELECT task_id, MAX(attempt) FROM attempts WHERE task_id IN ({marks}) "
            f"AND NOT {_GONE_ROWS} GROUP BY task_id",
            chunk,
        ):
            numbers[task_id] = highest + 1
    return numbers


def _run(conn: sqlite3.Connection, script: str, **params: int) -> None:
    for statement in statements(script):
        names = {name: value for name, value in params.items() if f":{name}" in statement}
        conn.execute(statement, names)


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
