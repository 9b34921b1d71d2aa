"""What a comparison will do before it does it: the models, the calls, the task type, and
the estimated cost of all of it (the judge's calls included), so that it can be refused
above --max-cost, or above $1 without --yes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from tokenroute.compare.examples import Example
from tokenroute.compare.judging import Judges, judge_prompt
from tokenroute.dispatch.targets import Target
from tokenroute.errors import UsageError
from tokenroute.prices.table import PriceTable

CONFIRM_ABOVE = Decimal(1)  # USD: a bigger comparison needs --yes (or --max-cost)
JUDGE_OUTPUT_TOKENS = 60  # {"pass": ..., "why": "..."}
CLASSIFIED_EXAMPLES = 20  # the task type is classified once, from the first examples


class Plan(NamedTuple):
    name: str
    targets: list[Target]
    examples: list[Example]
    repeat: int
    task_type: str | None
    system: str | None  # --system: for examples without their own
    max_tokens: int | None
    judges: Judges
    judge_target: Target | None
    estimates: dict[str, Decimal | None]  # per model, all its calls (None: price unknown)
    judge_estimate: Decimal | None
    output_tokens: int  # expected per answer, when an example has no `expected` text
    too_big: dict[str, list[str]]  # model -> examples over its context window
    answer_tokens: dict[str, int]  # example id -> the answer's expected length
    price_revision: str | None = None  # the table's, stored with each attempt

    @property
    def calls(self) -> int:
        return len(self.targets) * len(self.examples) * self.repeat

    @property
    def total(self) -> Decimal | None:
        costs = [*self.estimates.values(), self.judge_estimate]
        return None if any(c is None for c in costs) else sum(costs, Decimal(0))  # type: ignore[arg-type]


def plan_comparison(
    models: Sequence[str],
    examples: list[Example],
    *,
    name: str,
    repeat: int,
    task_type: str | None,
    system: str | None,
    max_tokens: int | None,
    judges: Judges,
    table: PriceTable,
    specs: Mapping,
    environ: Mapping[str, str],
    stored_keys: Mapping[str, str],
    at: datetime,
    policy_path: Path,
    cache: Path | None,
    need_keys: bool = True,
) -> Plan:
    from tokenroute.advisor.policy import load_user_policy
    from tokenroute.dispatch.choice import explicit_target
    from tokenroute.dispatch.endpoints import resolve_endpoint

    if len(set(models)) != len(models):
        raise UsageError("--models names a model twice: give each once")

    def endpoint_for(provider: str):
        return resolve_endpoint(provider, specs, environ, stored_keys, need_key=need_keys)

    targets = [explicit_target(model, table, specs, endpoint_for) for model in models]
    judge_target = None
    if judges.judge_model:
        judge_target = explicit_target(judges.judge_model, table, specs, endpoint_for)
    policy = load_user_policy(policy_path, cache)
    if task_type is None:
        task_type = _classified(examples, policy, cache)
    rule = policy.types.get(task_type) if task_type else None
    output_tokens = max_tokens or (rule.output_tokens if rule else 1000)
    sizes = [answer_sizes(e, system, max_tokens, output_tokens) for e in examples]
    estimates = {t.name: _estimate(t, sizes, repeat, at) for t in targets}
    too_big = {
        t.name: [e.id for e, (i, o) in zip(examples, sizes, strict=True) if i + o > window]
        for t in targets
        if (window := t.model.context_window if t.model else None)
    }
    judge_estimate: Decimal | None = Decimal(0)
    if judge_target is not None:
        judged = [
            (i + o + _tokens(judge_prompt("", e, judges.rubric or "")), JUDGE_OUTPUT_TOKENS)
            for e, (i, o) in zip(examples, sizes, strict=True)
        ]
        judge_estimate = _estimate(judge_target, judged, repeat * len(targets), at)
    return Plan(
        name, targets, examples, repeat, task_type, system, max_tokens, judges, judge_target,
        estimates, judge_estimate, output_tokens, {m: ids for m, ids in too_big.items() if ids},
        {e.id: o for e, (_, o) in zip(examples, sizes, strict=True)}, table.revision,
    )  # fmt: skip


def _classified(examples: list[Example], policy, cache: Path | None) -> str:
    from tokenroute.advisor.classifier import classify, trained_model

    text = "\n\n".join(e.prompt for e in examples[:CLASSIFIED_EXAMPLES])
    return classify(text, trained_model(cache), policy).task_type


def _tokens(text: str) -> int:
    from tokenroute.prices.tokens import count_tokens

    return count_tokens(text).tokens


def answer_sizes(
    example: Example, system: str | None, max_tokens: int | None, output_tokens: int
) -> tuple[int, int]:
    """(input tokens, output tokens expected): an `expected` text says how long answers are."""
    given = example.system if example.system is not None else system
    tokens_in = _tokens("\n".join([given or "", example.prompt]))
    if max_tokens is None and isinstance(example.expected, str) and example.expected.strip():
        return tokens_in, max(16, _tokens(example.expected))
    return tokens_in, output_tokens


def _estimate(
    target: Target, sizes: Sequence[tuple[int, int]], times: int, at: datetime
) -> Decimal | None:
    from tokenroute.dispatch.targets import estimate_cost

    total = Decimal(0)
    for tokens_in, tokens_out in sizes:
        cost = estimate_cost(target, tokens_in, tokens_out, at)
        if cost is None:
            return None
        total += cost * times
    return total
