"""What `record`, `task`, `mark`, `log` and `forget` print."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from tokenroute.cli import render
from tokenroute.cli.render import Column, usd
from tokenroute.cli.views import buckets

if TYPE_CHECKING:
    from tokenroute.ledger.intake import Recorded, Rejected
    from tokenroute.models import Task


def show_recorded(results: list[Recorded], rejected: list[Rejected], *, as_json: bool) -> None:
    for result in results:
        for warning in result.warnings:
            render.warn(warning)
    for bad in rejected:
        render.say(f"tokenroute: line {bad.line}: {bad.reason}")
    if as_json:
        render.emit_json(
            {
                "attempts": [
                    {
                        "id": r.id,
                        "task_id": r.attempt.task_id,
                        "attempt": r.number,
                        "model": r.attempt.model,
                        "status": r.attempt.status,
                        "cost_usd": usd(r.attempt.cost_micros),
                        "price_revision": r.attempt.price_revision,
                        "duplicate": r.id is None,
                    }
                    for r in results
                ],
                "rejected": [{"line": b.line, "reason": b.reason} for b in rejected],
            }
        )
        return
    lines = []
    for r in results:
        if r.id is None:
            lines.append(f"duplicate  {r.attempt.source_key}  (already recorded, skipped)")
            continue
        lines.append(
            f"attempt {r.id}  task {r.attempt.task_id} #{r.number}  {r.attempt.model}  "
            f"{render.usd_amount(usd(r.attempt.cost_micros))}"
        )
    render.emit_lines(lines)


def show_log(rows: list[dict[str, Any]], *, as_json: bool) -> None:
    if as_json:
        for row in rows:
            row["cost_usd"] = usd(row.pop("cost_micros"))
            row["tags"] = row["tags"].split(",") if row["tags"] else []
            row["total_tokens"] = buckets.total_tokens(row)
        render.emit_json({"attempts": rows})
        return
    columns = [
        Column("time (UTC)"),
        Column("task"),
        Column("#", numeric=True),
        Column("model"),
        Column("status"),
        *(Column(header, numeric=True) for header in buckets.HEADERS),
        Column("cost", numeric=True),
    ]
    cells = [
        [
            row["started_at"][:19].replace("T", " "),
            row["task_id"],
            str(row["attempt"]),
            row["model"],
            row["status"] if not row["error_kind"] else f"{row['status']}:{row['error_kind']}",
            *(render.count(row[key]) for key in buckets.KEYS[:-1]),
            render.count(buckets.total_tokens(row)),
            render.usd_amount(usd(row["cost_micros"])),
        ]
        for row in rows
    ]
    render.emit_table(columns, cells)


def show_task(task: Task, *, as_json: bool) -> None:
    if as_json:
        body = {"id": task.id, "type": task.type, "description": task.description}
        render.emit_json({"task": body})
    else:
        render.emit_lines([task.id])


def show_outcome(task_id: str, outcome: str, *, as_json: bool) -> None:
    if as_json:
        render.emit_json({"task": {"id": task_id, "outcome": outcome}})
    else:
        render.say(f"{task_id}: {outcome}")


def show_forgotten(day: date, turns: int, described: int, *, dry_run: bool, as_json: bool) -> None:
    if as_json:
        body = {"before": day.isoformat(), "turns": turns, "task_descriptions": described}
        render.emit_json({**body, "dry_run": dry_run})
        return
    verb = "would forget" if dry_run else "forgot"
    render.say(
        f"{verb} the text of {turns:,} turn(s) and {described:,} task description(s) "
        f"kept before {day.isoformat()}"
    )
