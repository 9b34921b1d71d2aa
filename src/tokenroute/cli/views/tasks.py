"""What `report --by task` prints: one row per task (a session, for an agent's logs), named
by its description or project, with every token bucket and its cost in the window."""

from __future__ import annotations

import csv
import sys
from typing import TYPE_CHECKING, Any

from tokenroute.cli import render
from tokenroute.cli.render import Column
from tokenroute.cli.views import buckets

if TYPE_CHECKING:
    from tokenroute.storage.top_spend import TaskUsage

NAME_WIDTH = 40
FIELDS = (
    "task_id", "first_at", "last_at", "description", "project", "task_type", "outcome",
    "models", "attempts", *buckets.KEYS, "cost_usd", "unpriced_attempts",
)  # fmt: skip


def name_of(task: TaskUsage) -> str:
    said = " ".join((task.description or task.project or "-").split())
    return said if len(said) <= NAME_WIDTH else said[: NAME_WIDTH - 3] + "..."


def _json(task: TaskUsage) -> dict[str, Any]:
    row = task._asdict()
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
        **{key: row[key] for key in buckets.KEYS[:-1]},
        "total_tokens": buckets.total_tokens(row),
        # unknown when no attempt of it has a price (never $0); a lower bound when some lack one
        "cost_usd": None if task.unpriced == task.attempts else render.usd(task.cost_micros),
        "unpriced_attempts": task.unpriced,
    }


def show_tasks(tasks: list[TaskUsage], *, as_json: bool, as_csv: bool) -> None:
    if as_json:
        render.emit_json({"tasks": [_json(t) for t in tasks]})
        return
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(FIELDS)
        for task in tasks:
            row = _json(task)
            writer.writerow(
                ",".join(v) if isinstance(v, list) else "" if v is None else v
                for v in (row[key] for key in FIELDS)
            )
        return
    if not tasks:
        render.say("no tasks in this window")
        return
    columns = [
        Column("last (UTC)"), Column("task"), Column("name"), Column("models"),
        Column("attempts", True), *(Column(h, True) for h in buckets.HEADERS),
        Column("cost", True), Column("outcome"),
    ]  # fmt: skip
    cells = []
    for t in tasks:
        row = _json(t)
        cells.append(
            [t.last_at[:16].replace("T", " "), t.id, name_of(t), t.models or "-",
             render.count(t.attempts), *(render.count(row[key]) for key in buckets.KEYS),
             render.usd_amount(row["cost_usd"]) + ("+?" if 0 < t.unpriced < t.attempts else ""),
             t.outcome]
        )  # fmt: skip
    render.emit_table(columns, cells, title=f"{len(tasks):,} tasks, newest first")
