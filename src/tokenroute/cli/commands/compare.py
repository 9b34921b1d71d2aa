"""`tokenroute compare`: the same examples on each candidate model; cost per successful
task on each side, and which one to use (compare.comparison does it)."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from tokenroute.cli.options import JsonOpt, LedgerOpt, parse_usd
from tokenroute.errors import UsageError

HELP = """Run the same examples on each candidate model and compare cost per successful task.

EXAMPLES holds one JSON object per line: "prompt" (or "messages"), and optionally "system",
"expected" and "id". Each (model, example) is a task in the ledger, its outcome the
judgement; every call is an attempt tagged compare:NAME (see 'tokenroute report --tag').
Success is judged by --expect json/--schema, --match, --match-regex, --check CMD or --judge
MODEL --rubric FILE; with none, every valid answer counts. Refuses to start above
--max-cost, or above $1 without --yes.

\b
Example:
  tokenroute compare --models claude-haiku-4-5,gpt-5-mini examples.jsonl --match
"""


def compare(
    examples: Annotated[str, typer.Argument(metavar="EXAMPLES", help="JSON lines; '-': stdin.")],
    models: Annotated[
        str,
        typer.Option("--models", metavar="A,B", help="The candidates, your current one first."),
    ],
    name: Annotated[
        str | None, typer.Option("--name", help="Tags its attempts compare:NAME.")
    ] = None,
    system: Annotated[
        Path | None, typer.Option("--system", metavar="FILE", help="The system prompt.")
    ] = None,
    task_type: Annotated[
        str | None, typer.Option("--task-type", metavar="TYPE", help="Default: classified.")
    ] = None,
    repeat: Annotated[int, typer.Option("--repeat", min=1, max=100, metavar="N")] = 1,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=32, metavar="N", help="Calls at once.")
    ] = 4,
    max_cost: Annotated[
        str | None, typer.Option("--max-cost", metavar="USD", help="The most it may spend.")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Spend over $1 without --max-cost.")] = False,
    expect: Annotated[
        str | None, typer.Option("--expect", metavar="json", help="Answers must be JSON.")
    ] = None,
    schema: Annotated[
        Path | None, typer.Option("--schema", metavar="FILE", help="Answers' JSON Schema.")
    ] = None,
    match: Annotated[
        bool, typer.Option("--match", help="Right when the answer is 'expected' (trimmed).")
    ] = False,
    match_regex: Annotated[
        str | None, typer.Option("--match-regex", metavar="RE", help="Right when RE is found.")
    ] = None,
    check: Annotated[
        str | None,
        typer.Option("--check", metavar="CMD", help="Right when CMD, fed the answer, exits 0."),
    ] = None,
    judge: Annotated[
        str | None, typer.Option("--judge", metavar="MODEL", help="An LLM grades each answer.")
    ] = None,
    rubric: Annotated[
        Path | None, typer.Option("--rubric", metavar="FILE", help="What the judge grades.")
    ] = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", min=1, metavar="N")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan and its cost; send nothing.")
    ] = False,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    from tokenroute.cli.context import ledger_path, load_table, now
    from tokenroute.cli.views import compare as view
    from tokenroute.compare import comparison
    from tokenroute.compare.judging import Judges
    from tokenroute.dispatch.session import Surroundings
    from tokenroute.settings import detect_project, resolve_paths

    judges = Judges(match, _regex(match_regex), check, judge)
    ask = comparison.CompareAsk(
        examples, _models(models), name, system, _task_type(task_type), repeat, concurrency,
        parse_usd(max_cost, "--max-cost"), yes, _expect_json(expect), schema, judges, rubric,
        max_tokens, dry_run,
    )  # fmt: skip
    where = Surroundings(
        resolve_paths(), ledger_path(ledger), os.environ, sys.stdin, now, load_table,
        detect_project(Path.cwd()),
    )  # fmt: skip
    plan = comparison.prepare(ask, where)
    strict = ask.expect_json or schema is not None
    if dry_run:
        view.show_plan(plan, expect_json=strict, as_json=as_json)
        return
    comparison.check_spend(plan, ask.max_cost, yes)
    view.announce(plan, expect_json=strict)
    done = _compared(plan, ask, where, strict=strict, as_json=as_json)
    view.show_comparison(plan, done, expect_json=strict, as_json=as_json)
    comparison.check_outcome(done)


def _compared(plan, ask, where, *, strict: bool, as_json: bool):
    """The trial with its progress bar; on Ctrl-C, what was done is shown, then re-raised."""
    from tokenroute.cli.views import compare as view
    from tokenroute.compare import comparison

    try:
        with view.progress(plan.calls) as advance:
            return comparison.execute(plan, ask, where, advance)
    except KeyboardInterrupt as exc:  # the boundary then says "interrupted" (exit 130)
        partial = getattr(exc, "trial", None)
        if partial is not None:
            done = comparison.scored(plan, partial)
            view.show_comparison(plan, done, expect_json=strict, as_json=as_json)
        raise


def _expect_json(expect: str | None) -> bool:
    if expect not in (None, "json"):
        raise UsageError(f"--expect takes json (got '{expect}')")
    return expect == "json"


def _models(given: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in given.split(",") if part.strip())
    if len(names) < 1:
        raise UsageError("--models lists no model: give names separated by commas")
    return names


def _regex(pattern: str | None) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise UsageError(f"--match-regex is not a regular expression: {exc}") from None


def _task_type(given: str | None) -> str | None:
    from tokenroute.taxonomy import TASK_TYPES

    if given is not None and given not in TASK_TYPES:
        raise UsageError(f"--task-type must be one of {', '.join(TASK_TYPES)} (got '{given}')")
    return given
