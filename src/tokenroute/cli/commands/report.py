"""`tokenroute report`: cost per task, per successful task, I/O ratio and retry tax, by
group; `--watch` redraws today's figures live."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from tokenroute.cli.options import JsonOpt, LedgerOpt
from tokenroute.errors import UsageError

HELP = """Cost per task, per successful task, I/O ratio and retry tax, by group.

\b
Definitions:
  spend            what the attempts in the window cost (an unknown price is
                   never counted as $0: those attempts are counted apart)
  cost per task    each task's spend; mean, median and p95 (nearest rank;
                   above 10,000 tasks, median and p95 come from a uniform
                   sample and are marked ~)
  $/success        the whole cost of the group's tasks (failed tasks and
                   failed attempts included) divided by their successes
  in:out           every input token (uncached, cache read, cache write)
                   per output token
  cache            the share of input tokens read from cache
  retry tax        the share of spend on attempts that did not succeed
                   (errors, invalid output, cancelled): retries and escalations
  failed $         all spend on tasks whose outcome is failure
  frontier $       the same tokens on the newest frontier model of the same
                   provider (base rates, per day)
  cheapest used $  the same tokens on the cheapest model this ledger used for
                   that task type
Spend, attempts, tokens and retry tax count each attempt in its own group;
tasks, outcomes and cost per task count each task once, in the group of its
last attempt (the model that finished it) and the window of its first.

--watch is a live dashboard of today: spend, burn rate, models, budgets and
the last attempts, redrawn every --interval seconds (q quits, p pauses; in a
pipe, plain frames until Ctrl-C); --import claude-code (or codex) re-imports
the new log lines before each redraw.

--by block shows the five-hour usage blocks of a Claude subscription, the
active one with its burn rate and projection; --by task one row per task.

\b
Example:
  tokenroute report --last 30d --by model,task-type
  tokenroute report --since 2026-11-01 --until 2026-11-15 --by day --csv
  tokenroute report --watch --import claude-code
"""


def report(
    last: Annotated[
        str | None, typer.Option("--last", metavar="SPAN", help="e.g. 30d, 12h, 2w.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", metavar="DATE", help="From this day (inclusive).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", metavar="DATE", help="To this day (inclusive).")
    ] = None,
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by",
            metavar="GROUP",
            help="model, tier, task-type, provider, project, tag, user, host, day, week or month; "
            "comma-separated or repeated. Or alone: task (sessions), block (five-hour blocks).",
        ),
    ] = None,
    task_type: Annotated[
        str | None, typer.Option("--task-type", metavar="TYPE", help="Only this task type.")
    ] = None,
    project: Annotated[
        str | None, typer.Option("--project", metavar="NAME", help="Only this project.")
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--source", metavar="NAME", help="Only this source: record, run, an importer."
        ),
    ] = None,
    tag: Annotated[
        str | None, typer.Option("--tag", metavar="TAG", help="Only attempts with this tag.")
    ] = None,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
    breakdown: Annotated[
        str | None,
        typer.Option("--breakdown", metavar="GROUP", help="Split each group by this, e.g. model."),
    ] = None,
    top: Annotated[
        int | None,
        typer.Option(
            "--top", min=1, max=1000, metavar="N", help="The N tasks, types, projects costing most."
        ),
    ] = None,
    html_file: Annotated[
        Path | None,
        typer.Option("--html", metavar="FILE", help="Write the charts to one self-contained page."),
    ] = None,
    live: Annotated[
        bool,
        typer.Option("--watch", help="Today's spend, last attempts, budgets; redrawn live."),
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", metavar="SECONDS", help="Seconds between redraws.")
    ] = 5.0,
    count: Annotated[
        int | None, typer.Option("--count", metavar="N", help="Stop after N redraws.")
    ] = None,
    import_from: Annotated[
        list[str] | None,
        typer.Option(
            "--import", metavar="SOURCE", help="Re-import claude-code or codex at each redraw."
        ),
    ] = None,
) -> None:
    from tokenroute.cli.context import ledger_path
    from tokenroute.cli.options import attempt_filter, parse_groups

    filters = dict(task_type=task_type, project=project, source=source, tag=tag)
    if live:
        if as_json or as_csv or by or last or since or until or top or html_file:
            raise UsageError(
                "--watch shows today: it takes no --json, --csv, --html, --by, --top, window"
            )
        _watch(interval, count, import_from or [], ledger, filters)
        return
    if import_from or count is not None:
        raise UsageError("--import and --count go with --watch")
    if html_file is not None:
        if as_json or as_csv or by or breakdown or top:
            raise UsageError("--html draws its own charts: it takes no --json, --csv, --by, --top")
        _html(html_file, attempt_filter(last, since, until, **filters), ledger)
        return
    sole = _sole_grouping(by)
    if sole is not None:
        _one_row_each(
            sole, (last, since, until), ledger, as_json, as_csv, breakdown or top, filters
        )
        return
    groups = parse_groups(by)
    where = attempt_filter(last, since, until, **filters)
    if as_json and as_csv:
        raise UsageError("choose one of --json and --csv")
    if top is not None:
        _top(top, groups, as_csv, ledger_path(ledger), where, as_json)
        return
    _grouped(groups, where, _breakdown(breakdown, groups), ledger, as_json, as_csv)


def _grouped(groups, where, split_by, ledger, as_json: bool, as_csv: bool) -> None:
    """The report by --by (and --breakdown), with each budget's burn."""
    from tokenroute.cli.context import ledger_path, load_table, today
    from tokenroute.cli.views import report as view
    from tokenroute.ledger.budgets import read_budgets
    from tokenroute.ledger.queries import report_and_burns
    from tokenroute.settings import resolve_paths

    table = load_table()
    budgets = read_budgets(resolve_paths().budgets)
    result, burned, split = report_and_burns(
        ledger_path(ledger), table, groups, where, budgets, today(), split_by
    )
    view.show_report(
        result, groups, where, as_json=as_json, as_csv=as_csv, budgets=burned,
        breakdown=(split_by, split) if split_by else None,
    )  # fmt: skip


def _sole_grouping(by: list[str] | None) -> str | None:
    """--by task (the session view) and --by block (five-hour blocks): one row per task or
    block, so neither takes another grouping."""
    names = {part.strip() for value in by or () for part in value.split(",") if part.strip()}
    for sole in ("task", "block"):
        if sole in names:
            if names != {sole}:
                raise UsageError(
                    f"--by {sole} lists {sole}s one per row: it takes no other grouping"
                )
            return sole
    return None


def _one_row_each(sole: str, window, ledger, as_json, as_csv, other, filters) -> None:
    """report --by task (every task with attempts in the window, newest first) or --by
    block (the five-hour usage blocks, the active one with its burn rate)."""
    from tokenroute.cli.context import ledger_path, now
    from tokenroute.cli.options import attempt_filter
    from tokenroute.ledger import queries

    if other:
        raise UsageError(f"--by {sole} takes no --breakdown or --top")
    if as_json and as_csv:
        raise UsageError("choose one of --json and --csv")
    where = attempt_filter(*window, **filters)
    if sole == "task":
        from tokenroute.cli.views.tasks import show_tasks

        show_tasks(queries.task_usage(ledger_path(ledger), where), as_json=as_json, as_csv=as_csv)
        return
    from tokenroute.cli.views.blocks import show_blocks

    moment = now()
    blocks = queries.usage_blocks(ledger_path(ledger), where, moment)
    show_blocks(blocks, moment, as_json=as_json, as_csv=as_csv)


def _html(path: Path, where, ledger: Path | None) -> None:
    """report --html FILE: the charts of the window, in one page that opens offline."""
    from tokenroute.cli import render
    from tokenroute.cli.context import ledger_path, load_table
    from tokenroute.cli.views.html_page import write_page
    from tokenroute.ledger.charts import chart_data

    if path.is_dir():
        raise UsageError(f"--html {path} is a folder: name the page, e.g. {path}/report.html")
    charts = write_page(chart_data(ledger_path(ledger), load_table(), where), where, path)
    render.say(f"wrote {path}: {charts} charts, one self-contained page (opens offline)")


def _breakdown(given: str | None, groups: list[str]) -> str | None:
    from tokenroute.cli.options import parse_groups

    if given is None:
        return None
    (name,) = parse_groups([given]) or [""]
    if not groups:
        raise UsageError("--breakdown splits the groups of --by: give --by day (or week, ...)")
    if name in groups:
        raise UsageError(f"--breakdown {name} is already in --by")
    return name


def _top(n: int, groups: list[str], as_csv: bool, path: Path, where, as_json: bool) -> None:
    """report --top N: where the money goes."""
    from tokenroute.cli.views.top import show_top
    from tokenroute.ledger.top import top_spend

    if groups or as_csv:
        raise UsageError("--top lists tasks, task types and projects: it takes no --by or --csv")
    show_top(top_spend(path, where, n), as_json=as_json)


def _watch(
    interval: float,
    count: int | None,
    sources: list[str],
    ledger: Path | None,
    filters: dict,
) -> None:
    """report --watch: today's figures redrawn until Ctrl-C, re-importing logs first."""
    from tokenroute.cli.context import ledger_path, load_table, now
    from tokenroute.cli.live import watch
    from tokenroute.cli.options import attempt_filter
    from tokenroute.cli.views.watch import frame_text
    from tokenroute.ledger.budgets import read_budgets
    from tokenroute.ledger.importers.sources import agent_log, import_logs
    from tokenroute.ledger.queries import today_figures
    from tokenroute.settings import resolve_paths

    if not 0.2 <= interval <= 3600:
        raise UsageError(f"--interval must be between 0.2 and 3600 seconds (got {interval})")
    if count is not None and count < 1:
        raise UsageError(f"--count must be 1 or more (got {count})")
    logs = [agent_log(name) for name in sources]
    roots = [log.default_roots(os.environ, Path.home()) for log in logs]
    table = load_table()
    budgets = read_budgets(resolve_paths().budgets)
    path = ledger_path(ledger)

    def refresh() -> None:
        for log, where in zip(logs, roots, strict=True):
            import_logs(log, where, path, table, now())

    def figures(recent: int = 8) -> Any:
        refresh()
        moment = now()
        where = attempt_filter(None, moment.date().isoformat(), None, **filters)
        return today_figures(path, table, where, budgets, moment, recent), where, moment

    if sys.stdout.isatty():
        from tokenroute.cli.live import watch_screen
        from tokenroute.cli.views.dashboard import dashboard

        def draw(read: Any, paused: bool, width: int, height: int) -> Any:
            found, _, moment = read
            return dashboard(found, moment, paused=paused, width=width, height=height)

        # as many of the last attempts as a tall screen has room for
        watch_screen(lambda: figures(recent=60), draw, interval=interval, count=count)
        return

    warned: set[str] = set()

    def frame() -> str:
        found, where, moment = figures()
        return frame_text(found, where, moment, warned)

    watch(frame, interval=interval, count=count)
