"""The council, `pick --council`: several current models, from different providers, each
asked once which tier a task needs; their agreement is the recommendation and their
disagreement a warning.

Members answer in parallel with strict JSON (asked of each provider the way it takes it,
see the providers). A clear majority of the valid votes decides the tier; a split goes to
the dearest tier voted. A member that fails, times out or answers off the schema is named
and left out, and the decision never waits longer than the timeout. Every member's call is
an attempt in the ledger, source `council`, in one task; the decision is kept in the cache
by description and members, so asking again costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from tokenroute.dispatch.targets import Target
from tokenroute.errors import TokenrouteError, UsageError
from tokenroute.models import Task, Usage, new_task_id
from tokenroute.prices.table import PriceTable
from tokenroute.taxonomy import TASK_TYPES, TIERS

MAX_MEMBERS = 3
RECORD_GRACE = 0.3  # seconds past the timeout for a cut-short member to record its try
VOTING_TIERS = TIERS[1:]  # economy .. frontier: where a task runs is the user's, not a vote
QUESTION = (
    "You advise which model tier a task needs. Tiers, cheapest first: economy (simple "
    "extraction, formatting, short answers), small (routine code and writing from a clear "
    "spec), mid (multi-step reasoning, non-trivial code, careful review), frontier (deep "
    "reasoning, architecture, research-level synthesis, high stakes). Reply with JSON only: "
    '{"task_type": one of '
    + json.dumps(list(TASK_TYPES))
    + ', "tier": one of '
    + json.dumps(list(VOTING_TIERS))
    + ', "why": "one short line"}.'
)
VOTE_SCHEMA = {
    "type": "object",
    "properties": {
        "task_type": {"type": "string", "enum": list(TASK_TYPES)},
        "tier": {"type": "string", "enum": list(VOTING_TIERS)},
        "why": {"type": "string"},
    },
    "required": ["task_type", "tier", "why"],
    "additionalProperties": False,
}
CHEAP_TIERS = ("economy", "small")  # a member answers one short question: cheap suffices


class Vote(NamedTuple):
    member: str  # the model, as the ledger names it
    provider: str
    task_type: str | None = None
    tier: str | None = None
    why: str = ""
    cost: Decimal | None = Decimal(0)
    problem: str | None = None  # why the member was left out


class Decision(NamedTuple):
    tier: str
    task_type: str | None
    how: str  # unanimous, majority, or split (the dearer tier)
    votes: list[Vote]
    cached: bool = False

    @property
    def counted(self) -> list[Vote]:
        return [v for v in self.votes if v.problem is None]

    @property
    def cost(self) -> Decimal | None:
        """What this decision cost now: nothing when it came from the cache."""
        if self.cached:
            return Decimal(0)
        costs = [v.cost for v in self.votes]
        return None if any(c is None for c in costs) else sum(costs, Decimal(0))  # type: ignore[arg-type]


def members(
    table: PriceTable,
    day: Any,
    specs: Mapping,
    environ: Mapping[str, str],
    stored_keys: Mapping[str, str],
    *,
    named: Sequence[str] | None,
    served: Callable[[Any], list[str] | None] | None,
) -> list[Target]:
    """--council-models, else the cheapest suitable model of each keyed provider and a running
    local model, at most MAX_MEMBERS. No member: say what to configure."""
    from tokenroute.advisor.router import price_models
    from tokenroute.dispatch.choice import explicit_target
    from tokenroute.dispatch.endpoints import keyed_paid_endpoints, resolve_endpoint

    def endpoint_for(name: str):
        return resolve_endpoint(name, specs, environ, stored_keys)

    if named:
        if len(set(named)) != len(named):
            raise UsageError("--council-models names a model twice: each member votes once")
        return [explicit_target(name, table, specs, endpoint_for) for name in named]
    keyed = keyed_paid_endpoints(specs, environ, stored_keys)
    cheapest: dict[str, Any] = {}
    for tier in CHEAP_TIERS:
        for estimate in price_models(table, day, tier, None, Usage(input=400, output=60)):
            provider = estimate.model.provider
            if provider in keyed and (
                provider not in cheapest or estimate.cost < cheapest[provider].cost
            ):
                cheapest[provider] = estimate
    chosen = sorted(cheapest.values(), key=lambda e: (e.cost, e.model.id))
    found = [
        Target(e.model.id, e.model.id, endpoint_for(e.model.provider), e.model.tier, e.model)
        for e in chosen
    ]
    local = _running_local(specs, endpoint_for, served, table) if served else None
    if local is not None:
        found.insert(0, local)  # free, and a different opinion
    if not found:
        raise UsageError(
            "the council needs members: set an API key for a provider ('tokenroute keys set "
            "NAME'), start a local server (Ollama, llama.cpp), or name them: --council-models"
        )
    return found[:MAX_MEMBERS]


def _running_local(specs: Mapping, endpoint_for, served, table: PriceTable) -> Target | None:
    for name, spec in specs.items():
        if spec.local:
            models = served(endpoint_for(name))
            if models:
                return Target(
                    models[0], models[0], endpoint_for(name), "local", table.find(models[0])
                )
    return None


def cache_key(description: str, targets: Sequence[Target]) -> str:
    said = " ".join(description.split()).lower()
    names = ",".join(sorted(f"{t.endpoint.name}/{t.name}" for t in targets))
    return hashlib.sha256(f"{said}\n{names}\n{QUESTION}".encode()).hexdigest()[:24]


def cached(cache: Path | None, key: str) -> Decision | None:
    if cache is None:
        return None
    try:
        raw = json.loads((cache / "council" / f"{key}.json").read_text(encoding="utf-8"))
        votes = [
            Vote(**{**v, "cost": None if v["cost"] is None else Decimal(v["cost"])})
            for v in raw["votes"]
        ]
        return Decision(raw["tier"], raw["task_type"], raw["how"], votes, cached=True)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # none yet, or unreadable: ask again


def keep(cache: Path | None, key: str, decision: Decision) -> None:
    if cache is None:
        return
    votes = [
        {**v._asdict(), "cost": None if v.cost is None else str(v.cost)} for v in decision.votes
    ]
    body = {"tier": decision.tier, "task_type": decision.task_type, "how": decision.how}
    folder = cache / "council"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f".{key}.{threading.get_ident()}.tmp"
        temporary.write_text(json.dumps({**body, "votes": votes}), encoding="utf-8")
        temporary.replace(folder / f"{key}.json")
    except OSError:
        pass  # a cache that cannot be written only costs the next ask


class Convened(NamedTuple):
    """What convene needs from where it runs."""

    ledger: Path
    clock: Callable[[], datetime]
    project: str | None
    price_revision: str | None
    timeout: float  # the most the decision waits, in seconds
    retries: int


def convene(description: str, targets: Sequence[Target], where: Convened) -> Decision:
    """Ask every member at once; decide from the votes that came back within the timeout."""
    from tokenroute.storage.sqlite import open_ledger
    from tokenroute.timewindow import stamp

    open_ledger(where.ledger, create=True).close()  # an unusable ledger: say so before asking
    task = Task(
        id=new_task_id(),
        created_at=stamp(where.clock()),
        description=f"council: {description[:200]}",
        project=where.project,
    )
    votes: dict[int, Vote] = {}
    lock = threading.Lock()
    cancel = threading.Event()  # the timeout, or Ctrl-C: members still asking record a cancel

    def ask(index: int, target: Target) -> None:
        vote = _ask_member(description, target, task, where, cancel)
        with lock:
            votes[index] = vote

    threads = [
        threading.Thread(target=ask, args=(i, t), daemon=True) for i, t in enumerate(targets)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + where.timeout
    try:
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
    finally:  # the slow ones are cut short; a moment lets each record its cancelled try
        cancel.set()
        for thread in threads:
            thread.join(RECORD_GRACE)
    with lock:
        final = [
            votes.get(i)
            or Vote(t.name, t.endpoint.name, cost=None, problem=f"no answer in {where.timeout:g} s")
            for i, t in enumerate(targets)
        ]
    return decide(final)


def _ask_member(
    description: str, target: Target, task: Task, where: Convened, cancel: threading.Event
) -> Vote:
    from tokenroute.dispatch.answers import unfenced
    from tokenroute.dispatch.attempts import RunOptions, dispatch
    from tokenroute.dispatch.cancelling import Cancelled, cancellable
    from tokenroute.dispatch.providers.base import Message, Request
    from tokenroute.dispatch.session import make_services
    from tokenroute.storage.sqlite import open_ledger

    request = Request(
        model="",
        messages=(Message("user", f"The task:\n{description}"),),
        system=QUESTION,
        max_tokens=200,
        json_answer=True,
        answer_schema=VOTE_SCHEMA,
    )
    options = RunOptions(
        retries=where.retries, timeout=where.timeout, deadline=where.timeout, max_wait=1.0,
        expect_json=True, stream=False, source="council",
    )  # fmt: skip
    store = open_ledger(where.ledger, create=True)
    try:
        services = make_services(
            store, price_revision=where.price_revision, write=lambda text: None,
            notify=lambda line: None, clock=where.clock,
        )  # fmt: skip
        services = services._replace(send=cancellable(services.send, cancel))
        result = dispatch(request, [target], task, options, services, estimated_output=60)
    except Cancelled:
        return Vote(target.name, target.endpoint.name, cost=None,
                    problem=f"no answer in {where.timeout:g} s")  # fmt: skip
    except TokenrouteError as exc:
        so_far = getattr(exc, "run_so_far", None)
        return Vote(target.name, target.endpoint.name, cost=so_far.spent if so_far else Decimal(0),
                    problem=exc.message)  # fmt: skip
    except Exception as exc:  # a member's thread must not die silently
        return Vote(target.name, target.endpoint.name, cost=None, problem=f"failed: {exc}")
    finally:
        if store is not None:
            store.close()
    try:
        raw = json.loads(unfenced(result.answer))
        task_type, tier = raw.get("task_type"), raw.get("tier")
        if task_type not in TASK_TYPES or tier not in VOTING_TIERS:
            raise ValueError(raw)
    except (ValueError, AttributeError):
        return Vote(target.name, target.endpoint.name, cost=result.spent,
                    problem="its answer is not the JSON vote asked for")  # fmt: skip
    why = " ".join(str(raw.get("why", "")).split())[:200]
    return Vote(target.name, target.endpoint.name, task_type, tier, why, result.spent)


def decide(votes: list[Vote]) -> Decision:
    """A clear majority of the counted votes wins; a split goes to the dearest tier voted."""
    counted = [v for v in votes if v.problem is None]
    if not counted:
        from tokenroute.errors import ProviderError

        said = "; ".join(f"{v.member}: {v.problem}" for v in votes)
        raise ProviderError(
            f"no council member answered ({said}): try again, or other members",
            kind="error",
            retryable=False,
        )
    tiers = Counter(v.tier for v in counted)
    tier, count = tiers.most_common(1)[0]
    if count == len(counted):
        how = "unanimous"
    elif count * 2 > len(counted):
        how = "majority"
    else:
        tier = max(tiers, key=TIERS.index)  # type: ignore[arg-type]
        how = "split"
    types = Counter(v.task_type for v in counted if v.tier == tier) or Counter(
        v.task_type for v in counted
    )
    return Decision(tier, types.most_common(1)[0][0], how, votes)  # type: ignore[arg-type]


def advise(
    description: str,
    *,
    named: Sequence[str] | None,
    timeout: float,
    table: PriceTable,
    paths: Any,
    ledger: Path,
    environ: Mapping[str, str],
    clock: Callable[[], datetime],
    project: str | None,
) -> Decision:
    """`pick --council`: the members, then the cached decision or a new one (kept)."""
    from tokenroute.dispatch.config import load_config, run_defaults
    from tokenroute.dispatch.endpoints import endpoint_specs
    from tokenroute.dispatch.keys import read_keys
    from tokenroute.dispatch.providers import served_models

    if not description or not description.strip():
        raise UsageError('the council needs a description: pick --council "the task"')
    config = load_config(paths.config)
    specs = endpoint_specs(config)
    targets = members(
        table, clock().date(), specs, environ, read_keys(paths.keys), named=named,
        served=None if named else served_models,
    )  # fmt: skip
    key = cache_key(description, targets)
    found = cached(paths.cache, key)
    if found is not None:
        return found
    where = Convened(
        ledger, clock, project, table.revision, timeout, min(run_defaults(config).retries, 1)
    )
    decision = convene(description, targets, where)
    if len(decision.counted) == len(decision.votes):  # a member left out: ask it again next time
        keep(paths.cache, key, decision)
    return decision


def models_for(decision: Decision, table: PriceTable, day: Any, usage: Usage, configured: set):
    """The recommended model of the council's tier and two alternatives, as pick gives them."""
    from tokenroute.advisor.router import choose_models, price_models

    best, alternatives, _ = choose_models(
        price_models(table, day, decision.tier, decision.task_type, usage), configured
    )
    return best, alternatives
