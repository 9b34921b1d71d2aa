"""Spending limits: daily and monthly, overall or for one task type, tag or project.

Kept in a small JSON file beside the config (`tokenroute paths`: budgets). Before each call
`run` asks `check` whether the expected cost fits; a budget either refuses the run or lets
it move down to a cheaper tier, as the budget says. At 80% of a limit it warns.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import NamedTuple

from tokenroute.errors import BadInputError, UsageError

SCOPES = ("task_type", "tag", "project")
ACTIONS = ("refuse", "downgrade")
WARN_AT = Decimal("0.8")


class Budget(NamedTuple):
    scope: str | None  # None: all spend; else one of SCOPES
    value: str | None  # the task type, tag or project it covers
    daily: Decimal | None
    monthly: Decimal | None
    action: str = "refuse"

    @property
    def label(self) -> str:
        return "all spend" if self.scope is None else f"{self.scope.replace('_', '-')} {self.value}"

    def covers(self, task_type: str | None, tags: Sequence[str], project: str | None) -> bool:
        if self.scope is None:
            return True
        if self.scope == "task_type":
            return task_type == self.value
        if self.scope == "project":
            return project == self.value
        return self.value in tags


class Burn(NamedTuple):
    budget: Budget
    period: str  # "day" or "month"
    limit: Decimal
    spent: Decimal  # what could be priced
    unpriced: int = 0  # calls of the period whose price is unknown: spent is a floor

    @property
    def maybe_over(self) -> bool:
        """Unpriced calls could already have passed the limit."""
        return self.unpriced > 0 and self.spent <= self.limit


# (scope, value, since day) -> (USD spent from that day on, calls it could not price)
SpendReader = Callable[[str | None, str | None, date], tuple[Decimal, int]]


def parse_amount(text: str, option: str) -> Decimal:
    try:
        amount = Decimal(text.removeprefix("$"))
    except InvalidOperation:
        amount = Decimal(-1)
    if not amount.is_finite() or amount <= 0:
        raise UsageError(f"{option} must be an amount in USD above 0, e.g. 5 (got '{text}')")
    return amount


def read_budgets(path: Path) -> list[Budget]:
    if not path.exists():
        return []
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return [
            Budget(
                b.get("scope"),
                b.get("value"),
                Decimal(b["daily"]) if b.get("daily") is not None else None,
                Decimal(b["monthly"]) if b.get("monthly") is not None else None,
                b.get("action", "refuse"),
            )
            for b in raw["budgets"]
        ]
    except (OSError, ValueError, KeyError, TypeError, InvalidOperation, AttributeError):
        raise BadInputError(
            f"{path}: the budgets file is unreadable: fix or delete it, then 'tokenroute budget "
            "set' again"
        ) from None


def write_budgets(path: Path, budgets: Sequence[Budget]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    items = [
        {
            "scope": b.scope,
            "value": b.value,
            "daily": None if b.daily is None else str(b.daily),
            "monthly": None if b.monthly is None else str(b.monthly),
            "action": b.action,
        }
        for b in budgets
    ]
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(json.dumps({"version": 1, "budgets": items}, indent=2) + "\n", "utf-8")
    temp.replace(path)


def set_budget(path: Path, new: Budget) -> None:
    """Store a budget in the file at `path`, in place of any of the same scope."""
    write_budgets(path, replace_budget(read_budgets(path), new))


def remove_budget(path: Path, scope: str | None, value: str | None) -> bool:
    """Forget the budget of a scope; False when there was none."""
    budgets = read_budgets(path)
    kept = [b for b in budgets if (b.scope, b.value) != (scope, value)]
    if len(kept) == len(budgets):
        return False
    write_budgets(path, kept)
    return True


def replace_budget(budgets: Sequence[Budget], new: Budget) -> list[Budget]:
    """One budget per scope: setting it again replaces it."""
    return [b for b in budgets if (b.scope, b.value) != (new.scope, new.value)] + [new]


def burns(budgets: Sequence[Budget], spend: SpendReader, today: date) -> list[Burn]:
    """Each limit with what was spent in its period so far (today; this calendar month)."""
    result = []
    for budget in budgets:
        for period, limit, since in (
            ("day", budget.daily, today),
            ("month", budget.monthly, today.replace(day=1)),
        ):
            if limit is not None:
                spent, unpriced = spend(budget.scope, budget.value, since)
                result.append(Burn(budget, period, limit, spent, unpriced))
    return result


class Verdict(NamedTuple):
    over: list[Burn]  # limits this call would break
    warnings: list[str]  # limits it would bring to 80% or more


def check(
    burned: Sequence[Burn],
    expected: Decimal,
    *,
    task_type: str | None,
    tags: Sequence[str],
    project: str | None,
) -> Verdict:
    over, warnings = [], []
    for burn in burned:
        if not burn.budget.covers(task_type, tags, project):
            continue
        after = burn.spent + expected
        if after > burn.limit:
            over.append(burn)
        elif burn.unpriced:
            warnings.append(unpriced_warning(burn))
        elif after >= burn.limit * WARN_AT:
            warnings.append(
                f"budget {burn.budget.label}: ${after:.2f} of ${burn.limit} this {burn.period} "
                f"({after / burn.limit:.0%}) after this run"
            )
    return Verdict(over, warnings)


def unpriced_warning(burn: Burn) -> str:
    return (
        f"budget {burn.budget.label}: ${burn.spent:.2f}+? of ${burn.limit} this {burn.period}: "
        f"{burn.unpriced:,} call(s) have no known price, so the limit may already be passed "
        "(add any missing prices, then run 'tokenroute prices reprice')"
    )


def over_message(burn: Burn, expected: Decimal) -> str:
    return (
        f"over budget: {burn.budget.label} has ${burn.spent:.4f} of ${burn.limit} spent this "
        f"{burn.period} and this run would cost about ${expected:.4f} "
        "(raise it with 'tokenroute budget set', or choose a cheaper model)"
    )
