"""`tokenroute pick` without typer: the body both ways in run, the fast path (entry.py)
and the typer command (commands/pick.py), so both give the same output, errors and ledger
rows; the fast path only reads the arguments differently.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple

from tokenroute.cli.context import ask_yes_no, ledger_path, load_table, now, today
from tokenroute.errors import UsageError
from tokenroute.taxonomy import TASK_TYPES


class PickOptions(NamedTuple):
    """pick's options, with the defaults of its command line."""

    description: str | None = None
    file: Path | None = None
    prompt_file: Path | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    deep: bool | None = None
    good_enough: bool | None = None
    need: bool | None = None
    quality_target: float | None = None
    local: bool = False
    no_explore: bool = False
    no_log: bool = False
    explain_policy: bool = False
    task_type: str | None = None
    council: bool = False
    council_models: str | None = None
    timeout: float = 20.0
    ledger: str | None = None
    as_json: bool = False


def _say(message: str) -> None:
    sys.stderr.write(f"{message}\n")
    sys.stderr.flush()


def pick(options: PickOptions) -> None:
    from tokenroute.advisor.pick import Answers, PickFlow, read_description
    from tokenroute.cli.views import pick as view
    from tokenroute.settings import detect_project

    target = options.quality_target
    if target is not None and not 0 < target <= 1:
        raise UsageError(f"--quality-target must be in (0, 1], e.g. 0.9 (got {target})")
    if options.task_type is not None and options.task_type not in TASK_TYPES:
        raise UsageError(
            f"--task-type must be one of {', '.join(TASK_TYPES)} (got '{options.task_type}')"
        )
    _check_council_options(options)
    flow = PickFlow(
        table=load_table(),
        ledger_path=ledger_path(options.ledger),
        day=today(),
        now=now(),
        project=detect_project(Path.cwd()),
    )
    if options.explain_policy:
        view.show_policy(flow.explain(), as_json=options.as_json)
        return
    text = read_description(options.description, options.file, sys.stdin)
    answers = Answers(options.deep, options.good_enough, options.need)
    interactive = sys.stdin.isatty() and sys.stderr.isatty()
    result = flow.pick(
        text,
        answers,
        interactive=interactive,
        ask=ask_yes_no if interactive else None,
        tell=_say,
        prompt_file=options.prompt_file,
        input_tokens=options.input_tokens,
        output_tokens=options.output_tokens,
        quality_target=target,
        local=options.local,
        explore=not options.no_explore,
        log=not options.no_log,
        task_type=options.task_type,
    )
    council = _council(options, text, flow, result) if options.council else None
    view.show_pick(result, as_json=options.as_json, council=council)


def _council_names(options: PickOptions) -> list[str]:
    return [n.strip() for n in (options.council_models or "").split(",") if n.strip()]


def _check_council_options(options: PickOptions) -> None:
    """Before pick logs anything: the council's options make sense."""
    if not options.council:
        if options.council_models is not None or options.timeout != PickOptions().timeout:
            raise UsageError("--council-models and --timeout go with --council")
        return
    named = _council_names(options)
    if options.council_models is not None and not named:
        raise UsageError("--council-models lists no model: give names separated by commas")
    if len(set(named)) != len(named):
        raise UsageError("--council-models names a model twice: each member votes once")
    if not 0.5 <= options.timeout <= 600:
        raise UsageError(f"--timeout must be between 0.5 and 600 seconds (got {options.timeout})")


def _council(options: PickOptions, text: str | None, flow, result) -> tuple:
    """The council's decision on the description, and the models of its tier."""
    import os

    from tokenroute.dispatch import council
    from tokenroute.settings import detect_project, resolve_paths

    named = _council_names(options)
    decision = council.advise(
        text or "", named=named or None, timeout=options.timeout, table=flow.table,
        paths=resolve_paths(), ledger=ledger_path(options.ledger), environ=os.environ, clock=now,
        project=detect_project(Path.cwd()),
    )  # fmt: skip
    usage = result.recommendation.usage
    return decision, council.models_for(decision, flow.table, today(), usage, flow.configured)
