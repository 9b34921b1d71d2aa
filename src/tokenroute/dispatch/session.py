"""`tokenroute run` from end to end: choose the model (and the ladder to escalate on) within
the budgets, build the provider call, dispatch it, keep the turn, close the task.

The CLI hands in the prompt, the options it checked, and where the run happens (paths,
environment, clock, price table); the HTTP adapter is imported only when a request is sent.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from tokenroute.dispatch.attempts import RunOptions, RunResult, Services, dispatch
from tokenroute.dispatch.choice import Choice
from tokenroute.dispatch.conversation import Conversation
from tokenroute.dispatch.providers.base import Request
from tokenroute.errors import BadInputError, UsageError
from tokenroute.inputs import read_text
from tokenroute.models import Task
from tokenroute.prices.table import PriceTable
from tokenroute.settings import Paths


class RunAsk(NamedTuple):
    """What the user asked `run` for, each option already checked by the CLI."""

    prompt: str | None = None  # the argument; piped stdin comes first
    model: str | None = None
    system: str | None = None
    task: str | None = None
    tier: str | None = None
    escalate: bool = False
    local: bool = False
    retries: int | None = None  # None: the config's default, as for timeout and deadline
    timeout: float | None = None
    deadline: float | None = None
    expect_json: bool = False
    schema: Path | None = None
    max_cost: Decimal | None = None
    max_tokens: int | None = None
    cache: bool = False
    no_store: bool = False
    stream: bool = True
    tags: tuple[str, ...] = ()
    continue_last: bool = False
    cid: str | None = None
    dry_run: bool = False


class Surroundings(NamedTuple):
    """Where a run happens, handed in so that a test can pin each part."""

    paths: Paths
    ledger: Path
    environ: Mapping[str, str]
    stdin: TextIO
    clock: Callable[[], datetime]
    load_table: Callable[[], PriceTable]  # the CLI's: it warns when the table is stale
    project: str | None


class Plan(NamedTuple):
    """A run ready to send: what --dry-run shows, and what `execute` dispatches."""

    choice: Choice
    request: Request
    conversation: Conversation
    prompt: str
    output_tokens: int  # expected, for the cost estimate and the budgets
    budget_warnings: list[str]
    options: RunOptions | None  # None on a dry run: nothing will be sent
    task: Task
    own_task: bool  # a task of its own (else one step of $TOKENROUTE_TASK's)
    price_revision: str | None
    store_text: bool


class Done(NamedTuple):
    result: RunResult
    stored: bool  # the prompt and answer were kept (-c can continue)


def plan_run(ask: RunAsk, where: Surroundings) -> Plan:
    """Choose the model within the budgets and build the request; nothing is sent yet."""
    from tokenroute.advisor.policy import load_user_policy
    from tokenroute.dispatch.choice import choose
    from tokenroute.dispatch.config import load_config, run_defaults
    from tokenroute.dispatch.conversation import build_request, conversation
    from tokenroute.dispatch.endpoints import endpoint_specs
    from tokenroute.dispatch.keys import read_keys
    from tokenroute.dispatch.providers import served_models
    from tokenroute.storage.sqlite import open_ledger

    config = load_config(where.paths.config)
    defaults = run_defaults(config)
    text = read_prompt(ask.prompt, where.stdin)
    table = where.load_table()
    policy = load_user_policy(where.paths.policy, where.paths.cache)
    specs = endpoint_specs(config)
    stored_keys = read_keys(where.paths.keys)
    choice = choose(
        text,
        model=ask.model,
        task=ask.task,
        tier=ask.tier,
        escalate=ask.escalate or policy.escalate,
        table=table,
        policy=policy,
        specs=specs,
        environ=where.environ,
        stored_keys=stored_keys,
        day=where.clock().date(),
        cache=where.paths.cache,
        need_key=not ask.dry_run,
        local=ask.local,
        served=served_models if ask.local else None,
    )
    chat = conversation(lambda: open_ledger(where.ledger, create=False), ask.continue_last, ask.cid)
    request = build_request(
        text, system=ask.system, max_tokens=ask.max_tokens, cache_system=ask.cache,
        history=chat.history,
    )  # fmt: skip
    rule = policy.types.get(choice.task_type) if choice.task_type else None
    output_tokens = ask.max_tokens or (rule.output_tokens if rule else 1000)
    choice, warnings = _keep_to_budgets(
        choice, request, output_tokens, ask, where, table, specs, stored_keys
    )
    if ask.expect_json or ask.schema is not None:  # asked of the provider, checked after
        schema = load_schema(ask.schema) if ask.schema is not None else None
        request = request._replace(json_answer=True, answer_schema=schema)
    options = None if ask.dry_run else _run_options(ask, defaults, chat, text, request)
    task, own_task = new_task(choice.task_type, where.project, where.clock())
    return Plan(
        choice, request, chat, text, output_tokens, warnings, options, task, own_task,
        table.revision, defaults.store_text and not ask.no_store,
    )  # fmt: skip


def execute(
    plan: Plan, where: Surroundings, *, write: Callable[[str], None], notify: Callable[[str], None]
) -> Done:
    """Dispatch the plan, every attempt logged; the task ends with the run's outcome.

    A failure is raised as dispatch raised it (with `run_so_far`), after the run's own task
    was marked failed."""
    from tokenroute.dispatch.spending import budget_gate
    from tokenroute.ledger.budgets import read_budgets
    from tokenroute.ledger.queries import spend_reader
    from tokenroute.storage.sqlite import open_ledger
    from tokenroute.timewindow import stamp

    assert plan.options is not None, "a dry run is not executed"
    store = open_ledger(where.ledger, create=True)
    assert store is not None
    try:
        options = plan.options._replace(
            budget_gate=budget_gate(
                read_budgets(where.paths.budgets),
                spend_reader(store),
                task_type=plan.choice.task_type,
                tags=plan.options.tags,
                project=where.project,
                today=lambda: where.clock().date(),
            )
        )
        services = make_services(
            store, price_revision=plan.price_revision, write=write, notify=notify,
            clock=where.clock,
        )  # fmt: skip
        try:
            result = dispatch(
                plan.request, plan.choice.ladder, plan.task, options, services,
                estimated_output=plan.output_tokens,
            )  # fmt: skip
        except Exception:
            if plan.own_task:
                store.set_outcome(plan.task.id, "failure", "run", stamp(where.clock()))
            raise
        if plan.store_text:
            store.add_turn(plan.conversation.id, plan.prompt, result.answer, stamp(where.clock()))
        if plan.own_task:
            store.set_outcome(plan.task.id, "success", "run", stamp(where.clock()))
    finally:
        store.close()
    return Done(result, plan.store_text)


def dry_run(plan: Plan, where: Surroundings) -> tuple[dict[str, Any], Decimal | None]:
    """What --dry-run shows: the request as it would be sent (key redacted), and its cost."""
    from tokenroute.dispatch.spending import expected_cost

    expected = expected_cost(plan.choice, plan.request, plan.output_tokens, where.clock())
    return request_shown(plan.choice, plan.request), expected


def _run_options(
    ask: RunAsk, defaults: Any, chat: Conversation, text: str, request: Request
) -> RunOptions:
    from tokenroute.dispatch.conversation import history_tokens

    return RunOptions(
        retries=defaults.retries if ask.retries is None else ask.retries,
        timeout=defaults.timeout if ask.timeout is None else ask.timeout,
        deadline=defaults.deadline if ask.deadline is None else ask.deadline,
        retry_base=defaults.retry_base,
        max_wait=defaults.max_wait,
        expect_json=ask.expect_json or ask.schema is not None,
        check_json=schema_checker(request.answer_schema)
        if request.answer_schema is not None
        else None,
        max_cost=ask.max_cost,
        stream=ask.stream,
        tags=ask.tags,
        conversation_id=chat.id,
        history_tokens=history_tokens(chat.history) if chat.history else 0,
        prompt_hash=text_hash(text),
        context_hash=text_hash(ask.system) if ask.system else None,
    )


def _keep_to_budgets(choice, request, output_tokens, ask, where, table, specs, stored_keys):
    """The run's choice after the budgets have had their say (refuse, or a cheaper tier)."""
    from tokenroute.dispatch.spending import enforce_budgets
    from tokenroute.ledger.budgets import read_budgets
    from tokenroute.ledger.queries import spend_reader
    from tokenroute.storage.sqlite import open_ledger

    budgets = read_budgets(where.paths.budgets)
    if not budgets:
        return choice, []
    store = open_ledger(where.ledger, create=False)
    try:
        return enforce_budgets(
            choice,
            budgets,
            spend_reader(store),
            request,
            output_tokens,
            where.clock(),
            tags=ask.tags,
            project=where.project,
            table=table,
            specs=specs,
            environ=where.environ,
            stored_keys=stored_keys,
        )
    finally:
        if store is not None:
            store.close()


def read_prompt(argument: str | None, stdin: TextIO) -> str:
    """Piped stdin, then the argument (as `llm` combines them); an error when both are empty."""
    piped = "" if stdin.isatty() else read_text("-", stdin)  # at most 20 MB
    parts = [p for p in (piped.strip("\n"), argument or "") if p.strip()]
    if not parts:
        raise UsageError('give a prompt: tokenroute run "..." or pipe it in (cat notes.md | ...)')
    return "\n\n".join(parts)


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


def load_schema(path: Path) -> dict[str, Any]:
    """--schema FILE: a JSON Schema, checked as one before anything is sent."""
    import json

    import jsonschema

    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read the schema: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path}: the schema is not JSON ({exc})") from None
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise BadInputError(f"{path}: not a valid JSON Schema ({exc.message})") from None
    if not isinstance(schema, dict):
        raise BadInputError(f"{path}: a JSON Schema here must be an object")
    return schema


def schema_checker(schema: dict[str, Any]) -> Callable[[Any], str | None]:
    """A function saying what in an answer breaks the JSON Schema, or None."""
    import jsonschema

    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema)

    def check(value: Any) -> str | None:
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
        if error is None:
            return None
        return f"the answer breaks the schema at {error.json_path}: {error.message}"

    return check


def request_shown(choice: Choice, request: Request) -> dict[str, Any]:
    from tokenroute.dispatch.providers import request_view

    target = choice.ladder[0]
    return request_view(target.endpoint, request._replace(model=target.api_model))
