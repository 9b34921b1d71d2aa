"""What an export reads and remembers: the attempts not yet sent to a destination (by row
id, so a call imported late, with an old timestamp, is still sent), and the mark that moves
only once the destination has taken a batch."""

from __future__ import annotations

import sqlite3
from typing import Any, NamedTuple

_PENDING = """
    SELECT a.id, a.started_at, a.ended_at, a.task_id, a.attempt, a.task_type, a.tier,
        a.provider, a.model, a.model_requested, a.model_answered, a.input_tokens,
        a.cache_read_tokens, a.cache_write_tokens, a.cache_write_1h_tokens, a.output_tokens,
        a.reasoning_tokens, a.cost_micros, a.price_revision, a.latency_ms, a.status,
        a.error_kind, a.source, a.source_key, a.project, a.user_name, a.host_name, t.outcome
    FROM attempts a JOIN tasks t ON t.id = a.task_id
    WHERE a.id > ? AND (CAST(? AS TEXT) IS NULL OR a.started_at >= ?)
    ORDER BY a.id LIMIT ?
"""


class Mark(NamedTuple):
    last_id: int  # the destination has every attempt up to this row id
    attempts: int  # how many it was sent, in all
    metrics_until_ns: int  # the end of the last metrics interval sent (0: none yet)


def mark_of(conn: sqlite3.Connection, destination: str) -> Mark:
    row = conn.execute(
        "SELECT last_id, attempts, metrics_until_ns FROM export_marks WHERE destination = ?",
        (destination,),
    ).fetchone()
    return Mark(*row) if row else Mark(0, 0, 0)


def pending(
    conn: sqlite3.Connection, after_id: int, since: str | None, limit: int
) -> list[dict[str, Any]]:
    """Up to `limit` attempts after `after_id` (from `since` on, if given), oldest id first."""
    cursor = conn.execute(_PENDING, (after_id, since, since, limit))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def mark_sent(
    conn: sqlite3.Connection, destination: str, last_id: int, attempts: int, at: str,
    metrics_until_ns: int = 0,
) -> None:  # fmt: skip
    conn.execute(
        "INSERT INTO export_marks VALUES (?, ?, ?, ?, ?) ON CONFLICT (destination) DO UPDATE "
        "SET last_id = MAX(last_id, excluded.last_id), attempts = attempts + excluded.attempts, "
        "updated_at = excluded.updated_at, "
        "metrics_until_ns = MAX(metrics_until_ns, excluded.metrics_until_ns)",
        (destination, last_id, attempts, at, metrics_until_ns),
    )
