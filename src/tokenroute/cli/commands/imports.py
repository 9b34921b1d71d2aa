"""`tokenroute import`: the usage coding agents and tools already logged, into the ledger."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tokenroute.cli.options import DryRunOpt, JsonOpt, LedgerOpt, SinceOpt, command_group
from tokenroute.errors import BadInputError, ExitCode

if TYPE_CHECKING:
    from tokenroute.ledger.importers.sources import LogSource

group = command_group("Import the usage your coding agents already logged.", no_args_is_help=True)

ImportPathOpt = Annotated[
    list[Path] | None,
    typer.Option("--path", metavar="DIR", help="Read logs here instead (repeatable)."),
]


@group.command("claude-code")
def import_claude_code(
    path: ImportPathOpt = None,
    since: SinceOpt = None,
    dry_run: DryRunOpt = False,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import Claude Code's session logs: each API call once, each session a task.

    Reads ~/.claude/projects and ~/.config/claude/projects (CLAUDE_CONFIG_DIR, a
    comma-separated list, replaces both). A second import reads only what was appended.
    """
    from tokenroute.ledger.importers.sources import agent_log

    _import(agent_log("claude-code"), path, since, dry_run, ledger, as_json)


@group.command("codex")
def import_codex(
    path: ImportPathOpt = None,
    since: SinceOpt = None,
    dry_run: DryRunOpt = False,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import Codex CLI's session logs: each turn's tokens once, each session a task.

    Reads ~/.codex/sessions ($CODEX_HOME/sessions). Cached input is split out of input; a
    running total repeated without new usage counts once. Only appended lines are re-read.
    """
    from tokenroute.ledger.importers.sources import agent_log

    _import(agent_log("codex"), path, since, dry_run, ledger, as_json)


@group.command("jsonl")
def import_jsonl(
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE...", help="JSON-lines files, as for record.")
    ],
    source: Annotated[
        str, typer.Option("--source", metavar="NAME", help="The source the calls are from.")
    ] = "jsonl",
    since: SinceOpt = None,
    dry_run: DryRunOpt = False,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import JSON lines in record's format from files, incrementally (only appended lines
    on the next run). A line's source_key, or its timestamp and bytes, count it once.
    """
    from tokenroute.ledger.importers.sources import jsonl_files

    log = jsonl_files(source)
    for path in files:
        if not path.is_file():
            raise BadInputError(f"{path}: no such file")
    _import(log, files, since, dry_run, ledger, as_json)


@group.command("llm")
def import_llm(
    path: Annotated[
        Path | None,
        typer.Option("--path", metavar="FILE", help="llm's logs.db (default: llm's own)."),
    ] = None,
    since: SinceOpt = None,
    dry_run: DryRunOpt = False,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import simonw/llm's logs.db: each logged response with token counts, once.

    Reads the responses table (and the older logs table); LLM_USER_PATH moves the default.
    Only rows added since the last import are read.
    """
    from tokenroute.ledger.importers.sources import llm_database

    if path is not None and not path.is_file():
        raise BadInputError(f"{path}: no such file (--path)")
    log = llm_database()
    _import(log, [path or log.default_roots(os.environ, Path.home())[0]], since, dry_run, ledger,
            as_json)  # fmt: skip


def _import(
    log: LogSource,
    given: list[Path] | None,
    since: str | None,
    dry_run: bool,
    ledger: Path | None,
    as_json: bool,
) -> None:
    """Read the logs under the given paths (else the log's own folders) and say what came."""
    from tokenroute.cli.context import ledger_path, load_table, now, parse_day
    from tokenroute.cli.views import imports as view
    from tokenroute.ledger.importers.sources import existing_roots, import_logs

    roots = existing_roots(given or []) or log.default_roots(os.environ, Path.home())
    table = load_table()
    summary = import_logs(
        log, roots, ledger_path(ledger), table, now(),
        since=parse_day(since, "--since") if since else None, dry_run=dry_run,
        progress=view.import_progress,
    )  # fmt: skip
    shown = [str(r) for r in roots]
    view.show_import_summary(summary, shown, dry_run=dry_run, as_json=as_json, unit=log.unit)
    if summary.rejected:  # the rest is in; the exit code says some lines were not
        raise typer.Exit(ExitCode.BAD_INPUT)
