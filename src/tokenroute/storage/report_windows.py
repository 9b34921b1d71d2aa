"""Which rows a report's window reads: whole UTC days from the daily summaries (fast at any
size), the partial days at its edges from the attempts and tasks themselves."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tokenroute.models import AttemptFilter

_USAGE_COLUMNS = (
    "day, model, task_type, tier, provider, project, source, ok, attempts, unpriced, "
    "cost_micros, input_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, "
    "output_tokens, reasoning_tokens"
)
_ATTEMPT_AS_USAGE = (
    "substr(a.started_at, 1, 10) AS day, a.model AS model, COALESCE(a.task_type, '') AS task_type, "
    "COALESCE(a.tier, '') AS tier, COALESCE(a.provider, '') AS provider, "
    "COALESCE(a.project, '') AS project, a.source AS source, "
    "CASE WHEN a.status = 'ok' THEN 1 ELSE 0 END AS ok, 1 AS attempts, "
    "CASE WHEN a.cost_micros IS NULL THEN 1 ELSE 0 END AS unpriced, "
    "COALESCE(a.cost_micros, 0) AS cost_micros, "
    "a.input_tokens AS input_tokens, a.cache_read_tokens AS cache_read_tokens, "
    "a.cache_write_tokens AS cache_write_tokens, "
    "a.cache_write_1h_tokens AS cache_write_1h_tokens, a.output_tokens AS output_tokens, "
    "a.reasoning_tokens AS reasoning_tokens"
)


_WINDOWS: dict[tuple[int, str, AttemptFilter, bool], str] = {}
# Temporary table names, never reused: a closed connection's id() can come back for the next
# one, and the name it left in _WINDOWS must not be counted from again.
_NAMES = itertools.count()


def window_rows(
    conn: sqlite3.Connection, kind: str, where: AttemptFilter, *, detail: Sequence[str] = ()
) -> tuple[str, list[Any]]:
    """The window's rows, gathered once per report into a temporary table.

    A report asks a dozen questions of the same window; reading the edge days from the
    attempts once, not a dozen times, is most of what keeps it fast.
    """
    detail = tuple(sorted(set(detail) & set(DETAIL_COLUMNS)))
    key = (id(conn), kind, where, detail)
    name = _WINDOWS.get(key)
    exists = (
        name is not None
        and conn.execute("SELECT 1 FROM temp.sqlite_master WHERE name = ?", (name,)).fetchone()
    )
    if not exists:
        name = f"window_{kind}_{next(_NAMES)}"
        build = _usage_rows(where, detail=detail) if kind == "usage" else _task_rows(where)
        conn.execute(f"CREATE TEMP TABLE {name} AS {build[0]}", build[1])
        _WINDOWS[key] = name
    return f"SELECT * FROM temp.{name}", []


# What no daily summary holds: grouping by one of these reads the window's attempts.
DETAIL_COLUMNS = {
    "tag": "COALESCE(g.tag, '') AS tag",
    "user": "COALESCE(a.user_name, '') AS user_name",
    "host": "COALESCE(a.host_name, '') AS host_name",
}


def _usage_rows(where: AttemptFilter, *, detail: Sequence[str] = ()) -> tuple[str, list[Any]]:
    """SQL for per-day usage rows of the window: summaries for whole days, attempts at edges
    (or the whole window's attempts, for a --tag filter or a grouping in `detail`)."""
    if detail or where.tag is not None:
        conditions, params = attempt_conditions(where)
        clause = ("WHERE " + " AND ".join(conditions)) if conditions else ""
        extra = "".join(f", {DETAIL_COLUMNS[name]}" for name in detail)
        # one row per tag when grouping by tag: an attempt with two tags is in both groups
        join = "LEFT JOIN attempt_tags g ON g.attempt_id = a.id " if "tag" in detail else ""
        return f"SELECT {_ATTEMPT_AS_USAGE}{extra} FROM attempts a {join}{clause}", params
    first_day, end_day = _whole_days(where)
    daily, params = _summary_conditions(where, first_day, end_day)
    parts = [f"SELECT {_USAGE_COLUMNS} FROM usage_daily WHERE {daily}"]
    for low, high in _edges(where, first_day, end_day):
        edge = replace_window(where, low, high)
        conditions, edge_params = attempt_conditions(edge)
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
    if where.tag is not None:  # no summary by tag: the whole window's tasks
        clause, params = task_where(where)
        return f"SELECT {_TASK_AS_DAILY} FROM tasks t {clause}", params
    first_day, end_day = _whole_days(where)
    daily, params = _summary_conditions(where, first_day, end_day)
    parts = [
        "SELECT day, model, task_type, tier, provider, project, source, outcome, tasks, "
        f"cost_micros FROM tasks_daily WHERE {daily}"
    ]
    for low, high in _edges(where, first_day, end_day):
        clause, edge_params = task_where(replace_window(where, low, high))
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
        start = moment_of(where.start)
        day = start.date()
        first = (day if start == _midnight(day) else day + timedelta(days=1)).isoformat()
    if where.end is not None:
        end = moment_of(where.end).date().isoformat()  # the day holding `end` is partial or empty
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


def day_of(text: str) -> date:
    day = _DAYS.get(text)
    if day is None:
        day = _DAYS[text] = date.fromisoformat(text)
    return day


def moment_of(text: str) -> datetime:
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


def attempt_conditions(where: AttemptFilter) -> tuple[list[str], list[Any]]:
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
    if where.tag is not None:  # --tag: attempts carrying it
        conditions.append(
            "EXISTS (SELECT 1 FROM attempt_tags g WHERE g.attempt_id = a.id AND g.tag = ?)"
        )
        params.append(where.tag)
    return conditions, params


def task_where(where: AttemptFilter, *extra: str) -> tuple[str, list[Any]]:
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
    if where.tag is not None:  # --tag: tasks with an attempt carrying it
        conditions.append(
            "EXISTS (SELECT 1 FROM attempts a JOIN attempt_tags g ON g.attempt_id = a.id "
            "WHERE a.task_id = t.id AND g.tag = ?)"
        )
        params.append(where.tag)
    return "WHERE " + " AND ".join(conditions), params


def select_keys(keys: Sequence[str]) -> str:
    return "".join(f"{key}, " for key in keys)


def group_by(keys: Sequence[str]) -> str:
    return ("GROUP BY " + ", ".join(str(i) for i in range(1, len(keys) + 1))) if keys else ""


def group_label(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)
