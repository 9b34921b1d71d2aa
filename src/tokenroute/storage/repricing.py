"""SQL of `tokenroute prices reprice`: the attempts stored with cost unknown, and pricing them
later with the summaries of just the days and tasks they touch recomputed."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import NamedTuple

from tokenroute.models import Usage
from tokenroute.storage.schema import TASK_TOTALS, TASKS_DAILY_ROWS, USAGE_DAILY_ROWS


class Unpriced(NamedTuple):
    """One attempt stored with cost unknown: what pricing it needs."""

    id: int
    started_at: str
    model: str
    usage: Usage
    batch: bool
    model_answered: str | None = None


class NewPrice(NamedTuple):
    """What pricing one attempt writes: its cost, the table that gave it and the model's
    canonical id, provider and tier (a row that named an unknown model has none of them)."""

    id: int
    cost_micros: int
    price_revision: str
    model: str
    provider: str
    tier: str


def unpriced_attempts(conn: sqlite3.Connection, since: str | None) -> list[Unpriced]:
    rows = conn.execute(
        "SELECT id, started_at, model, input_tokens, cache_read_tokens, cache_write_tokens, "
        "cache_write_1h_tokens, output_tokens, reasoning_tokens, batch, model_answered "
        "FROM attempts WHERE cost_micros IS NULL AND started_at >= ? ORDER BY id",
        (since or "",),
    )
    found = []
    for row in rows.fetchall():
        try:
            usage = Usage(*row[3:9])
        except (TypeError, ValueError):
            continue  # a row no tokenroute wrote: left as it is
        found.append(Unpriced(row[0], row[1], row[2], usage, bool(row[9]), row[10]))
    return found


def set_prices(conn: sqlite3.Connection, prices: Sequence[NewPrice]) -> int:
    """Price the attempts (only those still unknown) and recompute the summaries of their
    days and tasks as a rebuild would. Call inside a transaction. Returns the rows priced."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS repriced (id INTEGER PRIMARY KEY)")
    conn.execute("DELETE FROM temp.repriced")
    conn.executemany(
        "INSERT OR IGNORE INTO temp.repriced (id) "
        "SELECT id FROM attempts WHERE id = ? AND cost_micros IS NULL",
        [(p.id,) for p in prices],
    )
    conn.executemany(
        "UPDATE attempts SET cost_micros = ?, price_revision = ?, model = ?, "
        "provider = COALESCE(provider, ?), tier = COALESCE(tier, ?) "
        "WHERE id = ? AND cost_micros IS NULL",
        [(p.cost_micros, p.price_revision, p.model, p.provider, p.tier, p.id) for p in prices],
    )
    priced = conn.execute("SELECT COUNT(*) FROM temp.repriced").fetchone()[0]
    if priced:
        _recompute_summaries(conn)
    conn.execute("DELETE FROM temp.repriced")
    return priced


def _recompute_summaries(conn: sqlite3.Connection) -> None:
    picked = "FROM attempts a JOIN temp.repriced r ON a.id = r.id"
    days = f"SELECT DISTINCT substr(a.started_at, 1, 10) {picked}"
    tasks = f"SELECT DISTINCT a.task_id {picked}"
    conn.execute(f"DELETE FROM usage_daily WHERE day IN ({days})")
    conn.execute(USAGE_DAILY_ROWS.format(where=f"substr(started_at, 1, 10) IN ({days})"))
    # a task's last model, tier and cost may change; its first day does not
    task_days = f"SELECT DISTINCT substr(first_at, 1, 10) FROM tasks WHERE id IN ({tasks})"
    conn.execute(f"CREATE TEMP TABLE repriced_days AS {task_days}")
    conn.execute(TASK_TOTALS.format(which=f"task_id IN ({tasks})"))
    day_list = "SELECT * FROM temp.repriced_days"
    conn.execute(f"DELETE FROM tasks_daily WHERE day IN ({day_list})")
    conn.execute(TASKS_DAILY_ROWS.format(where=f"substr(first_at, 1, 10) IN ({day_list})"))
    conn.execute("DROP TABLE temp.repriced_days")
