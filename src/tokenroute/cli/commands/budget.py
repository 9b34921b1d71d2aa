"""`tokenroute budget`: daily and monthly spending limits that run keeps to."""

from __future__ import annotations

from typing import Annotated

import typer

from tokenroute.cli.options import JsonOpt, LedgerOpt, command_group, done
from tokenroute.errors import NotFoundError, UsageError
from tokenroute.taxonomy import TASK_TYPES

group = command_group("Daily and monthly spending limits that run keeps to.", no_args_is_help=True)


@group.command("set")
def budget_set(
    daily: Annotated[
        str | None, typer.Option("--daily", metavar="USD", help="Limit per day.")
    ] = None,
    monthly: Annotated[
        str | None, typer.Option("--monthly", metavar="USD", help="Limit per calendar month.")
    ] = None,
    task_type: Annotated[
        str | None, typer.Option("--task-type", metavar="TYPE", help="Only this task type.")
    ] = None,
    tag: Annotated[str | None, typer.Option("--tag", help="Only attempts with this tag.")] = None,
    project: Annotated[str | None, typer.Option("--project", help="Only this project.")] = None,
    downgrade: Annotated[
        bool,
        typer.Option("--downgrade/--refuse", help="Over the limit: a cheaper tier, or refuse."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Set a daily and/or monthly limit (days and months in UTC); setting it again replaces it.

    Example: tokenroute budget set --daily 5 --monthly 100 --task-type code --downgrade
    """
    from tokenroute.cli.views import budget as view
    from tokenroute.ledger.budgets import Budget, parse_amount, set_budget
    from tokenroute.settings import resolve_paths

    scope, value = _budget_scope(task_type, tag, project)
    if daily is None and monthly is None:
        raise UsageError("give --daily USD, --monthly USD, or both")
    budget = Budget(
        scope,
        value,
        parse_amount(daily, "--daily") if daily is not None else None,
        parse_amount(monthly, "--monthly") if monthly is not None else None,
        "downgrade" if downgrade else "refuse",
    )
    set_budget(resolve_paths().budgets, budget)
    view.show_budget_set(budget, as_json=as_json)


@group.command("list")
def budget_list(ledger: LedgerOpt = None, as_json: JsonOpt = False) -> None:
    """Every budget with what was spent so far today and this month (its burn)."""
    from tokenroute.cli.context import ledger_path, today
    from tokenroute.cli.views import budget as view
    from tokenroute.ledger.budgets import read_budgets
    from tokenroute.ledger.queries import budget_burns
    from tokenroute.settings import resolve_paths

    budgets = read_budgets(resolve_paths().budgets)
    view.show_budgets(budget_burns(ledger_path(ledger), budgets, today()), as_json=as_json)


@group.command("remove")
def budget_remove(
    task_type: Annotated[str | None, typer.Option("--task-type", metavar="TYPE")] = None,
    tag: Annotated[str | None, typer.Option("--tag")] = None,
    project: Annotated[str | None, typer.Option("--project")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove the budget of a scope (no option: the overall one)."""
    from tokenroute.ledger.budgets import remove_budget
    from tokenroute.settings import resolve_paths

    scope, value = _budget_scope(task_type, tag, project)
    if not remove_budget(resolve_paths().budgets, scope, value):
        raise NotFoundError("no such budget (see 'tokenroute budget list')")
    done("budget removed", {"removed": {"scope": scope, "value": value}}, as_json)


def _budget_scope(task_type: str | None, tag: str | None, project: str | None):
    given = [(s, v) for s, v in (("task_type", task_type), ("tag", tag), ("project", project)) if v]
    if len(given) > 1:
        raise UsageError("a budget covers one of --task-type, --tag or --project, not several")
    if task_type and task_type not in TASK_TYPES:
        raise UsageError(f"--task-type must be one of {', '.join(TASK_TYPES)} (got '{task_type}')")
    return given[0] if given else (None, None)
