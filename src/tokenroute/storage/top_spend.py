"""Where the money goes: the tasks, task types and projects with the most spend in a window,
read from the tasks table (each task's whole cost is kept on its row)."""

from __future__ import annotations

import math
import sqlite3
from typing import NamedTuple

from tokenroute.models import AttemptFilter
from tokenroute.storage.report_windows import task_where, window_rows


class TaskSpend(NamedTuple):
    id: str
    description: str | None
    project: str | None
    task_type: str | None
    model: str | None  # the last attempt's: the model that finished it
    tier: str | None
    outcome: str
    attempts: int
    unpriced: int
    cost_micros: int
    failed_attempts: int  # errors, invalid answers, cancels: the task's retry tax


class GroupSpend(NamedTuple):
    key: str  # a task type or a project ('' when none)
    tasks: int
    successes: int
    cost_micros: int
    unpriced_tasks: int = 0  # tasks with an attempt whose price is unknown: cost is a floor
    unknown_tasks: int = 0  # tasks none of whose attempts has a known price


class Concentration(NamedTuple):
    tasks: int  # in the window
    cost_micros: int  # theirs, in all
    top_tasks: int  # the dearest share of them
    top_cost_micros: int


def top_groups(conn: sqlite3.Connection, where: AttemptFilter, by: str, n: int) -> list[GroupSpend]:
    """The n task types (or projects) with the most spend, from the daily task summaries."""
    from tokenroute.storage.task_costs import TASK_KEYS, task_totals

    clause, params = task_where(where)
    key = TASK_KEYS[by]
    unpriced = {
        ("" if k is None else k): (some, every)
        for k, some, every in conn.execute(
            f"SELECT {key}, COUNT(*) FILTER (WHERE t.unpriced > 0), "
            f"COUNT(*) FILTER (WHERE t.unpriced = t.attempts) FROM tasks t "
            f"{clause} AND t.unpriced > 0 GROUP BY 1",
            params,
        )
    }
    groups = []
    for g in task_totals(conn, [by], where, spread=False):
        name = "" if g.key[0] == "-" else g.key[0]
        some, every = unpriced.get(name, (0, 0))
        groups.append(GroupSpend(name, g.tasks, g.successes, g.cost_micros, some, every))
    groups.sort(key=lambda g: (-g.cost_micros, g.key))
    return groups[:n]


def dearest_tasks(
    conn: sqlite3.Connection, where: AttemptFilter, n: int, share: float
) -> tuple[list[TaskSpend], Concentration]:
    """The n dearest tasks, and how much of the spend the dearest `share` of the tasks
    took: both from one ranking of the window's tasks by cost, on the covering index on
    (first_at, cost_micros, ...). Only the n are read whole: a window of a million tasks is
    ranked without reading a million rows. SQLite keeps tied tasks in the order it read
    them, so the first n of the longer ranking are those a ranking of n alone picks."""
    source, window_params = window_rows(conn, "tasks", where)
    # the window's tasks and cost from its daily task summaries (top_groups reads them too)
    tasks, cost = conn.execute(
        f"SELECT COALESCE(SUM(d.tasks), 0), COALESCE(SUM(d.cost_micros), 0) FROM ({source}) AS d",
        window_params,
    ).fetchone()
    top = max(1, round(tasks * share)) if tasks else 0
    ranked = _ranked(conn, where, max(top, n), _cost_floor(conn, where, tasks, max(top, n)))
    spread = Concentration(tasks, cost, top, sum(c for _, c in ranked[:top]))
    return _whole_tasks(conn, [rowid for rowid, _ in ranked[:n]]), spread


def _ranked(
    conn: sqlite3.Connection, where: AttemptFilter, count: int, floor: int | None
) -> list[tuple[int, int]]:
    """The window's `count` dearest tasks (rowid, cost), dearest first. With a floor, only
    the tasks costing that or more are sorted (most of the ranking's time is the sort):
    when `count` of them do, they are the `count` dearest of all, in the same order. When
    fewer do, the floor was too high, and every task is ranked."""
    clause, params = task_where(where)
    select = f"SELECT t.rowid, t.cost_micros FROM tasks t {clause}"
    order = " ORDER BY t.cost_micros DESC LIMIT ?"
    if floor is not None:
        above = f"{select} AND t.cost_micros >= ?{order}"
        rows = conn.execute(above, (*params, floor, count)).fetchall()
        if len(rows) == count:
            return rows
    return conn.execute(select + order, (*params, count)).fetchall()


def _cost_floor(
    conn: sqlite3.Connection, where: AttemptFilter, tasks: int, count: int
) -> int | None:
    """A cost below the window's count-th dearest task's, almost surely, from its uniform
    sample (see task_costs): the sample's task at twice the depth (and 20 more) that its
    share of the window gives the count-th. None up to SAMPLE_TARGET tasks (a short sort).
    At a million attempts, the top 5% of tasks are ranked by sorting a tenth of them."""
    from tokenroute.storage import task_costs

    if tasks <= task_costs.SAMPLE_TARGET:
        return None
    cut = math.ceil(1000 * task_costs.SAMPLE_TARGET / tasks)
    depth = math.ceil(2 * count * cut / 1000) + 20
    clause, params = task_where(where)
    sampled = ", ".join(str(i) for i in range(cut))
    row = conn.execute(
        f"SELECT t.cost_micros FROM tasks t {clause} AND t.sample IN ({sampled}) "
        "ORDER BY t.cost_micros DESC LIMIT 1 OFFSET ?",
        (*params, depth - 1),
    ).fetchone()
    return None if row is None else row[0]


def _whole_tasks(conn: sqlite3.Connection, rowids: list[int]) -> list[TaskSpend]:
    """The tasks of these rows, dearest first, with their failed attempts counted."""
    if not rowids:
        return []
    rows = conn.execute(
        "SELECT t.id, t.description, t.project, COALESCE(t.type, t.last_task_type), "
        "t.last_model, t.last_tier, t.outcome, t.attempts, t.unpriced, t.cost_micros, "
        "(SELECT COUNT(*) FROM attempts a WHERE a.task_id = t.id AND a.status != 'ok') "
        f"FROM tasks t WHERE t.rowid IN ({', '.join('?' * len(rowids))}) "
        "ORDER BY t.cost_micros DESC, t.id",
        rowids,
    )
    return [TaskSpend(*row) for row in rows]


class TaskUsage(NamedTuple):
    """One task as report --by task shows it: ccusage's session view, from the ledger."""

    id: str
    first_at: str
    last_at: str
    description: str | None
    project: str | None
    task_type: str | None
    outcome: str
    models: str  # the models its attempts used, comma-separated
    attempts: int
    input_tokens: int  # uncached
    cache_write_tokens: int  # 5-minute writes
    cache_write_1h_tokens: int
    cache_read_tokens: int
    output_tokens: int
    reasoning_tokens: int
    cost_micros: int
    unpriced: int


def task_usage(conn: sqlite3.Connection, where: AttemptFilter) -> list[TaskUsage]:
    """Every task with attempts in the window, its tokens by bucket and its cost there;
    newest activity first."""
    from tokenroute.storage.report_windows import attempt_conditions

    conditions, params = attempt_conditions(where)
    clause = ("WHERE " + " AND ".join(conditions)) if conditions else ""
    # the window's attempts first (by the started_at index: `+a.task_id` keeps SQLite from
    # walking the task index instead), then their tasks; tasks outside the window are not read
    rows = conn.execute(
        f"""SELECT t.id, s.first_at, s.last_at, t.description, t.project,
            COALESCE(t.type, t.last_task_type), t.outcome, s.models, s.attempts, s.input,
            s.cache_write, s.cache_write_1h, s.cache_read, s.output, s.reasoning, s.cost, s.unpriced
        FROM (SELECT a.task_id, MIN(a.started_at) AS first_at, MAX(a.started_at) AS last_at,
                group_concat(DISTINCT a.model) AS models, COUNT(*) AS attempts,
                SUM(a.input_tokens) AS input,
                SUM(a.cache_write_tokens) AS cache_write,
                SUM(a.cache_write_1h_tokens) AS cache_write_1h,
                SUM(a.cache_read_tokens) AS cache_read, SUM(a.output_tokens) AS output,
                SUM(a.reasoning_tokens) AS reasoning, COALESCE(SUM(a.cost_micros), 0) AS cost,
                COUNT(*) FILTER (WHERE a.cost_micros IS NULL) AS unpriced
            FROM attempts a {clause} GROUP BY +a.task_id) AS s
        JOIN tasks t ON t.id = s.task_id
        ORDER BY s.last_at DESC, t.id""",
        params,
    )
    # each engine lists a group's distinct models in its own order: name order, for both
    return [TaskUsage(*row[:7], ",".join(sorted(row[7].split(","))), *row[8:]) for row in rows]
