"""The full-screen `report --watch` on a terminal: today's and this month's spend, the pace
and where the day ends at it, per-model bars, each budget's burn against its limit, and the
last attempts as they land, errors in colour. Sized to the screen; readable at 80x24."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tokenroute.cli import render
from tokenroute.cli.views import buckets

if TYPE_CHECKING:
    from rich.console import RenderableType

    from tokenroute.ledger.queries import Today

MODEL_ROWS = 5  # the dearest models; the rest are summed in one row
BUDGET_ROWS = 3


def pace(figures: Today, now: datetime) -> tuple[Decimal, Decimal]:
    """The last hour's spend as $/h, and today's spend at that pace by midnight UTC."""
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), now.tzinfo)
    hours_left = Decimal(str((midnight - now).total_seconds() / 3600))
    spent = figures.by_model.total.spend or Decimal(0)
    return figures.last_hour_spend, spent + figures.last_hour_spend * hours_left


def dashboard(
    figures: Today | None, now: datetime, *, paused: bool, width: int, height: int
) -> RenderableType:
    from rich.console import Group
    from rich.rule import Rule
    from rich.text import Text

    state = "paused: p resumes" if paused else "p pauses"
    header = Text.assemble(
        ("tokenroute", "bold"), f"  today {now:%Y-%m-%d %H:%M:%S} UTC   q quits, {state}"
    )
    if figures is None:
        return Group(header, Text(""), Text("nothing recorded yet"))
    parts: list[Any] = [header, _spend(figures, now)]
    models = _model_bars(figures, width)
    parts += [Rule("models today", align="left", characters="─"), models]
    budgets = _budget_bars(figures, width)
    if budgets is not None:
        parts += [Rule("budgets", align="left", characters="─"), budgets]
    used = 2 + 2 + 1 + min(len(figures.by_model.groups), MODEL_ROWS + 1)
    used += (1 + min(len(figures.burns), BUDGET_ROWS)) if budgets is not None else 0
    room = max(height - used - 3, 1)  # the rule and the header of the attempts
    parts += [Rule("last attempts", align="left", characters="─"), _attempts(figures, room, width)]
    return Group(*parts)


def _spend(figures: Today, now: datetime) -> Any:
    from rich.table import Table

    per_hour, by_midnight = pace(figures, now)
    grid = Table.grid(padding=(0, 3))
    for _ in range(4):
        grid.add_column()
    today = figures.by_model.total
    unknown = "+?" if today.unpriced_attempts else ""
    month_unknown = "+?" if figures.month_unpriced else ""
    grid.add_row(
        "today", f"[bold]{render.usd_amount(today.spend)}{unknown}[/]",
        "this month", f"[bold]{render.usd_amount(figures.month_spend)}{month_unknown}[/]",
    )  # fmt: skip
    grid.add_row(
        "burn rate", f"{render.usd_amount(per_hour)}/h (last hour)",
        "by midnight", f"{render.usd_amount(by_midnight)} at this pace",
    )  # fmt: skip
    return grid


def _bar(share: float, room: int) -> str:
    eighths = round(max(0.0, min(share, 1.0)) * room * 8)
    return ("█" * (eighths // 8) + (render.EIGHTHS[eighths % 8] if eighths % 8 else "")).ljust(room)


def _model_bars(figures: Today, width: int) -> Any:
    from rich.table import Table
    from rich.text import Text

    groups = sorted(figures.by_model.groups, key=lambda g: g.spend or 0, reverse=True)
    shown, rest = groups[:MODEL_ROWS], groups[MODEL_ROWS:]
    rows = [(g.key[0], g.spend or Decimal(0)) for g in shown]
    if rest:
        rows.append((f"{len(rest)} more", sum((g.spend or Decimal(0) for g in rest), Decimal(0))))
    top = max((spend for _, spend in rows), default=Decimal(0)) or Decimal(1)
    name_width = min(max((len(name) for name, _ in rows), default=5), 24)
    amount_width = max((len(render.usd_amount(spend)) for _, spend in rows), default=2)
    room = max(width - name_width - amount_width - 2, 4)
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, width=name_width, overflow="ellipsis")
    grid.add_column(no_wrap=True, width=room)
    grid.add_column(justify="right", no_wrap=True)
    for name, spend in rows:
        bar = Text(_bar(float(spend / top), room), style="cyan")
        grid.add_row(Text(render.printable(name)), bar, render.usd_amount(spend))
    if not rows:
        grid.add_row("-", "", "")
    return grid


def _budget_bars(figures: Today, width: int) -> Any:
    from rich.table import Table
    from rich.text import Text

    if not figures.burns:
        return None
    rows = []
    for burn in figures.burns[:BUDGET_ROWS]:
        share = float(burn.spent / burn.limit) if burn.limit else 0.0
        over = "+?" if burn.unpriced else ""
        amounts = f"{render.usd_amount(burn.spent)}{over} of {render.usd_amount(burn.limit)}"
        rows.append((render.printable(f"{burn.budget.label} /{burn.period}"), share,
                     f"{amounts} ({share:.0%})"))  # fmt: skip
    names = min(max(len(name) for name, _, _ in rows), 24)
    labels = max(len(label) for _, _, label in rows)
    room = max(width - names - labels - 2, 4)  # the bar takes what the words leave
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, width=names, overflow="ellipsis")
    grid.add_column(no_wrap=True, width=room)
    grid.add_column(justify="right", no_wrap=True)
    for name, share, label in rows:
        style = "red" if share >= 1 else "yellow" if share >= 0.8 else "green"
        grid.add_row(
            Text(name), Text(_bar(share, room), style=style),
            Text(label, style="red" if share >= 1 else ""),
        )  # fmt: skip
    return grid


def _attempts(figures: Today, rows: int, width: int) -> Any:
    from rich.table import Table
    from rich.text import Text

    cells = []
    for row in figures.recent[:rows]:
        status = row["status"] + (f":{row['error_kind']}" if row["error_kind"] else "")
        cost = render.usd_amount(render.usd(row["cost_micros"]))
        tokens = render.count(buckets.total_tokens(row))
        model = render.printable(row["model"])
        cells.append((row["started_at"][11:19], model, status, tokens, cost, row["status"] == "ok"))
    headers = ("time", "model", "status", "tokens", "cost")
    # time, tokens and cost keep their width; the model and status names take what is left
    fixed = [max([len(headers[i]), *(len(c[i]) for c in cells)]) for i in (0, 3, 4)]
    status_width = min(max([6, *(len(c[2]) for c in cells)]), 14)
    model_width = max(width - sum(fixed) - status_width - 2 * 4, 8)
    table = Table.grid(padding=(0, 2))
    for justify, size in zip(
        ("left", "left", "left", "right", "right"),
        (fixed[0], model_width, status_width, fixed[1], fixed[2]),
        strict=True,
    ):
        table.add_column(justify=justify, no_wrap=True, width=size, overflow="ellipsis")
    table.add_row(*(Text(h, style="bold") for h in headers))
    for when, model, status, tokens, cost, ok in cells:
        style = "green" if ok else "bold red"
        table.add_row(when, Text(model), Text(status, style=style), tokens, cost)
    return table
