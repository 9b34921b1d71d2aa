"""The report's reads: small summaries instead of scans of every attempt.

Attempt-level sums come from `usage_daily` for whole days inside the window and from the
attempts themselves only for the partial days at its edges. Task-level figures (tasks,
outcomes, cost-per-task percentiles) come from the totals kept on each task row; a task
belongs to the window its first attempt falls in and to the group of its last attempt.
Grouping by tag has no summary and reads the attempts: correct, but slower.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

from tokenroute.models import AttemptFilter
from tokenroute.storage.report_rows import (
    AttemptTotals,
    ContextRepeat,
    HistoryTax,
    TaskTotals,
    TierOutcome,
    TokenMix,
)
from tokenroute.storage.report_windows import (
    attempt_conditions,
    day_of,
    group_by,
    group_label,
    moment_of,
    select_keys,
    task_where,
    window_rows,
)
from tokenroute.storage.task_costs import task_totals

# Group expressions over the unified usage rows `u`.
USAGE_KEYS = {
    "model": "u.model",
    "tier": "u.tier",
    "task-type": "u.task_type",
    "provider": "u.provider",
    "project": "u.project",
    "tag": "u.tag",
    "user": "u.user_name",
    "host": "u.host_name",
    "day": "u.day",
    "week": "date(u.day, 'weekday 0', '-6 days')",
    "month": "substr(u.day, 1, 7)",
}
_SUMS = (
    "SUM(u.attempts), SUM(u.unpriced), SUM(u.cost_micros), "
    "SUM(CASE WHEN u.ok = 1 THEN 0 ELSE u.cost_micros END), SUM(u.input_tokens), "
    "SUM(u.cache_read_tokens), SUM(u.cache_write_tokens), SUM(u.cache_write_1h_tokens), "
    "SUM(u.output_tokens), SUM(u.reasoning_tokens)"
)


def attempt_totals(
    conn: sqlite3.Connection, by: Sequence[str], where: AttemptFilter
) -> list[AttemptTotals]:
    keys = [USAGE_KEYS[name] for name in by]
    source, params = window_rows(conn, "usage", where, detail=by)
    sql = f"SELECT {select_keys(keys)} {_SUMS} FROM ({source}) AS u {group_by(keys)}"
    width = len(keys)
    return [
        AttemptTotals(tuple(group_label(k) for k in row[:width]), *(v or 0 for v in row[width:]))
        for row in conn.execute(sql, params)
        if row[width]  # a window with no attempts gives one row of NULLs
    ]


def token_mixes(
    conn: sqlite3.Connection, by: Sequence[str], where: AttemptFilter
) -> list[TokenMix]:
    """Tokens and spend of priced attempts per group, day, provider and task type."""
    keys = [USAGE_KEYS[name] for name in by]
    source, params = window_rows(conn, "usage", where, detail=by)
    sql = f"""
        SELECT {select_keys(keys)} u.day, u.provider, u.task_type, SUM(u.input_tokens),
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
                tuple(group_label(k) for k in row[:width]),
                day_of(day),
                provider or None,
                task_type or None,
                tuple(tokens),
                spent,
            )
        )
    return mixes


def daily_spend(conn: sqlite3.Connection, where: AttemptFilter) -> list[tuple[date, Decimal]]:
    source, params = window_rows(conn, "usage", where)
    sql = f"SELECT u.day, SUM(u.cost_micros) FROM ({source}) AS u GROUP BY 1 ORDER BY 1"
    return [
        (date.fromisoformat(day), Decimal(micros) / 1_000_000)
        for day, micros in conn.execute(sql, params)
    ]


def unpriced_models(conn: sqlite3.Connection, where: AttemptFilter) -> list[str]:
    source, params = window_rows(conn, "usage", where)
    sql = f"SELECT DISTINCT u.model FROM ({source}) AS u WHERE u.unpriced > 0 ORDER BY 1"
    return [row[0] for row in conn.execute(sql, params)]


def priced_model_days(
    conn: sqlite3.Connection, where: AttemptFilter
) -> list[tuple[str, date, int, int]]:
    """Priced attempts and their cost per model and day: what the price notes are read from."""
    source, params = window_rows(conn, "usage", where)
    sql = f"""SELECT u.model, u.day, SUM(u.attempts - u.unpriced), SUM(u.cost_micros)
        FROM ({source}) AS u GROUP BY 1, 2 HAVING SUM(u.attempts - u.unpriced) > 0"""
    return [
        (model, date.fromisoformat(day), attempts, micros)
        for model, day, attempts, micros in conn.execute(sql, params)
    ]


def models_by_task_type(
    conn: sqlite3.Connection, where: AttemptFilter
) -> dict[str | None, set[str]]:
    source, params = window_rows(conn, "usage", where)
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
    source, params = window_rows(conn, "tasks", where)
    sql = f"""SELECT d.task_type, d.tier, SUM(d.tasks),
            SUM(CASE WHEN d.outcome = 'success' THEN d.tasks ELSE 0 END)
        FROM ({source}) AS d WHERE d.outcome != 'unknown' GROUP BY 1, 2"""
    counts: dict[tuple[str, str], list[int]] = {}
    for task_type, tier, tasks, successes in conn.execute(sql, params):
        counts[(task_type, tier)] = [tasks, successes]
    clause, escalated_params = task_where(
        where, "t.first_tier IS NOT t.last_tier", "t.outcome != 'unknown'"
    )
    # an escalation after transport errors alone says nothing of the start. Asked per task
    # of the (few) escalated ones, not as a join: PostgreSQL cannot tell how few they are
    # and would hash every attempt of the ledger to answer it (0.2 s at a million)
    moved = f"""SELECT e.task_type, e.first_tier, e.last_tier, COUNT(*) FILTER (WHERE e.answered),
            COUNT(*) FILTER (WHERE e.answered AND e.outcome = 'success')
        FROM (SELECT COALESCE(t.type, t.last_task_type, '') AS task_type,
                COALESCE(t.first_tier, '') AS first_tier, COALESCE(t.last_tier, '') AS last_tier,
                t.outcome, EXISTS (SELECT 1 FROM attempts a WHERE a.task_id = t.id
                    AND a.tier IS t.first_tier AND a.status IN ('ok', 'invalid')) AS answered
            FROM tasks t {clause}) AS e
        GROUP BY 1, 2, 3"""
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
        last_day = (moment_of(where.end) - timedelta(microseconds=1)).date().isoformat()
    newest = conn.execute(
        "SELECT MAX(day) FROM context_daily WHERE day >= ? AND day <= ?",
        ((where.start or "0000")[:10], last_day),
    ).fetchone()[0]
    if newest is None:
        return []
    last = date.fromisoformat(newest)
    first = last - timedelta(days=CONTEXT_DAYS - 1)
    if where.start is not None:
        first = max(first, moment_of(where.start).date())
    conditions, params = ["day >= ?", "day <= ?"], [first.isoformat(), last.isoformat()]
    sql = f"""SELECT context_hash, SUM(attempts), SUM(cache_read_tokens), SUM(other_input_tokens)
        FROM context_daily WHERE {" AND ".join(conditions)}
        GROUP BY context_hash HAVING SUM(attempts) > 1 ORDER BY 2 DESC LIMIT {int(limit)}"""
    return [ContextRepeat(*row) for row in conn.execute(sql, params)]


# ---------------------------------------------------------------- building blocks


def history_tax(conn: sqlite3.Connection, where: AttemptFilter, limit: int = 5) -> list[HistoryTax]:
    """The conversations that re-read the most history in the window (`run -c`)."""
    conditions, params = attempt_conditions(where)
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

    def cost_sample_by_type(
        self, where: AttemptFilter, tasks: int
    ) -> tuple[dict[str, list[int]], bool]:
        from tokenroute.storage.task_costs import cost_sample_by_type

        return cost_sample_by_type(self.conn, where, tasks)

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
