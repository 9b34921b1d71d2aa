"""The ledger by hand: `record` a call, `task start`/`task end`, `mark` an outcome, `log` the
latest attempts, `forget` kept text."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tokenroute.cli.options import JsonOpt, LedgerOpt, SuccessOpt, command_group
from tokenroute.errors import BadInputError, UsageError

task_group = command_group(
    "Group calls into one task: start it, end it with its outcome.", no_args_is_help=True
)


def record(
    model: Annotated[str | None, typer.Option("--model", "-m", help="The model called.")] = None,
    input_tokens: Annotated[
        int | None,
        typer.Option("--input-tokens", min=0, metavar="N", help="Uncached input tokens."),
    ] = None,
    output_tokens: Annotated[
        int | None,
        typer.Option(
            "--output-tokens", min=0, metavar="N", help="Output tokens, reasoning included."
        ),
    ] = None,
    cache_read: Annotated[
        int | None,
        typer.Option("--cache-read", min=0, metavar="N", help="Input tokens read from cache."),
    ] = None,
    cache_write: Annotated[
        int | None,
        typer.Option(
            "--cache-write", min=0, metavar="N", help="Input tokens written to a 5-minute cache."
        ),
    ] = None,
    cache_write_1h: Annotated[
        int | None,
        typer.Option(
            "--cache-write-1h", min=0, metavar="N", help="Input tokens written to a 1-hour cache."
        ),
    ] = None,
    reasoning_tokens: Annotated[
        int | None,
        typer.Option(
            "--reasoning-tokens", min=0, metavar="N", help="Of the output, reasoning tokens."
        ),
    ] = None,
    task_id: Annotated[
        str | None,
        typer.Option(
            "--task-id",
            metavar="ID",
            envvar="TOKENROUTE_TASK",
            help="The task (default: $TOKENROUTE_TASK, else a new one).",
        ),
    ] = None,
    task_type: Annotated[
        str | None, typer.Option("--task-type", metavar="TYPE", help="e.g. code, extract.")
    ] = None,
    status: Annotated[
        str, typer.Option("--status", metavar="STATUS", help="ok, error, invalid or cancelled.")
    ] = "ok",
    error_kind: Annotated[
        str | None, typer.Option("--error-kind", metavar="KIND", help="e.g. rate_limit.")
    ] = None,
    latency_ms: Annotated[int | None, typer.Option("--latency-ms", min=0, metavar="MS")] = None,
    tags: Annotated[
        list[str] | None, typer.Option("--tag", metavar="TAG", help="A free tag; repeatable.")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", metavar="TIME", help="When the call was made (default: now)."),
    ] = None,
    project: Annotated[
        str | None, typer.Option("--project", metavar="NAME", help="Default: the git root's name.")
    ] = None,
    source_key: Annotated[
        str | None,
        typer.Option("--source-key", metavar="KEY", help="Stores the same call only once."),
    ] = None,
    estimated: Annotated[
        bool, typer.Option("--estimated", help="The token counts are estimates.")
    ] = False,
    batch: Annotated[
        bool, typer.Option("--batch", help="A batch-API call (batch prices).")
    ] = False,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Log a call made by something else, costed at the price in force when it was made.

    Give the call as flags, or pipe JSON lines on stdin: one call per line with the same
    field names (model, input_tokens, output_tokens, cache_read, cache_write, cache_write_1h,
    reasoning_tokens, task_id, task_type, status, error_kind, latency_ms, tags, timestamp,
    project, source_key, estimated, batch), or a provider's raw `usage` object (OpenAI,
    Anthropic or Gemini) in place of the token fields. Flags given with JSON lines are
    defaults for every line. A bad line is rejected with its number; the good ones are kept.
    """
    # every option but --ledger and --json describes the call (or each line's defaults)
    options = {k: v for k, v in locals().items() if k not in ("ledger", "as_json")}
    from tokenroute.cli.context import ledger_path, load_table, now
    from tokenroute.cli.views import calls as view
    from tokenroute.ledger import intake
    from tokenroute.settings import detect_project

    table = load_table()
    lines = None if sys.stdin.isatty() else sys.stdin.buffer
    calls, rejected = intake.calls_given(options, lines, now())
    results = intake.record_into(ledger_path(ledger), table, calls, detect_project(Path.cwd()))
    view.show_recorded(results, rejected, as_json=as_json)
    if rejected:
        raise BadInputError(
            f"{len(rejected)} line(s) rejected; the other {len(calls)} were recorded"
        )


@task_group.command("start")
def task_start(
    description: Annotated[str | None, typer.Argument(help="What the task is.")] = None,
    task_type: Annotated[
        str | None, typer.Option("--type", metavar="TYPE", help="e.g. code, extract.")
    ] = None,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Start a task and print its id: export TOKENROUTE_TASK=$(tokenroute task start ...)"""
    from tokenroute.cli.context import ledger_path, now
    from tokenroute.cli.views import calls as view
    from tokenroute.ledger.edits import start_task
    from tokenroute.settings import detect_project
    from tokenroute.timewindow import stamp

    task = start_task(
        ledger_path(ledger),
        created_at=stamp(now()),
        task_type=task_type,
        description=description,
        project=detect_project(Path.cwd()),
    )
    view.show_task(task, as_json=as_json)


@task_group.command("end")
def task_end(
    task_id: Annotated[str, typer.Argument(metavar="ID", help="The task id.")],
    success: SuccessOpt = None,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """End a task with its outcome: --success or --failure."""
    set_outcome(task_id, success, ledger, ended=True, as_json=as_json)


def mark(
    task_id: Annotated[str, typer.Argument(metavar="ID", help="The task id.")],
    success: SuccessOpt = None,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Set a task's outcome after the fact: --success or --failure."""
    set_outcome(task_id, success, ledger, ended=False, as_json=as_json)


def set_outcome(
    task_id: str, success: bool | None, ledger: Path | None, *, ended: bool, as_json: bool
) -> None:
    from tokenroute.cli.context import ledger_path, stamp_now
    from tokenroute.cli.views import calls as view
    from tokenroute.ledger import edits

    if success is None:
        raise UsageError("say how the task went: --success or --failure")
    outcome = "success" if success else "failure"
    edits.set_outcome(ledger_path(ledger), task_id, outcome, stamp_now() if ended else None)
    view.show_outcome(task_id, outcome, as_json=as_json)


def log(
    count: Annotated[
        int, typer.Option("-n", "--count", min=1, metavar="N", help="How many attempts.")
    ] = 20,
    last: Annotated[
        str | None, typer.Option("--last", metavar="SPAN", help="e.g. 30d, 12h, 2w.")
    ] = None,
    since: Annotated[str | None, typer.Option("--since", metavar="DATE")] = None,
    until: Annotated[str | None, typer.Option("--until", metavar="DATE")] = None,
    task_type: Annotated[str | None, typer.Option("--task-type", metavar="TYPE")] = None,
    project: Annotated[str | None, typer.Option("--project", metavar="NAME")] = None,
    source: Annotated[str | None, typer.Option("--source", metavar="NAME")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", metavar="MODEL")] = None,
    tag: Annotated[str | None, typer.Option("--tag", metavar="TAG")] = None,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The most recent attempts in the ledger, newest first."""
    from tokenroute.cli.context import ledger_path, load_table
    from tokenroute.cli.options import attempt_filter
    from tokenroute.cli.views import calls as view
    from tokenroute.ledger.queries import recent_attempts

    if model is not None:
        known = load_table().find(model)
        model = known.id if known is not None else model
    where = attempt_filter(
        last, since, until, task_type=task_type, project=project, source=source, model=model,
        tag=tag,
    )  # fmt: skip
    view.show_log(recent_attempts(ledger_path(ledger), where, count), as_json=as_json)


def forget(
    before: Annotated[
        str, typer.Option("--before", metavar="DATE", help="Forget text kept before this day.")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say how much would go; delete nothing.")
    ] = False,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete the prompts, answers and task descriptions kept before DATE (costs stay).

    The deleted text is overwritten in the file, not only unlinked; those conversations
    can no longer be continued with -c."""
    from tokenroute.cli.context import ledger_path, parse_day
    from tokenroute.cli.views import calls as view
    from tokenroute.ledger.edits import forget_text

    day = parse_day(before, "--before")
    turns, described = forget_text(ledger_path(ledger), day.isoformat(), dry_run=dry_run)
    view.show_forgotten(day, turns, described, dry_run=dry_run, as_json=as_json)
