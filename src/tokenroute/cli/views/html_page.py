"""`report --html FILE`: one self-contained page of charts, drawn with plotly (imported only
here). plotly.js is inlined once, and a Content-Security-Policy forbids the page any request,
so it opens offline and nothing is fetched; the test renders it in headless Chromium."""

from __future__ import annotations

import html
import os
import tempfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokenroute.cli import render
from tokenroute.errors import BadInputError

if TYPE_CHECKING:
    from tokenroute.ledger.charts import Charts
    from tokenroute.models import AttemptFilter

# Nothing may leave the page: no script, style, font, image or connection from elsewhere.
POLICY = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'unsafe-inline'; img-src data: blob:; font-src data:"
)
CHART_HEIGHT = 420


def write_page(charts: Charts, where: AttemptFilter, path: Path) -> int:
    """Write the page to `path` whole or not at all; returns how many charts it holds."""
    import plotly.io
    import plotly.offline

    template = _template("plotly_white")
    figures = [draw(charts) for draw in _CHARTS]
    for figure in figures:
        figure["layout"]["template"] = template
    # the figures are plain dicts, written without plotly's validation of each property:
    # validating them took longer than reading a million-attempt ledger
    bodies = [
        plotly.io.to_html(
            figure,
            validate=False,
            full_html=False,
            include_plotlyjs=False,
            div_id=f"chart-{number}",
            config={"displaylogo": False, "responsive": True},
            # each chart says it drew, for the test (and anyone opening the console)
            post_script=f"document.getElementById('chart-{number}').dataset.drawn = 'yes';",
        )
        for number, figure in enumerate(figures, start=1)
    ]
    page = _PAGE.format(
        policy=POLICY,
        title=html.escape(_title(where)),
        summary=_summary(charts),
        plotly=plotly.offline.get_plotlyjs(),
        charts="\n".join(f'<section class="chart">{body}</section>' for body in bodies),
    )
    _write_whole(path, page)
    return len(figures)


def _template(name: str) -> dict[str, Any]:
    """plotly.io.templates[name].to_plotly_json(): the template's package data, read as
    plotly reads it, but without building a Template object from it (that imports plotly's
    layout classes and validators: ~60 ms). A Template holds its data, then its layout: the
    page's JSON keeps that order."""
    import json
    import pkgutil

    try:
        data = pkgutil.get_data("plotly", f"package_data/templates/{name}.json")
    except OSError:
        data = None
    if data is None:  # a plotly that keeps its templates elsewhere: ask it
        import plotly.io

        return plotly.io.templates[name].to_plotly_json()
    template = json.loads(data.decode("utf-8"))
    return {key: template[key] for key in ("data", "layout") if key in template}


def _write_whole(path: Path, text: str) -> None:
    """A new temporary file renamed over `path`, so a reader never sees half a page. A path
    that is not a regular file (/dev/stdout, a pipe) is written to as it is: renaming over it
    would replace the device itself."""
    if path.exists() and not path.is_file():
        try:
            with path.open("w", encoding="utf-8") as out:
                out.write(text)
        except OSError as exc:
            raise BadInputError(f"--html {path}: cannot write there ({exc.strerror})") from None
        return
    if path.is_symlink():  # write the page the link points to, and keep the link
        path = path.resolve()
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise BadInputError(f"--html {path}: the folder {folder} does not exist")
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise BadInputError(f"--html {path}: cannot write there ({exc.strerror})") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, _mode_for(path))
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise BadInputError(f"--html {path}: cannot write there ({exc.strerror})") from None


def _mode_for(path: Path) -> int:
    """An existing page keeps its permissions; a new one gets what the umask allows."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _moment(stamp: str) -> str:
    """A day, or a day and time when the window does not start at midnight (--last 12h)."""
    return stamp[:10] if stamp[10:] == "T00:00:00.000Z" else stamp[:16].replace("T", " ")


def _title(where: AttemptFilter) -> str:
    start = _moment(where.start) if where.start else "the first call"
    return f"tokenroute: spend from {start} to {_moment(where.end) if where.end else 'now'}"


def _summary(charts: Charts) -> str:
    total = charts.total
    saved = sum((r.frontier - r.spend for r in charts.routing), Decimal(0))
    facts = [
        ("spend", render.usd_amount(total.spend)),
        ("tasks", f"{total.tasks:,}"),
        ("attempts", f"{total.attempts:,}"),
        ("per successful task", render.usd_amount(total.cost_per_successful_task)
         if total.cost_per_successful_task is not None else "-"),
        ("retry tax", "-" if total.retry_tax is None else f"{total.retry_tax:.0%}"),
        _saving(saved),
    ]  # fmt: skip
    cells = "".join(
        f"<div><span>{html.escape(label)}</span><b>{html.escape(value)}</b></div>"
        for label, value in facts
    )
    note = ""
    if total.unpriced_attempts:
        note = (
            f"<p>{total.unpriced_attempts:,} attempt(s) have no known price and are not "
            "in the money figures.</p>"
        )
    return f'<div class="facts">{cells}</div>{note}'


def _saving(saved: Decimal) -> tuple[str, str]:
    """What routing saved against all-frontier, or what it cost more (older dearer models)."""
    if saved < 0:
        return "cost more than all-frontier", render.usd_amount(-saved)
    return "saved against all-frontier", render.usd_amount(saved)


def _type_name(key: str) -> str:
    return "(no type)" if key in ("", "-", "(none)") else key


def _figure(traces: list[dict[str, Any]], title: str, **layout: Any) -> dict[str, Any]:
    """A plotly figure as plotly.js takes it: its traces and layout."""
    return {
        "data": traces,
        "layout": {
            "title": {"text": title, "x": 0.01}, "height": CHART_HEIGHT,
            "margin": {"l": 60, "r": 20, "t": 60, "b": 50},
            "legend": {"orientation": "h", "y": -0.15}, **layout,
        },
    }  # fmt: skip


def _daily_by_model(charts: Charts) -> dict[str, Any]:
    traces = []
    for model in sorted({model for _, model, _ in charts.daily_by_model}):
        days = [(d, s) for d, m, s in charts.daily_by_model if m == model]
        traces.append(
            {"type": "bar", "name": model, "x": [d.isoformat() for d, _ in days],
             "y": [float(s) for _, s in days]}
        )  # fmt: skip
    return _figure(
        traces, "Daily spend by model (USD)", barmode="stack",
        yaxis={"title": {"text": "USD"}, "tickprefix": "$"}, xaxis={"type": "date"},
    )  # fmt: skip


def _cost_per_task(charts: Charts) -> dict[str, Any]:
    traces = [
        {"type": "box", "name": _type_name(kind), "y": [float(c) for c in costs],
         "boxpoints": False}
        for kind, costs in charts.cost_samples.items()
    ]  # fmt: skip
    sample = " (a uniform sample of the tasks)" if charts.sampled else ""
    return _figure(
        traces, f"Cost per task by task type{sample}", showlegend=False,
        yaxis={"title": {"text": "USD per task"}, "type": "log", "tickprefix": "$"},
    )  # fmt: skip


def _by_type(metric: str, title: str, axis: dict[str, Any]) -> Callable[[Charts], Any]:
    def draw(charts: Charts) -> dict[str, Any]:
        groups = [g for g in charts.by_type if getattr(g, metric) is not None]
        bars = {
            "type": "bar", "x": [_type_name(g.key[0]) for g in groups],
            "y": [float(getattr(g, metric)) for g in groups],
        }  # fmt: skip
        return _figure([bars], title, yaxis={"rangemode": "tozero", **axis}, showlegend=False)

    return draw


def _routing(charts: Charts) -> dict[str, Any]:
    days = [r.day.isoformat() for r in charts.routing]
    traces = [
        {"type": "bar", "name": "spent", "x": days, "y": [float(r.spend) for r in charts.routing]},
        {"type": "bar", "name": "all on the frontier model", "x": days,
         "y": [float(r.frontier) for r in charts.routing]},
    ]  # fmt: skip
    label, amount = _saving(sum((r.frontier - r.spend for r in charts.routing), Decimal(0)))
    return _figure(
        traces, f"Spent against all on the frontier model ({label}: {amount})",
        barmode="group", yaxis={"title": {"text": "USD"}, "tickprefix": "$"},
        xaxis={"type": "date"},
    )  # fmt: skip


def _top_tasks(charts: Charts) -> dict[str, Any]:
    tasks = list(reversed(charts.top.tasks)) if charts.top else []
    bars = {
        "type": "bar", "orientation": "h", "x": [float(t.cost) for t in tasks],
        "y": [_task_label(t.task) for t in tasks],
        "text": [_share(t.share) + ("" if not t.task.unpriced else " +? unknown price")
                 for t in tasks],
        "hovertext": [t.task.description or t.task.id for t in tasks],
    }  # fmt: skip
    return _figure(
        [bars], "Top tasks by spend (share of the window)", showlegend=False,
        xaxis={"title": {"text": "USD"}, "tickprefix": "$"}, yaxis={"automargin": True},
    )  # fmt: skip


def _share(share: float | None) -> str:
    """A task's share of the window, with the digits a small one needs (0.04%, not 0.0%)."""
    if share is None:
        return ""
    return f"{share:.1%}" if share >= 0.001 else f"{share:.3%}"


def _task_label(task: Any) -> str:
    name = " ".join((task.description or task.project or "").split())[:40]
    return f"{task.id} {name}".strip()


_CHARTS: tuple[Callable[[Charts], Any], ...] = (
    _daily_by_model,
    _cost_per_task,
    _by_type("io_ratio", "Input/output ratio by task type (input tokens per output token)", {}),
    _by_type("retry_tax", "Retry tax by task type (share of spend)", {"tickformat": ".0%"}),
    _routing,
    _top_tasks,
)

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{policy}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1100px;
       color: #222; padding: 0 16px; }}
h1 {{ font-size: 1.4em; }}
.facts {{ display: flex; flex-wrap: wrap; gap: 12px; margin-bottom: 16px; }}
.facts div {{ border: 1px solid #ddd; border-radius: 6px; padding: 8px 12px; }}
.facts span {{ display: block; font-size: 0.8em; color: #666; }}
.chart {{ margin: 18px 0; border-top: 1px solid #eee; }}
</style>
<script>{plotly}</script>
</head>
<body>
<h1>{title}</h1>
{summary}
{charts}
</body>
</html>
"""
