"""`tokenroute run` from end to end: read the prompt, choose the model (and the ladder to
escalate on), build the provider call, dispatch, close the task.

The CLI hands in the environment, the ledger opener and the clock; the HTTP adapter is
imported here only when a request is really sent.
"""

from __future__ import annotations

import hashlib
import os
import random
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from tokenroute.advisor.policy import Policy
from tokenroute.advisor.router import choose_models, price_models, step
from tokenroute.dispatch.attempts import Services, Target, estimate_cost, prompt_text
from tokenroute.dispatch.endpoints import EndpointSpec, keyed_paid_endpoints, resolve_endpoint
from tokenroute.dispatch.providers.base import Message, Request
from tokenroute.errors import BadInputError, UnknownModelError, UsageError
from tokenroute.inputs import read_text
from tokenroute.models import Task, Usage
from tokenroute.prices.table import PriceTable
from tokenroute.taxonomy import TASK_TYPES, TIERS


class Choice(NamedTuple):
    ladder: list[Target]
    task_type: str | None
    why: str  # one line: which model and why
    explicit: bool = False  # the user named the model (-m): budgets may refuse, not swap it


def read_prompt(argument: str | None, stdin: TextIO) -> str:
    """Piped stdin, then the argument (as `llm` combines them); an error when both are empty."""
    piped = "" if stdin.isatty() else read_text("-", stdin)  # at most 20 MB
    parts = [p for p in (piped.strip("\n"), argument or "") if p.strip()]
    if not parts:
        raise UsageError('give a prompt: tokenroute run "..." or pipe it in (cat notes.md | ...)')
    return "\n\n".join(parts)


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
        target = _explicit_target(model, table, specs, endpoint_for)
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


def _explicit_target(name: str, table: PriceTable, specs, endpoint_for) -> Target:
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


def build_request(
    prompt: str,
    *,
    system: str | None,
    max_tokens: int | None,
    cache_system: bool,
    history: Sequence[tuple[str, str]] = (),
) -> Request:
    """The request: earlier turns of the conversation (resent: the APIs keep no state), then
    the new prompt."""
    return Request(
        model="",
        messages=(*(Message(role, text) for role, text in history), Message("user", prompt)),
        system=system,
        max_tokens=max_tokens,
        cache_system=cache_system,
    )


def new_task(task_type: str | None, project: str | None, now: datetime) -> tuple[Task, bool]:
    """TOKENROUTE_TASK's task (the run is one step of it), else a task of its own."""
    from tokenroute.models import new_task_id
    from tokenroute.timewindow import stamp

    given = os.environ.get("TOKENROUTE_TASK")
    if given:
        return Task(id=given, created_at=stamp(now), type=task_type, project=project), False
    return Task(id=new_task_id(), created_at=stamp(now), type=task_type, project=project), True


def text_hash(text: str) -> str:
    """What the ledger keeps of a prompt: enough to see it repeat, nothing to read it back."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def dry_run(choice: Choice, request: Request) -> dict[str, Any]:
    from tokenroute.dispatch.providers import request_view

    target = choice.ladder[0]
    return request_view(target.endpoint, request._replace(model=target.api_model))


def make_services(
    ledger: Any,
    *,
    price_revision: str | None,
    write: Callable[[str], None],
    notify: Callable[[str], None],
    clock: Callable[[], datetime],
) -> Services:
    from tokenroute.dispatch.providers import stream
    from tokenroute.prices.tokens import count_tokens

    return Services(
        send=lambda target, request, timeout, deadline: stream(
            target.endpoint, request, timeout, deadline
        ),
        ledger=ledger,
        clock=clock,
        sleep=time.sleep,
        count_tokens=lambda text: count_tokens(text).tokens,
        write=write,
        notify=notify,
        price_revision=price_revision,
        rng=random.Random(),
    )


def expected_cost(choice: Choice, request: Request, output_tokens: int, at: datetime):
    from tokenroute.prices.tokens import count_tokens

    tokens = count_tokens(prompt_text(request)).tokens
    return estimate_cost(choice.ladder[0], tokens, output_tokens, at)


def stdout_writer() -> Callable[[str], None]:
    stream = sys.stdout  # looked up now: tests and pipes replace it

    def write(text: str) -> None:
        stream.write(text)
        stream.flush()

    return write


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

    from tokenroute.dispatch.budgets import burns, check, over_message
    from tokenroute.errors import OverBudgetError

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


def schema_checker(path: Path) -> Callable[[Any], str | None]:
    """--schema FILE: a function saying what in an answer breaks the JSON Schema, or None."""
    import json

    import jsonschema

    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read the schema: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path}: the schema is not JSON ({exc})") from None
    try:
        validator_class = jsonschema.validators.validator_for(schema)
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise BadInputError(f"{path}: not a valid JSON Schema ({exc.message})") from None
    validator = validator_class(schema)

    def check(value: Any) -> str | None:
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
        if error is None:
            return None
        return f"the answer breaks the schema at {error.json_path}: {error.message}"

    return check


class Conversation(NamedTuple):
    id: str
    history: list[tuple[str, str]]  # (role, content), oldest first
    continued: bool


def conversation(
    open_ledger: Callable[[], Any], continue_last: bool, cid: str | None
) -> Conversation:
    """The conversation this run belongs to: the last one (-c), a given one (--cid), or new.
    `open_ledger` gives the ledger, or None when there is none yet."""
    from tokenroute.errors import NotFoundError

    if not continue_last and cid is None:
        return Conversation("c-" + os.urandom(6).hex(), [], False)
    store = open_ledger()
    try:
        if cid is None:
            cid = store.last_conversation() if store else None
            if cid is None:
                raise UsageError("there is no conversation to continue yet: run without -c first")
        history = store.conversation(cid) if store else []
    finally:
        if store:
            store.close()
    if not history:
        raise NotFoundError(f"no conversation '{cid}' (see 'tokenroute log --json')")
    return Conversation(cid, history, True)


def history_tokens(history: Sequence[tuple[str, str]]) -> int:
    from tokenroute.prices.tokens import count_tokens

    return sum(count_tokens(text).tokens for _, text in history)


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
    from tokenroute.dispatch.budgets import burns, check, over_message
    from tokenroute.errors import OverBudgetError

    def gate(target: Target, expected: Any, what: str) -> None:
        burned = burns(budgets, spend, today())
        verdict = check(burned, expected, task_type=task_type, tags=tags, project=project)
        if verdict.over:
            raise OverBudgetError(f"{what}: " + over_message(verdict.over[0], expected))

    return gate
