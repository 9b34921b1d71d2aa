"""Which model a run starts on, and the dearer ones --escalate climbs to.

The advisor's tiers and prices decide; the endpoints and keys say which providers can be
called. -m names the model outright (or ENDPOINT/MODEL for any model a server has).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from tokenroute.advisor.policy import Policy
from tokenroute.advisor.router import choose_models, price_models, step
from tokenroute.dispatch.endpoints import EndpointSpec, keyed_paid_endpoints, resolve_endpoint
from tokenroute.dispatch.targets import Target
from tokenroute.errors import UnknownModelError, UsageError
from tokenroute.models import Usage
from tokenroute.prices.table import PriceTable
from tokenroute.taxonomy import TASK_TYPES, TIERS


class Choice(NamedTuple):
    ladder: list[Target]
    task_type: str | None
    why: str  # one line: which model and why
    explicit: bool = False  # the user named the model (-m): budgets may refuse, not swap it


def choose(
    prompt: str,
    *,
    model: str | None,
    task: str | None,
    tier: str | None,
    escalate: bool,
    table: PriceTable,
    policy: Policy,
    specs: Mapping[str, EndpointSpec],
    environ: Mapping[str, str],
    stored_keys: Mapping[str, str],
    day: Any,
    cache: Path | None,
    need_key: bool = True,
    local: bool = False,
    served: Callable[[Any], list[str] | None] | None = None,
) -> Choice:
    """The model to start on and, with --escalate, the dearer ones to move to. With --local
    a running local server goes first where the tier is small or below, escalating to the
    paid model on failure ("local first, escalate on failure")."""

    def endpoint_for(name: str):
        return resolve_endpoint(name, specs, environ, stored_keys, need_key=need_key)

    if model is not None:
        target = explicit_target(model, table, specs, endpoint_for)
        ladder = [target]
        if escalate and target.tier in TIERS:
            ladder += _ladder_above(
                target.tier, None, table, day, specs, environ, stored_keys, endpoint_for
            )
        return Choice(
            ladder,
            task if task not in (None, "auto") else None,
            f"{target.name} ({target.endpoint.name}): asked for with -m",
            explicit=True,
        )
    task_type, reason = _task_type(prompt, task, policy, cache)
    start = tier or (policy.types[task_type].tier if task_type else "mid")
    usable = keyed_paid_endpoints(specs, environ, stored_keys)
    estimates = price_models(table, day, start, task_type, _typical(policy, task_type))
    best, _, has = choose_models(estimates, usable)
    if start == "local" and not model:
        raise UsageError(
            "tier local runs on your own server: name its model, e.g. -m ollama/llama3.2, "
            "or use --local to put a running one first"
        )
    if best is not None and not has and not need_key:
        has = True  # --dry-run: show the request, even without a key
    if best is None or not has:
        needed = sorted({e.model.provider for e in estimates}) or ["none in the table"]
        raise UsageError(
            f"no provider of tier {start} has a key: set one ({', '.join(needed)}) with "
            "'tokenroute keys set NAME' or its environment variable, or choose -m MODEL"
        )
    target = Target(
        best.model.id, best.model.id, endpoint_for(best.model.provider), start, best.model
    )
    ladder = [target]
    if escalate:
        ladder += _ladder_above(
            start, task_type, table, day, specs, environ, stored_keys, endpoint_for
        )
    why = f"{target.name} ({target.endpoint.name}, {start})"
    why += f": {reason}" if reason else (": --tier" if tier else "")
    if local and TIERS.index(start) <= TIERS.index("small") and served is not None:
        first = _running_local_model(table, day, task_type, specs, endpoint_for, served)
        if first is not None:
            return Choice(
                [first, *ladder],
                task_type,
                f"{first.name} ({first.endpoint.name}, "
                f"local first, then {target.name}): {reason or 'task tier'}",
            )
    return Choice(ladder, task_type, why)


def _running_local_model(table, day, task_type, specs, endpoint_for, served) -> Target | None:
    """A model of a local server that answers: one the price table knows and suits the task
    first, else the first the server lists."""
    for name, spec in specs.items():
        if not spec.local:
            continue
        endpoint = endpoint_for(name)
        models = served(endpoint)
        if not models:
            continue
        known = [e.model for e in price_models(table, day, "local", task_type, Usage())]
        for model in known:
            if model.provider == name and model.id in models:
                return Target(model.id, model.id, endpoint, "local", model)
        return Target(models[0], models[0], endpoint, "local", table.find(models[0]))
    return None


def _task_type(prompt: str, task: str | None, policy: Policy, cache: Path | None):
    if task is None or task == "auto":
        from tokenroute.advisor.classifier import classify, trained_model

        found = classify(prompt, trained_model(cache), policy)
        sure = f"{found.confidence:.0%} sure"
        return found.task_type, f"looks like {found.task_type} ({sure}), policy tier"
    if task not in TASK_TYPES:
        raise UsageError(f"--task must be auto or one of {', '.join(TASK_TYPES)} (got '{task}')")
    return task, f"task {task}, policy tier"


def _typical(policy: Policy, task_type: str | None) -> Usage:
    rule = policy.types.get(task_type) if task_type else None
    return (
        Usage(input=rule.input_tokens, output=rule.output_tokens)
        if rule
        else Usage(5000, 0, 0, 0, 1000)
    )


def _ladder_above(tier, task_type, table, day, specs, environ, stored_keys, endpoint_for):
    """The best keyed model of each dearer tier, in order: where --escalate goes."""
    usable = keyed_paid_endpoints(specs, environ, stored_keys)
    ladder, current = [], tier
    while current != "frontier":
        current = step(current, 1)
        target = best_target(current, task_type, table, day, usable, endpoint_for)
        if target is not None:
            ladder.append(target)
    return ladder


def best_target(
    tier: str,
    task_type: str | None,
    table: PriceTable,
    day: Any,
    usable: set[str],
    endpoint_for: Callable[[str], Any],
) -> Target | None:
    """The cheapest suitable model of `tier` whose provider has a key, None when none has."""
    best, _, has = choose_models(
        price_models(table, day, tier, task_type, Usage(input=1000, output=1000)), usable
    )
    if best is None or not has:
        return None
    return Target(best.model.id, best.model.id, endpoint_for(best.model.provider), tier, best.model)


def explicit_target(name: str, table: PriceTable, specs, endpoint_for) -> Target:
    """-m MODEL (a table model), or -m ENDPOINT/MODEL for any model a server knows."""
    found = table.find(name)
    if found is not None:
        if found.provider not in specs:
            raise UsageError(
                f"{found.id} is served by {found.provider}, which has no endpoint "
                "configured: add it under endpoints: in the config"
            )
        return Target(
            found.id, _api_name(found.id, name), endpoint_for(found.provider), found.tier, found
        )
    prefix, _, rest = name.partition("/")
    if rest and prefix in specs:
        endpoint = endpoint_for(prefix)
        priced = table.find(rest)
        tier = "local" if endpoint.local else (priced.tier if priced else None)
        return Target(priced.id if priced else rest, rest, endpoint, tier, priced)
    raise UnknownModelError(
        f"unknown model '{name}': pick one from 'tokenroute prices', or give ENDPOINT/MODEL "
        "for any model a server has (e.g. ollama/llama3.2)"
    )


def _api_name(table_id: str, asked: str) -> str:
    """The name the API knows: a dated snapshot the user asked for is sent as asked."""
    if asked.lower() == table_id.lower() or "/" in asked or "@" in asked:
        return table_id  # '@' is Vertex AI's spelling; the provider's own API knows the id
    return asked
