"""A comparison's figures per model, and its verdict.

Success rates carry a 95% Wilson score interval (right at 0 and 1, unlike the normal
approximation). A model is *clearly* below the best one when a two-sided two-proportion
z-test at the 5% level says so (|z| > 1.96, pooled variance). The verdict is the model with
the lowest cost per successful task among those not clearly below the best.

Only judged tasks count in a success rate: a task whose judge failed (`judge_error`) or that a
budget stopped (`unjudged`) says nothing of the model. With --repeat, the repeats of one
example are not independent evidence: intervals and tests count each example once (successes
and tasks divided by the repeats), so repeating cannot make a difference look clearer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import NamedTuple

Z95 = 1.959964  # the two-sided 95% normal quantile


class Outcome(NamedTuple):
    """One (model, example, repeat) task: what it cost and how it was judged."""

    model: str
    example: str
    repeat: int
    task_id: str
    verdict: str  # success | invalid | error | wrong | judge_error | unjudged
    cost: Decimal | None  # every try of the model (None: a price is unknown)
    judge_cost: Decimal | None  # the judge's own calls (0 without a judge)
    input_tokens: int
    output_tokens: int
    retry_spend: Decimal  # on tries that did not succeed
    latency_ms: int  # the tries' own time, retries included
    detail: str = ""  # what was wrong


JUDGED = ("success", "invalid", "error", "wrong")  # verdicts about the model itself


class ModelScore(NamedTuple):
    model: str
    tasks: int
    successes: int
    judged: int  # tasks with a verdict about the model (not judge_error or unjudged)
    evidence: tuple[float, float]  # (successes, judged) per example: divided by --repeat
    success_rate: float | None
    interval: tuple[float, float] | None  # 95% Wilson
    cost: Decimal | None  # all of the model's tasks (None: a price is unknown)
    cost_per_success: Decimal | None  # None: no success (or a price unknown)
    cost_per_task: tuple[Decimal, Decimal, Decimal] | None  # mean, median, p95
    input_tokens: int
    output_tokens: int
    retry_tax: float | None
    latency_ms: tuple[int, int] | None  # p50, p95
    failures: dict[str, int]  # by kind: invalid, error, wrong, judge_error


class Verdict(NamedTuple):
    model: str
    versus: str  # the first model given: what the user runs today
    saves_per_1000: Decimal | None  # per 1,000 successful tasks at the measured rates
    clearly_below: list[str]  # models whose success rate is clearly below the best


def wilson(successes: float, n: float, z: float = Z95) -> tuple[float, float] | None:
    if n == 0:
        return None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact at the edges, no 0.99..
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def clearly_below(a: tuple[float, float], best: tuple[float, float], z: float = Z95) -> bool:
    """Is the rate a = (successes, n) below best's beyond chance (pooled z-test, 5%)?"""
    (ka, na), (kb, nb) = a, best
    if not na or not nb:
        return False
    pooled = (ka + kb) / (na + nb)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
    if spread == 0:
        return False
    return (kb / nb - ka / na) / spread > z


def nearest_rank(ordered: Sequence, quantile: float):
    return ordered[max(0, math.ceil(quantile * len(ordered)) - 1)]


def score(model: str, outcomes: Sequence[Outcome], repeat: int = 1) -> ModelScore:
    done = [o for o in outcomes if o.model == model]
    successes = sum(o.verdict == "success" for o in done)
    judged = sum(o.verdict in JUDGED for o in done)
    evidence = (successes / repeat, judged / repeat)
    costs = [o.cost for o in done]
    known = None if any(c is None for c in costs) else sum(costs, Decimal(0))  # type: ignore[arg-type]
    per_task = None
    if done and known is not None:
        ordered = sorted(costs)  # type: ignore[type-var]
        mean = known / len(done)
        per_task = (mean, nearest_rank(ordered, 0.5), nearest_rank(ordered, 0.95))
    latencies = sorted(o.latency_ms for o in done)
    failures: dict[str, int] = {}
    for o in done:
        if o.verdict != "success":
            failures[o.verdict] = failures.get(o.verdict, 0) + 1
    retry = sum((o.retry_spend for o in done), Decimal(0))
    return ModelScore(
        model=model,
        tasks=len(done),
        successes=successes,
        judged=judged,
        evidence=evidence,
        success_rate=successes / judged if judged else None,
        interval=wilson(*evidence),
        cost=known,
        cost_per_success=known / successes if known is not None and successes else None,
        cost_per_task=per_task,
        input_tokens=sum(o.input_tokens for o in done),
        output_tokens=sum(o.output_tokens for o in done),
        retry_tax=float(retry / known) if known else None,
        latency_ms=(nearest_rank(latencies, 0.5), nearest_rank(latencies, 0.95))
        if latencies
        else None,
        failures=failures,
    )


def verdict(scores: Sequence[ModelScore]) -> Verdict | None:
    """The cheapest per success among the models not clearly below the best success rate."""
    tried = [s for s in scores if s.judged]
    if not tried:
        return None
    best = max(tried, key=lambda s: (s.success_rate or 0.0, s.judged))
    below = [s.model for s in tried if clearly_below(s.evidence, best.evidence)]
    candidates = [s for s in tried if s.model not in below and s.cost_per_success is not None]
    if not candidates:
        return None
    chosen = min(candidates, key=lambda s: s.cost_per_success)  # type: ignore[arg-type,return-value]
    first = scores[0]
    saves = None
    if first.cost_per_success is not None and chosen.cost_per_success is not None:
        saves = (first.cost_per_success - chosen.cost_per_success) * 1000
    return Verdict(chosen.model, first.model, saves, below)
