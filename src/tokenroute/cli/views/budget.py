"""What `budget list` prints, and the burn lines the report shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tokenroute.cli import render
from tokenroute.cli.render import Column

if TYPE_CHECKING:
    from tokenroute.ledger.budgets import Budget, Burn


def burn_json(burned: Sequence[Burn]) -> list[dict[str, Any]]:
    return [
        {
            "scope": b.budget.scope,
            "value": b.budget.value,
            "period": b.period,
            "limit_usd": b.limit,
            "cost_usd": b.spent,
            "unpriced_attempts": b.unpriced,
            "share": float(b.spent / b.limit),
            "action": b.budget.action,
        }
        for b in burned
    ]


def burn_spent(burn: Burn) -> str:
    """Spend with '+?' where calls could not be priced: a floor, not the whole."""
    return render.usd_amount(burn.spent) + ("+?" if burn.unpriced else "")


def burn_share(burn: Burn) -> str:
    return f"{burn.spent / burn.limit:.0%}" + ("+?" if burn.unpriced else "")


def show_budgets(burned: list[Burn], *, as_json: bool) -> None:
    from tokenroute.ledger.budgets import unpriced_warning

    for burn in burned:
        if burn.maybe_over:
            render.warn(unpriced_warning(burn))
    if as_json:
        render.emit_json({"budgets": burn_json(burned)})
        return
    if not burned:
        render.say("no budgets: set one with 'tokenroute budget set --daily 5'")
        return
    cells = [
        [
            b.budget.label,
            b.period,
            burn_spent(b),
            render.usd_amount(b.limit),
            burn_share(b),
            b.budget.action,
        ]
        for b in burned
    ]
    columns = [
        Column("budget"),
        Column("period"),
        Column("spent", numeric=True),
        Column("limit", numeric=True),
        Column("burn", numeric=True),
        Column("over it"),
    ]
    render.emit_table(columns, cells, title="Budgets (UTC days and months)")


def show_budget_set(budget: Budget, *, as_json: bool) -> None:
    if as_json:
        body = {
            "scope": budget.scope,
            "value": budget.value,
            "daily_limit_usd": budget.daily,
            "monthly_limit_usd": budget.monthly,
            "action": budget.action,
        }
        render.emit_json({"budget": body})
    else:
        render.say(f"budget for {budget.label} set")
