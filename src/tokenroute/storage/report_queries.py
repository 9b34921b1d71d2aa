"""The report's reads: small summaries instead of scans of every attempt.

Attempt-level sums come from `usage_daily` for whole days inside the window and from the
attempts themselves only for the partial days at its edges. Task-level figures (tasks,
outcomes, cost-per-task percentiles) come from the totals kept on each task row; a task
belongs to the window its first attempt falls in and to the group of its last attempt.
Grouping by tag has no summary and reads the attempts: correct, but slower.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from tokenroute.ledger.report import (
    AttemptTotals,
    ContextRepeat,
    HistoryTax,
    TaskTotals,
    TierOutcome,
    TokenMix,
)
from tokenroute.models import AttemptFilter

# Group expressions over the unified usage rows `u` and over the tasks table `t`.
USAGE_KEYS = {
    "model": "u.model",
    "tier": "u.tier",
    "task-type": "u.task_type",
    "provider": "u.provider",
    "project": "u.project",
    "tag": "u.tag",
    "day": "u.day",
    "week": "date(u.day, 'weekday 0', '-6 days')",
    "month": "substr(u.day, 1, 7)",
}
TASK_KEYS = {
    "model": "COALESCE(t.last_model, '')",
    "tier": "COALESCE(t.last_tier, '')",
    "task-type": "COALESCE(t.type, t.last_task_type, '')",
    "provider": "COALESCE(t.last_provider, '')",
    "project": "COALESCE(t.project, '')",
    "tag": "tt.tag",
    "day": "substr(t.first_at, 1, 10)",
    "week": "date(substr(t.first_at, 1, 10), 'weekday 0', '-6 days')",
    "month": "substr(t.first_at, 1, 7)",
}
_SUMS = (
    "SUM(u.attempts), SUM(u.unpriced), SUM(u.cost_micros), "
    "SUM(CASE WHEN u.ok THEN 0 ELSE u.cost_micros END), SUM(u.input_tokens), "
    "SUM(u.cache_read_tokens), SUM(u.cache_write_tokens), SUM(u.cache_write_1h_tokens), "
    "SUM(u.output_tokens)"
)


def attempt_totals(
    conn: sqlite3.Connection, by: Sequence[str], where: AttemptFilter
) -> list[AttemptTotals]:
    keys = [USAGE_KEYS[name] for name in by]
    source, params = _window_rows(conn, "usage", where, with_tag="tag" in by)
    sql = f"SELECT {_keys(keys)} {_SUMS} FROM ({source}) AS u {_group(keys)}"
    width = len(keys)
    return [
        AttemptTotals(tuple(_label(k) for k in row[:width]), *(v or 0 for v in row[width:]))
        for row in conn.execute(sql, params)
        if row[width]  # a window with no attempts gives one row of NULLs
    ]


def token_mixes(
    conn: sqlite3.Connection, by: Sequence[str], where: AttemptFilter
) -> list[TokenMix]:
    """Tokens and spend of priced attempts per group, day, provider and task type."""
    keys = [USAGE_KEYS[name] for name in by]
    source, params = _window_rows(conn, "usage", where, with_tag="tag" in by)
    sql = f"""
        SELECT {_keys(keys)} u.day, u.provider, u.task_type, SUM(u.input_tokens),
            SUM(u.cache_read_tokens), SUM(u.cache_write_tokens), SUM(u.cache_write_1h_tokens),
            SUM(u.output_tokens), SUM(u.cost_micros)
        FROM ({source}) AS u WHERE u.unpriced = 0
        GROUP BY {"".join(f"{i}, " for i in range(1, len(keys) + 1))}
            {len(keys) + 1}, {len(keys) + 2}, {len(keys) + 3}"""
    width = len(keys)
    mixes = []
    for row in conn.execute(sql, params):
        day, provider, task_type, *tokens, spent = row[width:]
        mixes.append(
            TokenMix(
                tuple(_label(k) for k in row[:width]),
                _day(day),
                provider or None,
                task_type or None,
                tuple(tokens),
                spent,
            )
        )
    return mixes


SAMPLE_TARGET = 10_000  # above this many tasks, percentiles come from a uniform sample
MIN_SAMPLE = 20  # fewer sampled tasks than this in a group: its percentiles are unknown
TASKS_DAILY_KEYS = {
    "model": "d.model",
    "tier": "d.tier",
    "task-type": "d.task_type",
    "provider": "d.provider",
    "project": "d.project",
    "day": "d.day",
    "week": "date(d.day, 'weekday 0', '-6 days')",
    "month": "substr(d.day, 1, 7)",
}


def task_totals(
    conn: sqlite3.Connection,
    by: Sequence[str],
    where: AttemptFilter,
    *,
    spread: bool = True,
    samples: dict[tuple, list[tuple]] | None = None,
) -> list[TaskTotals]:
    """Per group: tasks, outcomes, spend, and (with `spread`) the median and p95 of their cost.

    `samples` keeps the sampled task rows between calls of one report (each grouping of a
    report reads the same rows); the caller owns it, so it never outlives the connection."""
    if "tag" in by:
        return _task_totals_by_tag(conn, by, where)
    keys = [TASKS_DAILY_KEYS[name] for name in by]
    source, params = _window_rows(conn, "tasks", where)
    sql = f"""
        SELECT {_keys(keys)} SUM(d.tasks), SUM(CASE WHEN d.outcome = 'success' THEN d.tasks END),
            SUM(CASE WHEN d.outcome = 'failure' THEN d.tasks END), SUM(d.cost_micros),
            SUM(CASE WHEN d.outcome = 'failure' THEN d.cost_micros END)
        FROM ({source}) AS d {_group(keys)}"""
    width = len(keys)
    rows = [row for row in conn.execute(sql, params) if row[width]]
    total = sum(row[width] for row in rows)
    if spread:
        spreads, estimated = _percentiles(
            conn, by, where, total, {} if samples is None else samples
        )
    else:
        spreads, estimated = {}, False
    result = []
    for row in rows:
        key = tuple(_label(k) for k in row[:width])
        counts = tuple(v or 0 for v in row[width:])
        if counts[0] == 1:  # one task: its cost is every percentile, sample or not
            median = p95 = counts[3]
        else:
            median, p95 = spreads.get(key, (None, None))
        result.append(TaskTotals(key, *counts, median, p95, estimated))
    return result


# What each grouping reads from a sampled task row (cost, model, tier, type, provider,
# project, first_at): day, week and month are derived from first_at in Python.
_SAMPLE_KEY = {
    "model": lambda r: r[1],
    "tier": lambda r: r[2],
    "task-type": lambda r: r[3],
    "provider": lambda r: r[4],
    "project": lambda r: r[5],
    "day": lambda r: r[6][:10],
    "week": lambda r: _week(r[6][:10]),
    "month": lambda r: r[6][:7],
}


def _percentiles(
    conn: sqlite3.Connection,
    by: Sequence[str],
    where: AttemptFilter,
    total: int,
    samples: dict[tuple, list[tuple]],
) -> tuple[dict[tuple, tuple[int, int]], bool]:
    """Nearest-rank median and p95 of cost per task, per group: exact up to SAMPLE_TARGET
    tasks, else from the tasks whose random `sample` number (0-999) falls under a cut."""
    estimated = total > SAMPLE_TARGET
    cut = math.ceil(1000 * SAMPLE_TARGET / total) if estimated else 1000
    rows = _sampled_tasks(conn, where, cut, samples)
    getters = [_SAMPLE_KEY[name] for name in by]
    costs: dict[tuple, list[int]] = {}
    if getters:
        for row in rows:
            costs.setdefault(tuple(get(row) for get in getters), []).append(row[0])
    elif rows:
        costs[()] = [row[0] for row in rows]
    spreads = {}
    for key, values in costs.items():
        if estimated and len(values) < MIN_SAMPLE:
            continue  # too few of this group's tasks in the sample: say unknown, not a guess
        values.sort()
        label = tuple(_label(k) for k in key)
        spreads[label] = (_nearest_rank(values, 0.5), _nearest_rank(values, 0.95))
    return spreads, estimated


def _sampled_tasks(
    conn: sqlite3.Connection, where: AttemptFilter, cut: int, cached: dict[tuple, list[tuple]]
) -> list[tuple]:
    """The window's tasks in the sample, read once a report (see _SAMPLE_KEY)."""
    cache_key = (where, cut)
    if cache_key not in cached:
        clause, params = _task_where(where)
        if cut < 1000:
            clause += f" AND t.sample IN ({', '.join(str(i) for i in range(cut))})"
        sql = f"""SELECT t.cost_micros, t.last_model, t.last_tier,
                COALESCE(t.type, t.last_task_type), t.last_provider, t.project, t.first_at
            FROM tasks t {clause}"""
        cached.clear()  # one report at a time: keep only the newest sample
        cached[cache_key] = conn.execute(sql, params).fetchall()
    return cached[cache_key]


def _week(day: str) -> str:
    """The Monday that starts the week (as the SQL groupings name weeks)."""
    moment = date.fromisoformat(day)
    return (moment - timedelta(days=moment.weekday())).isoformat()


def _nearest_rank(ordered: list[int], quantile: float) -> int:
    """The nearest-rank percentile of sorted values: the ceil(q * n)-th smallest."""
    return ordered[max(1, math.ceil(quantile * len(ordered))) - 1]


def _task_totals_by_tag(
    conn: sqlite3.Connection, by: Sequence[str], where: AttemptFilter
) -> list[TaskTotals]:
    """No summary holds tags: count the tasks that have an attempt with each tag."""
    keys = [TASK_KEYS[name] for name in by]
    clause, params = _task_where(where)
    sql = f"""
        SELECT {_keys(keys)} t.cost_micros, t.outcome FROM tasks t
        LEFT JOIN (SELECT DISTINCT a.task_id, g.tag FROM attempts a
                   JOIN attempt_tags g ON g.attempt_id = a.id) AS tt ON tt.task_id = t.id
        {clause}"""
    width = len(keys)
    groups: dict[tuple, list[tuple[int, str]]] = {}
    for row in conn.execute(sql, params):
        groups.setdefault(tuple(_label(k) for k in row[:width]), []).append(row[width:])
    result = []
    for key, tasks in groups.items():
        costs = sorted(cost for cost, _ in tasks)
        failed = [cost for cost, outcome in tasks if outcome == "failure"]
        result.append(
            TaskTotals(
                key,
                len(tasks),
                sum(outcome == "success" for _, outcome in tasks),
                len(failed),
                sum(costs),
                sum(failed),
                _nearest_rank(costs, 0.5),
                _nearest_rank(costs, 0.95),
            )
        )
    return result


def daily_spend(conn: sqlite3.Connection, where: AttemptFilter) -> list[tuple[date, Decimal]]:
    source, params = _window_rows(conn, "usage", where)
    sql = f"SELECT u.day, SUM(u.cost_micros) FROM ({source}) AS u GROUP BY 1 ORDER BY 1"
    return [
        (date.fromisoformat(day), Decimal(micros) / 1_000_000)
        for day, micros in conn.execute(sql, params)
    ]


def unpriced_models(conn: sqlite3.Connection, where: AttemptFilter) -> list[str]:
    source, params = _window_rows(conn, "usage", where)
    sql = f"SELECT DISTINCT u.model FROM ({source}) AS u WHERE u.unpriced > 0 ORDER BY 1"
    return [row[0] for row in conn.execute(sql, params)]


def priced_model_days(
    conn: sqlite3.Connection, where: AttemptFilter
) -> list[tuple[str, date, int, int]]:
    """Priced attempts and their cost per model and day: what the price notes are read from."""
    source, params = _window_rows(conn, "usage", where)
    sql = f"""SELECT u.model, u.day, SUM(u.attempts - u.unpriced), SUM(u.cost_micros)
        FROM ({source}) AS u GROUP BY 1, 2 HAVING SUM(u.attempts - u.unpriced) > 0"""
    return [
        (model, date.fromisoformat(day), attempts, micros)
        for model, day, attempts, micros in conn.execute(sql, params)
    ]


def models_by_task_type(
    conn: sqlite3.Connection, where: AttemptFilter
) -> dict[str | None, set[str]]:
    source, params = _window_rows(conn, "usage", where)
    used: dict[str | None, set[str]] = {}
    sql = f"SELECT DISTINCT u.task_type, u.model FROM ({source}) AS u WHERE u.unpriced = 0"
    for task_type, model in conn.execute(sql, params):
        used.setdefault(task_type or None, set()).add(model)
    return used


def tier_outcomes(conn: sqlite3.Connection, where: AttemptFilter) -> list[TierOutcome]:
    """Per task type and the tier each task started at: tasks, and how many that tier
    finished itself. A task that escalated is a failure of its start, not a success of the
    tier that finished it: the daily summary counts tasks by their last tier, so the few
    escalated ones (an index of their own) are moved back to where they started."""
    source, params = _window_rows(conn, "tasks", where)
    sql = f"""SELECT d.task_type, d.tier, SUM(d.tasks),
            SUM(CASE WHEN d.outcome = 'success' THEN d.tasks ELSE 0 END)
        FROM ({source}) AS d WHERE d.outcome != 'unknown' GROUP BY 1, 2"""
    counts: dict[tuple[str, str], list[int]] = {}
    for task_type, tier, tasks, successes in conn.execute(sql, params):
        counts[(task_type, tier)] = [tasks, successes]
    clause, escalated_params = _task_where(
        where,
        "t.first_tier IS NOT t.last_tier",
        "t.outcome != 'unknown'",
        # an escalation after transport errors alone says nothing of the start
        "EXISTS (SELECT 1 FROM attempts a WHERE a.task_id = t.id AND a.tier IS t.first_tier "
        "AND a.status IN ('ok', 'invalid'))",
    )
    moved = f"""SELECT COALESCE(t.type, t.last_task_type, ''), COALESCE(t.first_tier, ''),
            COALESCE(t.last_tier, ''), COUNT(*), SUM(t.outcome = 'success')
        FROM tasks t {clause} GROUP BY 1, 2, 3"""
    for task_type, first, last, tasks, successes in conn.execute(moved, escalated_params):
        ended = counts.setdefault((task_type, last), [0, 0])
        ended[0] -= tasks
        ended[1] -= successes
        counts.setdefault((task_type, first), [0, 0])[0] += tasks
    return [
        TierOutcome(task_type or None, tier or None, tasks, successes)
        for (task_type, tier), (tasks, successes) in counts.items()
        if tasks > 0
    ]


CONTEXT_DAYS = 7  # caching advice is about what a user does now: the window's last week


def context_repeats(
    conn: sqlite3.Connection, where: AttemptFilter, limit: int = 3
) -> list[ContextRepeat]:
    """The contexts sent most often in the window's last CONTEXT_DAYS days with any.

    The summary holds no project, task type or source: a filtered report asks nothing.
    """
    if where.task_type or where.project or where.source or where.model:
        return []
    last_day = "9999"
    if where.end is not None:  # the end is exclusive: a midnight end leaves that day out
        last_day = (_moment(where.end) - timedelta(microseconds=1)).date().isoformat()
    newest = conn.execute(
        "SELECT MAX(day) FROM context_daily WHERE day >= ? AND day <= ?",
        ((where.start or "0000")[:10], last_day),
    ).fetchone()[0]
    if newest is None:
        return []
    last = date.fromisoformat(newest)
    first = last - timedelta(days=CONTEXT_DAYS - 1)
    if where.start is not None:
        first = max(first, _moment(where.start).date())
    conditions, params = ["day >= ?", "day <= ?"], [first.isoformat(), last.isoformat()]
    sql = f"""SELECT context_hash, SUM(attempts), SUM(cache_read_tokens), SUM(other_input_tokens)
        FROM context_daily WHERE {" AND ".join(conditions)}
        GROUP BY context_hash HAVING SUM(attempts) > 1 ORDER BY 2 DESC LIMIT {int(limit)}"""
    return [ContextRepeat(*row) for row in conn.execute(sql, params)]


# ---------------------------------------------------------------- building blocks

_USAGE_COLUMNS = (
    "day, model, task_type, tier, provider, project, source, ok, attempts, unpriced, "
    "cost_micros, input_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, "
    "output_tokens"
)
_ATTEMPT_AS_USAGE = (
    "substr(a.started_at, 1, 10) AS day, a.model AS model, COALESCE(a.task_type, '') AS task_type, "
    "COALESCE(a.tier, '') AS tier, COALESCE(a.provider, '') AS provider, "
    "COALESCE(a.project, '') AS project, a.source AS source, a.status = 'ok' AS ok, "
    "1 AS attempts, a.cost_micros IS NULL AS unpriced, COALESCE(a.cost_micros, 0) AS cost_micros, "
    "a.input_tokens AS input_tokens, a.cache_read_tokens AS cache_read_tokens, "
    "a.cache_write_tokens AS cache_write_tokens, "
    "a.cache_write_1h_tokens AS cache_write_1h_tokens, a.output_tokens AS output_tokens"
)


_WINDOWS: dict[tuple[int, str, AttemptFilter, bool], str] = {}


def _window_rows(
    conn: sqlite3.Connection, kind: str, where: AttemptFilter, *, with_tag: bool = False
) -> tuple[str, list[Any]]:
    """The window's rows, gathered once per report into a temporary table.

    A report asks a dozen questions of the same window; reading the edge days from the
    attempts once, not a dozen times, is most of what keeps it fast.
    """
    key = (id(conn), kind, where, with_tag)
    name = _WINDOWS.get(key)
    exists = (
        name is not None
        and conn.execute("SELECT 1 FROM temp.sqlite_master WHERE name = ?", (name,)).fetchone()
    )
    if not exists:
        name = f"window_{kind}_{len(_WINDOWS)}"
        build = _usage_rows(where, with_tag=with_tag) if kind == "usage" else _task_rows(where)
        conn.execute(f"CREATE TEMP TABLE {name} AS {build[0]}", build[1])
        _WINDOWS[key] = name
    return f"SELECT * FROM temp.{name}", []


def _usage_rows(where: AttemptFilter, *, with_tag: bool = False) -> tuple[str, list[Any]]:
    """SQL for per-day usage rows of the window: summaries for whole days, attempts at edges."""
    if with_tag:  # no summary by tag: read the attempts of the whole window
        conditions, params = _attempt_conditions(where)
        clause = ("WHERE " + " AND ".join(conditions)) if conditions else ""
        return (
            f"SELECT {_ATTEMPT_AS_USAGE}, COALESCE(g.tag, '') AS tag FROM attempts a "
            f"LEFT JOIN attempt_tags g ON g.attempt_id = a.id {clause}",
            params,
        )
    first_day, end_day = _whole_days(where)
    daily, params = _summary_conditions(where, first_day, end_day)
    parts = [f"SELECT {_USAGE_COLUMNS} FROM usage_daily WHERE {daily}"]
    for low, high in _edges(where, first_day, end_day):
        edge = replace_window(where, low, high)
        conditions, edge_params = _attempt_conditions(edge)
        parts.append(f"SELECT {_ATTEMPT_AS_USAGE} FROM attempts a WHERE {' AND '.join(conditions)}")
        params.extend(edge_params)
    return " UNION ALL ".join(parts), params


_TASK_AS_DAILY = (
    "substr(t.first_at, 1, 10) AS day, COALESCE(t.last_model, '') AS model, "
    "COALESCE(t.type, t.last_task_type, '') AS task_type, COALESCE(t.last_tier, '') AS tier, "
    "COALESCE(t.last_provider, '') AS provider, COALESCE(t.project, '') AS project, "
    "COALESCE(t.source, '') AS source, t.outcome AS outcome, 1 AS tasks, "
    "t.cost_micros AS cost_micros"
)


def _task_rows(where: AttemptFilter) -> tuple[str, list[Any]]:
    """SQL for per-day task rows of the window: tasks_daily for whole days, tasks at edges."""
    first_day, end_day = _whole_days(where)
    daily, params = _summary_conditions(where, first_day, end_day)
    parts = [
        "SELECT day, model, task_type, tier, provider, project, source, outcome, tasks, "
        f"cost_micros FROM tasks_daily WHERE {daily}"
    ]
    for low, high in _edges(where, first_day, end_day):
        clause, edge_params = _task_where(replace_window(where, low, high))
        parts.append(f"SELECT {_TASK_AS_DAILY} FROM tasks t {clause}")
        params.extend(edge_params)
    return " UNION ALL ".join(parts), params


def _summary_conditions(
    where: AttemptFilter, first_day: str | None, end_day: str | None
) -> tuple[str, list[Any]]:
    """The WHERE of a daily summary: its whole days of the window, and the filters."""
    conditions, params = ["1 = 1"], []
    if first_day is not None:
        conditions.append("day >= ?")
        params.append(first_day)
    if end_day is not None:
        conditions.append("day < ?")
        params.append(end_day)
    for column, value in _dimension_filters(where, ""):
        conditions.append(f"{column} = ?")
        params.append(value)
    return " AND ".join(conditions), params


def replace_window(where: AttemptFilter, start: str | None, end: str | None) -> AttemptFilter:
    return where._replace(start=start, end=end)


def _whole_days(where: AttemptFilter) -> tuple[str | None, str | None]:
    """[first whole day, day after the last whole day) of the window, as YYYY-MM-DD."""
    first = end = None
    if where.start is not None:
        start = _moment(where.start)
        day = start.date()
        first = (day if start == _midnight(day) else day + timedelta(days=1)).isoformat()
    if where.end is not None:
        end = _moment(where.end).date().isoformat()  # the day holding `end` is partial or empty
    return first, end


def _edges(where: AttemptFilter, first_day: str | None, end_day: str | None) -> list[tuple]:
    edges = []
    if where.start is not None and first_day is not None:
        boundary = f"{first_day}T00:00:00.000Z"
        if where.start < boundary:
            edges.append((where.start, min(boundary, where.end or boundary)))
    if where.end is not None and end_day is not None:
        boundary = f"{end_day}T00:00:00.000Z"
        low = max(boundary, where.start or boundary)
        if low < where.end and not (where.start is not None and where.start >= where.end):
            edges.append((low, where.end))
    return [e for e in dict.fromkeys(edges) if e[0] < e[1]]


_DAYS: dict[str, date] = {}


def _day(text: str) -> date:
    day = _DAYS.get(text)
    if day is None:
        day = _DAYS[text] = date.fromisoformat(text)
    return day


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _dimension_filters(where: AttemptFilter, prefix: str) -> list[tuple[str, str]]:
    return [
        (f"{prefix}{column}", value)
        for column, value in (
            ("task_type", where.task_type),
            ("project", where.project),
            ("source", where.source),
            ("model", where.model),
        )
        if value is not None
    ]


def _attempt_conditions(where: AttemptFilter) -> tuple[list[str], list[Any]]:
    conditions, params = [], []
    if where.start is not None:
        conditions.append("a.started_at >= ?")
        params.append(where.start)
    if where.end is not None:
        conditions.append("a.started_at < ?")
        params.append(where.end)
    for column, value in _dimension_filters(where, "a."):
        conditions.append(f"{column} = ?")
        params.append(value)
    return conditions, params


def _task_where(where: AttemptFilter, *extra: str) -> tuple[str, list[Any]]:
    conditions = ["t.first_at IS NOT NULL", *extra]
    params: list[Any] = []
    for condition, value in (
        ("t.first_at >= ?", where.start),
        ("t.first_at < ?", where.end),
        ("COALESCE(t.type, t.last_task_type, '') = ?", where.task_type),
        ("COALESCE(t.project, '') = ?", where.project),
        ("COALESCE(t.source, '') = ?", where.source),
        ("COALESCE(t.last_model, '') = ?", where.model),
    ):
        if value is not None:
            conditions.append(condition)
            params.append(value)
    return "WHERE " + " AND ".join(conditions), params


def _keys(keys: Sequence[str]) -> str:
    return "".join(f"{key}, " for key in keys)


def _group(keys: Sequence[str]) -> str:
    return ("GROUP BY " + ", ".join(str(i) for i in range(1, len(keys) + 1))) if keys else ""


def _label(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def history_tax(conn: sqlite3.Connection, where: AttemptFilter, limit: int = 5) -> list[HistoryTax]:
    """The conversations that re-read the most history in the window (`run -c`)."""
    conditions, params = _attempt_conditions(where)
    conditions.append("a.conversation_id IS NOT NULL")
    rows = conn.execute(
        "SELECT a.conversation_id, COUNT(*), SUM(a.input_tokens + a.cache_read_tokens "
        "+ a.cache_write_tokens + a.cache_write_1h_tokens), SUM(a.history_tokens), "
        f"SUM(a.cost_micros) FROM attempts a WHERE {' AND '.join(conditions)} "
        "GROUP BY 1 HAVING SUM(a.history_tokens) > 0 ORDER BY 4 DESC LIMIT ?",
        (*params, limit),
    ).fetchall()
    return [
        HistoryTax(cid, n, inputs, history, Decimal(cost or 0) / 1_000_000)
        for cid, n, inputs, history, cost in rows
    ]


class ReportReader:
    """The report's queries bound to one open ledger: what `report.build_report` reads."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._samples: dict[tuple, list[tuple]] = {}  # sampled task rows, see task_totals

    def attempt_totals(self, by: Sequence[str], where: AttemptFilter) -> list[AttemptTotals]:
        return attempt_totals(self.conn, by, where)

    def task_totals(
        self, by: Sequence[str], where: AttemptFilter, *, spread: bool = True
    ) -> list[TaskTotals]:
        return task_totals(self.conn, by, where, spread=spread, samples=self._samples)

    def token_mixes(self, by: Sequence[str], where: AttemptFilter) -> list[TokenMix]:
        return token_mixes(self.conn, by, where)

    def models_by_task_type(self, where: AttemptFilter) -> dict[str | None, set[str]]:
        return models_by_task_type(self.conn, where)

    def daily_spend(self, where: AttemptFilter) -> list[tuple[date, Decimal]]:
        return daily_spend(self.conn, where)

    def unpriced_models(self, where: AttemptFilter) -> list[str]:
        return unpriced_models(self.conn, where)

    def priced_model_days(self, where: AttemptFilter) -> list[tuple[str, date, int, int]]:
        return priced_model_days(self.conn, where)

    def tier_outcomes(self, where: AttemptFilter) -> list[TierOutcome]:
        return tier_outcomes(self.conn, where)

    def history_tax(self, where: AttemptFilter) -> list[HistoryTax]:
        return history_tax(self.conn, where)

    def context_repeats(self, where: AttemptFilter) -> list[ContextRepeat]:
        return context_repeats(self.conn, where)
