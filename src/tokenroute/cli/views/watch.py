"""One frame of `report --watch`: the same text `report`, `log` and `budget list` print in a
pipe, so the live view and the one-off commands never disagree."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from tokenroute.cli import render
from tokenroute.cli.live import captured
from tokenroute.cli.views.budget import show_budgets
from tokenroute.cli.views.calls import show_log
from tokenroute.cli.views.report import show_report

if TYPE_CHECKING:
    from tokenroute.ledger.queries import Today
    from tokenroute.models import AttemptFilter


def _data_only(text: str, warned: set[str]) -> str:
    """A frame's text without the warnings a view said on the way: they are talk, said on
    stderr once a watch (`warned` holds those said), not in every frame."""
    kept = []
    for line in text.splitlines(keepends=True):
        if line.startswith("tokenroute: warning:"):
            if line not in warned:
                warned.add(line)
                render.say(line.rstrip("\n"))
            continue
        kept.append(line)
    return "".join(kept)


def frame_text(
    figures: Today | None, where: AttemptFilter, now: datetime, warned: set[str] | None = None
) -> str:
    if figures is None:
        return f"tokenroute: nothing recorded yet ({now:%H:%M:%S} UTC)\n"
    parts = [f"tokenroute report --watch: today, {now:%Y-%m-%d %H:%M:%S} UTC\n"]
    for groups, result in ((["model"], figures.by_model), (["task-type"], figures.by_task_type)):
        parts.append(
            captured(
                lambda r=result, g=groups: show_report(
                    r, g, where, as_json=False, as_csv=False, budgets=[]
                )
            )
        )
    parts = [_data_only(part, set() if warned is None else warned) for part in parts]
    parts.append(captured(lambda: show_log(figures.recent, as_json=False)))
    if figures.burns:
        parts.append(captured(lambda: show_budgets(figures.burns, as_json=False)))
    return "\n".join(parts)
