"""The window's attempts summed per UTC hour, with each hour's first and last call: enough to
cut the five-hour usage blocks exactly (a block starts on an hour and lasts five, and the
only gap that can end one early is longer than an hour), at a few thousand rows a year.
A call made exactly on the hour is a row of its own: a block's last instant is its end, so
such a call closes the block before it, while the rest of its hour opens the next."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from typing import NamedTuple

from tokenroute.models import AttemptFilter
from tokenroute.timewindow import stamp


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


def hourly_usage(
    conn: sqlite3.Connection, where: AttemptFilter, *, sums: bool = True
) -> list[HourUsage]:
    """The window's hours with calls, oldest first (on-the-hour calls before the rest).
    Without `sums`, only each hour's first and last call and its count (the rest 0): what
    cutting the blocks needs, read from the started_at index alone when nothing is filtered.

    Each hour is a range of the started_at index, cut here and joined to the attempts, so
    they are summed in the order they are read. Grouping them by substr(started_at, ...)
    sorted every attempt of the window first: half the report's time at a million."""
    from tokenroute.storage.deferred_indexes import missing
    from tokenroute.storage.report_windows import attempt_conditions

    spans = _hour_spans(conn, where)
    if not spans:
        return []
    conn.execute(_SPANS_TABLE)
    conn.execute("DELETE FROM temp.hour_spans")
    conn.executemany("INSERT INTO temp.hour_spans VALUES (?, ?, ?, ?, ?)", spans)
    conditions, params = attempt_conditions(where._replace(start=None, end=None))
    clause = ("WHERE " + " AND ".join(conditions)) if conditions else ""
    edges = "MIN(a.started_at), MAX(a.started_at)" if conditions else _RANGE_ENDS
    # INDEXED BY: without it a filter (--task-type) can make SQLite build an index of
    # every attempt on that column instead of reading the hour's range; not while a first
    # import goes without that index (storage/deferred_indexes)
    hint = ""  # PostgreSQL: no hints (dialect)
    if isinstance(conn, sqlite3.Connection) and not missing(conn):
        hint = "INDEXED BY attempts_started_at"
    rows = conn.execute(
        f"""SELECT s.hour, s.on_the_hour, {edges}, COUNT(*), {_SUMS if sums else _NO_SUMS}
        FROM temp.hour_spans s JOIN attempts a {hint}
            ON a.started_at >= s.low AND a.started_at < s.high
        {clause} GROUP BY s.n, s.hour, s.on_the_hour, s.low, s.high ORDER BY s.n""",
        params,
    )
    return [HourUsage(*row) for row in rows]


# Nothing filtered, an hour's first and last calls are the ends of its range of the index:
# two seeks, where MIN and MAX compared the stamp of every attempt (a quarter of the time).
_IN_SPAN = "FROM attempts b WHERE b.started_at >= s.low AND b.started_at < s.high"
_RANGE_ENDS = f"(SELECT MIN(b.started_at) {_IN_SPAN}), (SELECT MAX(b.started_at) {_IN_SPAN})"


_SUMS = """SUM(a.input_tokens), SUM(a.cache_write_tokens), SUM(a.cache_write_1h_tokens),
    SUM(a.cache_read_tokens), SUM(a.output_tokens), SUM(a.reasoning_tokens),
    COALESCE(SUM(a.cost_micros), 0), COUNT(*) FILTER (WHERE a.cost_micros IS NULL),
    group_concat(DISTINCT a.model)"""
_NO_SUMS = "0, 0, 0, 0, 0, 0, 0, 0, ''"
_SPANS_TABLE = """CREATE TEMP TABLE IF NOT EXISTS hour_spans (
    n INTEGER PRIMARY KEY, hour TEXT NOT NULL, on_the_hour INTEGER NOT NULL,
    low TEXT NOT NULL, high TEXT NOT NULL)"""
_HOUR = timedelta(hours=1)


def _hour_spans(conn: sqlite3.Connection, where: AttemptFilter) -> list[tuple]:
    """(n, hour, on_the_hour, low, high): each hour from the window's first call to its
    last as two ranges of started_at, [HH:00:00.000, HH:00:00.001) and the rest of the
    hour, cut to the window. Ledger stamps have milliseconds, so the first range holds
    exactly the calls made on the hour."""
    first, last = _first_and_last_call(conn, where)
    if first is None or last is None:
        return []
    hour = datetime.fromisoformat(f"{first[:13]}:00:00+00:00")
    spans: list[tuple] = []
    while (name := f"{hour:%Y-%m-%dT%H}") <= last[:13]:
        hour += _HOUR
        top, rest = f"{name}:00:00.000Z", f"{name}:00:00.001Z"
        for on_the_hour, low, high in ((1, top, rest), (0, rest, stamp(hour))):
            low = max(low, where.start) if where.start else low
            high = min(high, where.end) if where.end else high
            if low < high:
                spans.append((len(spans), name, on_the_hour, low, high))
    return spans


def _first_and_last_call(conn: sqlite3.Connection, where: AttemptFilter) -> tuple:
    """The window's first and last started_at, whatever the other filters: each an end of
    an index range, read at once (a MIN and a MAX in one SELECT would read the range)."""
    low, high = where.start or "", where.end or "9999"
    return conn.execute(
        "SELECT (SELECT MIN(started_at) FROM attempts WHERE started_at >= ? AND started_at < ?),"
        " (SELECT MAX(started_at) FROM attempts WHERE started_at >= ? AND started_at < ?)",
        (low, high, low, high),
    ).fetchone()
