"""What an export reads and remembers: the attempts not yet sent to a destination (by row
id, so a call imported late, with an old timestamp, is still sent), and the mark that moves
only once the destination has taken a batch."""

from __future__ import annotations

import sqlite3
from typing import Any

_PENDING = """
    SELECT a.id, a.started_at, a.ended_at, a.task_id, a.attempt, a.task_type, a.tier,
        a.provider, a.model, a.model_requested, a.model_answered, a.input_tokens,
        a.cache_read_tokens, a.cache_write_tokens, a.cache_write_1h_tokens, a.output_tokens,
        a.reasoning_tokens, a.cost_micros, a.price_revision, a.latency_ms, a.status,
        a.error_kind, a.source, a.project, a.user_name, a.host_name, t.outcome
    FROM attempts a JOIN tasks t ON t.id = a.task_id
    WHERE a.id > ? AND (? IS NULL OR a.started_at >= ?)
    ORDER BY a.id LIMIT ?
"""


def sent_up_to(conn: sqlite3.Connection, destination: str) -> tuple[int, int]:
    """The last attempt id the destination has, and how many attempts it was sent in all."""
    row = conn.execute(
        "SELECT last_id, attempts FROM export_marks WHERE destination = ?", (destination,)
    ).fetchone()
    return (row[0], row[1]) if row else (0, 0)


def pending(
    conn: sqlite3.Connection, after_id: int, since: str | None, limit: int
) -> list[dict[str, Any]]:
    """Up to `limit` attempts after `after_id` (from `since` on, if given), oldest id first."""
    cursor = conn.execute(_PENDING, (after_id, since, since, limit))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def mark_sent(
    conn: sqlite3.Connection, destination: str, last_id: int, attempts: int, at: str
) -> None:
    conn.execute(
        "INSERT INTO export_marks VALUES (?, ?, ?, ?) ON CONFLICT (destination) DO UPDATE SET "
        "last_id = MAX(last_id, excluded.last_id), attempts = attempts + excluded.attempts, "
        "updated_at = excluded.updated_at",
        (destination, last_id, attempts, at),
    )
