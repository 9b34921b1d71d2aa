"""How a run keeps to the budgets: before it starts (refuse, or a cheaper tier) and before
every try, retries and escalations included.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from tokenroute.advisor.router import step
from tokenroute.dispatch.choice import Choice, best_target
from tokenroute.dispatch.endpoints import EndpointSpec, keyed_paid_endpoints, resolve_endpoint
from tokenroute.dispatch.providers.base import Request
from tokenroute.dispatch.targets import Target, estimate_cost, prompt_text
from tokenroute.prices.table import PriceTable
from tokenroute.taxonomy import TIERS


def expected_cost(choice: Choice, request: Request, output_tokens: int, at: datetime):
    from tokenroute.prices.tokens import count_tokens

    tokens = count_tokens(prompt_text(request)).tokens
    return estimate_cost(choice.ladder[0], tokens, output_tokens, at)


def enforce_budgets(
    choice: Choice,
    budgets: list,
    spend: Callable[[str | None, str | None, Any], Any],
    request: Request,
    output_tokens: int,
    at: datetime,
    *,
    tags: tuple[str, ...],
    project: str | None,
    table: PriceTable,
    specs: Mapping[str, EndpointSpec],
    environ: Mapping[str, str],
    stored_keys: Mapping[str, str],
) -> tuple[Choice, list[str]]:
    """The choice if it fits every budget that covers it; else a cheaper tier when the budget
    allows downgrading; else OverBudgetError. Returns the warnings (80% of a limit)."""

    from tokenroute.errors import OverBudgetError
    from tokenroute.ledger.budgets import burns, check, over_message

    if not budgets:
        return choice, []
    burned = burns(budgets, spend, at.date())
    candidates = [choice]
    start = choice.ladder[0]
    if start.tier in TIERS and start.tier != "local" and not choice.explicit:
        usable = keyed_paid_endpoints(specs, environ, stored_keys)

        def endpoint_for(name: str):
            return resolve_endpoint(name, specs, environ, stored_keys)

        tier = start.tier
        while tier != "economy":
            tier = step(tier, -1)
            target = best_target(tier, choice.task_type, table, at.date(), usable, endpoint_for)
            if target is not None:
                why = f"{target.name} ({target.endpoint.name}, {tier}): downgraded by a budget"
                candidates.append(Choice([target], choice.task_type, why))
    first_over = None
    for candidate in candidates:
        expected = expected_cost(candidate, request, output_tokens, at)
        if expected is None:
            raise OverBudgetError(
                f"{candidate.ladder[0].name} has no known price, so the budgets cannot be kept: "
                "add its price ('tokenroute prices import') or remove the budget"
            )
        verdict = check(burned, expected, task_type=choice.task_type, tags=tags, project=project)
        if not verdict.over:
            return candidate, verdict.warnings
        first_over = first_over or (verdict.over[0], expected)
        if any(burn.budget.action != "downgrade" for burn in verdict.over):
            break
    burn, expected = first_over
    raise OverBudgetError(over_message(burn, expected))


def budget_gate(
    budgets: list,
    spend: Callable[[str | None, str | None, Any], Any],
    *,
    task_type: str | None,
    tags: tuple[str, ...],
    project: str | None,
    today: Callable[[], Any],
) -> Callable[[Target, Any, str], None] | None:
    """The check dispatch runs before every try (retries and escalations included)."""
    if not budgets:
        return None
    from tokenroute.errors import OverBudgetError
    from tokenroute.ledger.budgets import burns, check, over_message

    def gate(target: Target, expected: Any, what: str) -> None:
        burned = burns(budgets, spend, today())
        verdict = check(burned, expected, task_type=task_type, tags=tags, project=project)
        if verdict.over:
            raise OverBudgetError(f"{what}: " + over_message(verdict.over[0], expected))

    return gate
