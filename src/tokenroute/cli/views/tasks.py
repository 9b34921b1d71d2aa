"""What `report --by task` prints: one row per task (a session, for an agent's logs), named
by its description or project, with every token bucket and its cost in the window."""

from __future__ import annotations

import csv
import sys
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tokenroute.cli import render
from tokenroute.cli.render import Column

if TYPE_CHECKING:
    from tokenroute.storage.top_spend import TaskUsage

NAME_WIDTH = 40
CSV_FIELDS = (
    "task_id", "first_at", "last_at", "description", "project", "task_type", "outcome",
    "models", "attempts", "input_tokens", "cache_write_tokens", "cache_read_tokens",
    "output_tokens", "reasoning_tokens", "total_tokens", "cost_usd", "unpriced_attempts",
)  # fmt: skip


def _csv_cell(value: Any) -> Any:
    if isinstance(value, list):
        return ",".join(value)
    return "" if value is None else value


def name_of(task: TaskUsage) -> str:
    said = " ".join((task.description or task.project or "-").split())
    return said if len(said) <= NAME_WIDTH else said[: NAME_WIDTH - 3] + "..."


def _json(task: TaskUsage) -> dict[str, Any]:
    total_input = task.input_tokens + task.cache_write_tokens + task.cache_read_tokens
    return {
        "task_id": task.id,
        "first_at": task.first_at,
        "last_at": task.last_at,
        "description": task.description,
        "project": task.project,
        "task_type": task.task_type,
        "outcome": task.outcome,
        "models": task.models.split(",") if task.models else [],
        "attempts": task.attempts,
        "input_tokens": task.input_tokens,
        "cache_write_tokens": task.cache_write_tokens,
        "cache_read_tokens": task.cache_read_tokens,
        "output_tokens": task.output_tokens,
        "reasoning_tokens": task.reasoning_tokens,
        "total_tokens": total_input + task.output_tokens,
        "cost_usd": render.usd(task.cost_micros),
        "unpriced_attempts": task.unpriced,
    }


def show_tasks(tasks: list[TaskUsage], *, as_json: bool, as_csv: bool) -> None:
    if as_json:
        render.emit_json({"tasks": [_json(t) for t in tasks]})
        return
    if as_csv:
        rows = [_json(t) for t in tasks]
        writer = csv.writer(sys.stdout, lineterminator="\n")
        keys = list(rows[0]) if rows else list(_json.__annotations__)
        writer.writerow(keys)
        for row in rows:
            writer.writerow(
                [
                    ",".join(v) if isinstance(v, list) else "" if v is None else v
                    for v in row.values()
                ]
            )
        return
    if not tasks:
        render.say("no tasks in this window")
        return
    columns = [
        Column("last (UTC)"), Column("task"), Column("name"), Column("models"),
        Column("attempts", True), Column("input", True), Column("cache write", True),
        Column("cache read", True), Column("output", True), Column("cost", True),
        Column("outcome"),
    ]  # fmt: skip
    cells = [
        [t.last_at[:16].replace("T", " "), t.id, name_of(t), t.models or "-",
         render.count(t.attempts), render.count(t.input_tokens),
         render.count(t.cache_write_tokens), render.count(t.cache_read_tokens),
         render.count(t.output_tokens),
         render.usd_amount(Decimal(t.cost_micros) / 1_000_000) + ("+?" if t.unpriced else ""),
         t.outcome]
        for t in tasks
    ]  # fmt: skip
    render.emit_table(columns, cells, title=f"{len(tasks):,} tasks, newest first")
