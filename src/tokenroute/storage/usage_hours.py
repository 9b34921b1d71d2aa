"""The window's attempts summed per UTC hour, with each hour's first and last call: enough to
cut the five-hour usage blocks exactly (a block starts on an hour and lasts five, and the
only gap that can end one early is longer than an hour), at a few thousand rows a year.
A call made exactly on the hour is a row of its own: a block's last instant is its end, so
such a call closes the block before it, while the rest of its hour opens the next."""

from __future__ import annotations

import sqlite3
from typing import NamedTuple

from tokenroute.models import AttemptFilter


class HourUsage(NamedTuple):
    hour: str  # YYYY-MM-DDTHH, UTC
    on_the_hour: int  # 1: the calls made at HH:00:00.000 exactly
    first_at: str
    last_at: str
    attempts: int
    input_tokens: int  # uncached
    cache_write_tokens: int  # 5-minute
    cache_write_1h_tokens: int
    cache_read_tokens: int
    output_tokens: int
    reasoning_tokens: int
    cost_micros: int
    unpriced: int
    models: str  # comma-separated


def hourly_usage(conn: sqlite3.Connection, where: AttemptFilter) -> list[HourUsage]:
    from tokenroute.storage.report_windows import attempt_conditions

    conditions, params = attempt_conditions(where)
    clause = ("WHERE " + " AND ".join(conditions)) if conditions else ""
    rows = conn.execute(
        f"""SELECT substr(a.started_at, 1, 13), substr(a.started_at, 15) = '00:00.000Z',
            MIN(a.started_at), MAX(a.started_at), COUNT(*),
            SUM(a.input_tokens), SUM(a.cache_write_tokens), SUM(a.cache_write_1h_tokens),
            SUM(a.cache_read_tokens), SUM(a.output_tokens), SUM(a.reasoning_tokens),
            COALESCE(SUM(a.cost_micros), 0), COUNT(*) FILTER (WHERE a.cost_micros IS NULL),
            group_concat(DISTINCT a.model)
        FROM attempts a {clause} GROUP BY 1, 2 ORDER BY 1, 2 DESC""",
        params,
    )
    return [HourUsage(*row) for row in rows]
