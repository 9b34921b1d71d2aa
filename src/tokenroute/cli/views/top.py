"""What `report --top N` prints: the tasks, task types and projects with the most spend,
their share, and how much the dearest 5% of tasks took."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tokenroute.cli import render
from tokenroute.cli.render import Column

if TYPE_CHECKING:
    from tokenroute.ledger.top import Top, TopGroup, TopTask

DESCRIPTION_WIDTH = 48


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _group_json(g: TopGroup, name: str) -> dict[str, Any]:
    return {
        name: g.key or None,
        "tasks": g.tasks,
        "successful_tasks": g.successes,
        "cost_usd": g.cost,
        "share_of_spend": g.share,
        "cost_per_task_usd": g.cost_per_task,
        "cost_per_successful_task_usd": g.cost_per_success,
        "cost_is_lower_bound": g.lower_bound,
    }


def _task_json(t: TopTask) -> dict[str, Any]:
    task = t.task
    return {
        "task_id": task.id,
        "description": task.description,
        "project": task.project,
        "task_type": task.task_type,
        "model": task.model,
        "tier": task.tier,
        "outcome": task.outcome,
        "attempts": task.attempts,
        "cost_usd": t.cost,
        "cost_is_lower_bound": bool(task.unpriced),
        "share_of_spend": t.share,
        "questions": t.questions,
    }


def _floor(amount, group: TopGroup) -> str:
    """An amount, marked +? when some of the group's attempts have no known price."""
    return render.usd_amount(amount) + ("+?" if group.lower_bound and amount is not None else "")


def concentration_line(top: Top) -> str:
    spread = top.concentration
    if not spread.tasks or not spread.cost_micros:
        return "no spend in this window"
    share = spread.top_cost_micros / spread.cost_micros
    return (
        f"the top 5% of tasks ({spread.top_tasks:,} of {spread.tasks:,}) took {share:.0%} of spend"
    )


def show_top(top: Top | None, *, as_json: bool) -> None:
    if as_json:
        body: dict[str, Any] = {"tasks": [], "task_types": [], "projects": [], "cost_usd": 0}
        if top is not None:
            spread = top.concentration
            body = {
                "tasks": [_task_json(t) for t in top.tasks],
                "task_types": [_group_json(g, "task_type") for g in top.task_types],
                "projects": [_group_json(g, "project") for g in top.projects],
                "cost_usd": top.spend,
                "top_5_percent": {
                    "tasks": spread.top_tasks,
                    "of_tasks": spread.tasks,
                    "share_of_spend": spread.top_cost_micros / spread.cost_micros
                    if spread.cost_micros
                    else None,
                },
            }
        render.emit_json({"top": body})
        return
    if top is None or not top.tasks:
        render.say("no tasks in this window")
        return
    columns = [
        Column("task"), Column("spend", True), Column("share", True), Column("type"),
        Column("model"), Column("outcome"), Column("attempts", True), Column("description"),
    ]  # fmt: skip
    cells = []
    for t in top.tasks:
        task = t.task
        said = (task.description or task.project or "-").replace("\n", " ")
        if len(said) > DESCRIPTION_WIDTH:
            said = said[: DESCRIPTION_WIDTH - 3] + "..."
        spend = render.usd_amount(t.cost) + ("+?" if task.unpriced else "")
        cells.append([task.id, spend, _share(t.share), task.task_type or "-", task.model or "-",
                      task.outcome, str(task.attempts), said])  # fmt: skip
    render.emit_table(columns, cells, title=f"The {len(cells)} tasks with the most spend")
    questions = [f"- {t.task.id}: {q}" for t in top.tasks for q in t.questions]
    if questions:
        render.emit_lines(["", "Questions worth asking:", *questions])
    for name, groups in (("task type", top.task_types), ("project", top.projects)):
        render.emit_lines([""])
        group_cells = [
            [g.key or "-", render.count(g.tasks), _floor(g.cost, g), _share(g.share),
             _floor(g.cost_per_task, g),
             "-" if g.cost_per_success is None else _floor(g.cost_per_success, g)]
            for g in groups
        ]  # fmt: skip
        group_columns = [
            Column(name), Column("tasks", True), Column("spend", True), Column("share", True),
            Column("$/task", True), Column("$/success", True),
        ]  # fmt: skip
        render.emit_table(group_columns, group_cells, title=f"By {name}")
    render.emit_lines(["", concentration_line(top)])
