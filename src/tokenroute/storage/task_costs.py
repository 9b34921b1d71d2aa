"""Tasks per report group: how many, how they ended, what they cost, and the spread of cost
per task (median and p95 by nearest rank; over SAMPLE_TARGET tasks, from a uniform sample)."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from datetime import date, timedelta

from tokenroute.models import AttemptFilter
from tokenroute.storage.report_rows import TaskTotals
from tokenroute.storage.report_windows import (
    group_by,
    group_label,
    select_keys,
    task_where,
    window_rows,
)

# Group expressions over the tasks table `t`.
TASK_KEYS = {
    "model": "COALESCE(t.last_model, '')",
    "tier": "COALESCE(t.last_tier, '')",
    "task-type": "COALESCE(t.type, t.last_task_type, '')",
    "provider": "COALESCE(t.last_provider, '')",
    "project": "COALESCE(t.project, '')",
    "tag": "tt.tag",
    "user": "tt.user_name",
    "host": "tt.host_name",
    "day": "substr(t.first_at, 1, 10)",
    "week": "date(substr(t.first_at, 1, 10), 'weekday 0', '-6 days')",
    "month": "substr(t.first_at, 1, 7)",
}
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
    if set(by) & PER_ATTEMPT:
        return _task_totals_per_attempt(conn, by, where)
    keys = [TASKS_DAILY_KEYS[name] for name in by]
    source, params = window_rows(conn, "tasks", where)
    sql = f"""
        SELECT {select_keys(keys)} SUM(d.tasks),
            SUM(CASE WHEN d.outcome = 'success' THEN d.tasks END),
            SUM(CASE WHEN d.outcome = 'failure' THEN d.tasks END), SUM(d.cost_micros),
            SUM(CASE WHEN d.outcome = 'failure' THEN d.cost_micros END)
        FROM ({source}) AS d {group_by(keys)}"""
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
        key = tuple(group_label(k) for k in row[:width])
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
        label = tuple(group_label(k) for k in key)
        spreads[label] = (_nearest_rank(values, 0.5), _nearest_rank(values, 0.95))
    return spreads, estimated


def _sampled_tasks(
    conn: sqlite3.Connection, where: AttemptFilter, cut: int, cached: dict[tuple, list[tuple]]
) -> list[tuple]:
    """The window's tasks in the sample, read once a report (see _SAMPLE_KEY)."""
    cache_key = (where, cut)
    if cache_key not in cached:
        clause, params = task_where(where)
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


PER_ATTEMPT = {"tag", "user", "host"}  # a task is in the group of each of its attempts'


def _task_totals_per_attempt(
    conn: sqlite3.Connection, by: Sequence[str], where: AttemptFilter
) -> list[TaskTotals]:
    """No summary holds tags, users or hosts: count the tasks that have an attempt with each
    (a task two people worked on is in both their groups)."""
    keys = [TASK_KEYS[name] for name in by]
    clause, params = task_where(where)
    tags = "JOIN attempt_tags g ON g.attempt_id = a.id" if "tag" in by else ""
    # only the groupings asked for: a task is once in each of their combinations
    columns = {"tag": "g.tag AS tag", "user": "a.user_name", "host": "a.host_name"}
    picked = "".join(f", {columns[name]}" for name in by if name in columns)
    sql = f"""
        SELECT {select_keys(keys)} t.cost_micros, t.outcome FROM tasks t
        LEFT JOIN (SELECT DISTINCT a.task_id{picked} FROM attempts a {tags}) AS tt
            ON tt.task_id = t.id
        {clause}"""
    width = len(keys)
    groups: dict[tuple, list[tuple[int, str]]] = {}
    for row in conn.execute(sql, params):
        groups.setdefault(tuple(group_label(k) for k in row[:width]), []).append(row[width:])
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


def cost_sample_by_type(
    conn: sqlite3.Connection, where: AttemptFilter, tasks: int, target: int = SAMPLE_TARGET
) -> tuple[dict[str, list[int]], bool]:
    """Each task type's task costs (micro-dollars) in the window: every task up to `target`
    of the window's `tasks`, else a uniform sample of about `target` (and True)."""
    estimated = tasks > target
    cut = math.ceil(1000 * target / tasks) if estimated else 1000
    clause, params = task_where(where)
    known, known_params = _known_price(where)
    clause, params = clause + known, [*params, *known_params]
    if cut < 1000:
        clause += f" AND t.sample IN ({', '.join(str(i) for i in range(cut))})"
    costs: dict[str, list[int]] = {}
    sql = f"SELECT t.cost_micros, COALESCE(t.type, t.last_task_type) FROM tasks t {clause}"
    for cost, kind in conn.execute(sql, params):
        costs.setdefault(kind or "", []).append(cost)
    return costs, estimated


def _known_price(where: AttemptFilter) -> tuple[str, list[str]]:
    """The condition that a task has an attempt of known price (never $0 for none).

    The window's others are few and found by the index of unpriced tasks (a task of the
    window has an attempt, so unpriced >= attempts implies unpriced > 0): the rest are then
    read from tasks_by_sample alone, where testing each task's own row read 10,000 rows of
    the table (70 ms at a million attempts)."""
    return (
        " AND t.rowid NOT IN (SELECT tasks.rowid FROM tasks WHERE tasks.unpriced > 0"
        " AND tasks.unpriced >= tasks.attempts AND tasks.first_at >= ? AND tasks.first_at < ?)",
        [where.start or "", where.end or "9999"],
    )
