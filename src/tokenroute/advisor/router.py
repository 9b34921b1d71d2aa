"""pick: which tier and model a job needs, and why (learning.py: what the ledger taught).

The policy gives each task type a tier. Words in the description, the three screening
answers and the ledger's record of which tiers finished this kind of task move it. Cost is
compared per *successful* task, counting the escalation a cheap failure costs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

from tokenroute.advisor.learning import (
    MIN_TRIES,
    PAID_TIERS,
    TierRecord,
    choose_start,
    posteriors,
    prior_success,
    tries,
)
from tokenroute.advisor.policy import Policy
from tokenroute.models import Model, Usage
from tokenroute.prices.cost import cost_at_rates
from tokenroute.prices.table import PriceTable
from tokenroute.taxonomy import GIVEN, TIERS

if TYPE_CHECKING:  # run imports the router without the classifier
    from tokenroute.advisor.classifier import Classification

CONFIDENT = 0.5  # below this the classifier is unsure: ask, or take the dearer candidate
# Sending frontier work to a small model is the costliest mistake pick can make: when this
# much of the classifier's probability is on frontier types, the tier is at least mid.
FRONTIER_FLOOR = 0.25


class Answers(NamedTuple):
    """The screening questions; None where not answered."""

    deep: bool | None = None  # deep reasoning (True) or execution of a clear spec (False)
    good_enough: bool | None = None  # a cheaper model's 80-95% is good enough (True)
    need_premium: bool | None = None  # premium needed (True) or only convenient (False)


class Estimate(NamedTuple):
    model: Model
    cost: Decimal


class Recommendation(NamedTuple):
    task_type: str | None
    tier: str
    model: Estimate | None
    alternatives: list[Estimate]
    confidence: float
    reasons: list[str]
    usage: Usage
    learned_from: int = 0
    explored: bool = False
    configured: bool = True  # some recommended provider has a key or endpoint


def step(tier: str, by: int, floor: str = "economy") -> str:
    index = min(max(TIERS.index(tier) + by, TIERS.index(floor)), len(TIERS) - 1)
    return TIERS[index]


def dearer(a: str, b: str) -> str:
    return a if TIERS.index(a) >= TIERS.index(b) else b


_NEGATIONS = ("not ", "no ", "non ", "never ", "isn't ", "without ", "nothing ")


def _has_words(text: str, phrase: str) -> bool:
    """The phrase as whole words, and not negated: 'quick' is not in 'Quickgrow',
    'quick-sort' or 'quick_fix', and 'not complex' or 'non-critical' move nothing."""

    def joined(ch: str) -> bool:
        return ch.isalnum() or ch in "-_"

    start = text.find(phrase)
    while start != -1:
        end = start + len(phrase)
        before = start == 0 or not joined(text[start - 1])
        after = end == len(text) or not joined(text[end])
        if before and after and not text[:start].endswith(_NEGATIONS):
            return True
        start = text.find(phrase, start + 1)
    return False


def word_moves(text: str, policy: Policy) -> tuple[int, list[str]]:
    """One tier down for 'quick'-like words, one up for 'production incident'-like ones."""
    lowered = text.lower()
    down = [w for w in policy.down_words if _has_words(lowered, w)]
    up = [w for w in policy.up_words if _has_words(lowered, w)]
    if up and not down:
        return 1, up
    if down and not up:
        return -1, down
    return 0, []


def _frontier_floor(classification: Classification, text: str, policy: Policy) -> str:
    """Why this task must not go below mid, if it must: sending frontier work to a small
    model is the costliest mistake pick can make, so doubt or a high-stakes subject is enough."""
    frontier = sum(p for t, p in classification.shares if policy.types[t].tier == "frontier")
    if frontier >= FRONTIER_FLOOR:
        return f"{frontier:.0%} of the evidence reads as frontier work"
    lowered = text.lower()
    stakes = [w for w in policy.stakes_words if _has_words(lowered, w)]
    if stakes:
        return f"{', '.join(repr(w) for w in stakes[:3])}: a high-stakes subject"
    return ""


def start_tier(
    classification: Classification | None,
    text: str,
    answers: Answers,
    policy: Policy,
    *,
    interactive: bool,
) -> tuple[str, list[str]]:
    """The tier before learning: the type's policy tier, moved by words and answers."""
    reasons = []
    if classification is None:
        tier = "mid"
        reasons.append("no description: starting from mid and the screening answers")
    else:
        rule = policy.types[classification.task_type]
        tier = rule.tier
        if classification.signals == (GIVEN,):
            reasons.append(
                f"type {classification.task_type} ({rule.says}) as given with --task-type; "
                f"the policy gives it {tier}"
            )
        else:
            evidence = ", ".join(f"'{s}'" for s in classification.signals) or "its overall wording"
            reasons.append(
                f"type {classification.task_type} ({rule.says}) from {evidence}, "
                f"{classification.confidence:.0%} sure; the policy gives it {tier}"
            )
        if classification.confidence < CONFIDENT and not interactive:
            other = policy.types[classification.runner_up].tier
            safer = dearer(tier, other)
            if safer != tier:
                reasons.append(
                    f"unsure between {classification.task_type} and "
                    f"{classification.runner_up}: taking the safer {safer}"
                )
                tier = safer
        moved, words = word_moves(text, policy)
        if moved:
            new = step(tier, moved)
            if new != tier:
                direction = "down" if moved < 0 else "up"
                quoted = ", ".join(f"'{w}'" for w in words)
                reasons.append(f"{quoted} moved it one tier {direction}, to {new}")
                tier = new
        floor = _frontier_floor(classification, text, policy)
        if floor and TIERS.index(tier) < TIERS.index("mid"):
            reasons.append(f"{floor}: not below mid")
            tier = "mid"
    tier, answered = apply_answers(tier, answers)
    return tier, reasons + answered


def apply_answers(tier: str, answers: Answers) -> tuple[str, list[str]]:
    reasons = []
    if answers.deep is True and tier != "frontier":
        tier = "frontier"
        reasons.append("deep reasoning asked for: frontier")
    elif answers.deep is False and TIERS.index(tier) > TIERS.index("mid"):
        tier = "mid"
        reasons.append("execution of a clear spec: mid is enough")
    if answers.good_enough is True:
        tier = step(tier, -1)
        reasons.append(f"80-95% is good enough: one tier cheaper, {tier}")
    elif answers.good_enough is False:
        tier = dearer(tier, "frontier")
        reasons.append("it must be the best: frontier")
    if answers.need_premium is True:
        tier = "frontier"
        reasons.append("premium needed: frontier")
    elif answers.need_premium is False and tier == "frontier":
        tier = "mid"
        reasons.append("premium would only be convenient: mid")
    return tier, reasons


def price_models(
    table: PriceTable, day: date, tier: str, task_type: str | None, usage: Usage
) -> list[Estimate]:
    """Every model of the tier in force, suited to the task type first, cheapest first."""
    estimates = []
    for model, period in table.in_force(day, tier=tier):
        estimates.append(Estimate(model, cost_at_rates(period.rates, usage)))
    estimates.sort(
        key=lambda e: (
            task_type is not None and task_type not in e.model.good_for,
            e.cost,
            e.model.id,
        )
    )
    return estimates


def choose_models(
    estimates: Sequence[Estimate], configured: set[str]
) -> tuple[Estimate | None, list[Estimate], bool]:
    """The recommended model and two alternatives from other providers; configured first."""
    usable = [e for e in estimates if e.model.provider in configured]
    has_key = bool(usable)
    ordered = usable + [e for e in estimates if e.model.provider not in configured]
    if not ordered:
        return None, [], has_key
    best = ordered[0]
    alternatives, providers = [], {best.model.provider}
    for e in ordered[1:]:
        if e.model.provider not in providers:
            alternatives.append(e)
            providers.add(e.model.provider)
        if len(alternatives) == 2:
            break
    return best, alternatives, has_key


def tier_costs(
    table: PriceTable, day: date, task_type: str | None, usage: Usage
) -> dict[str, Decimal]:
    """The cost of this task on the cheapest suitable model of each paid tier."""
    costs = {}
    for tier in PAID_TIERS:
        estimates = price_models(table, day, tier, task_type, usage)
        if estimates:
            costs[tier] = estimates[0].cost
    return costs


def recommend(
    *,
    text: str,
    classification: Classification | None,
    answers: Answers,
    policy: Policy,
    table: PriceTable,
    day: date,
    usage: Usage | None,
    record: Mapping[str, TierRecord],
    configured: set[str],
    quality_target: float,
    local: bool,
    explore_enabled: bool,
    interactive: bool,
    tasks_learned: int | None = None,
) -> Recommendation:
    """Everything `tokenroute pick` says: tier, model, alternatives, costs and reasons."""
    task_type = classification.task_type if classification else None
    if usage is None:
        rule = policy.types[task_type] if task_type else None
        usage = (
            Usage(input=rule.input_tokens, output=rule.output_tokens)
            if rule
            else Usage(input=5000, output=1000)
        )
    tier, reasons = start_tier(classification, text, answers, policy, interactive=interactive)
    costs = tier_costs(table, day, task_type, usage)
    tier, learned, seen, explored = choose_start(
        tier,
        record,
        costs,
        policy,
        quality_target,
        f"{text}|{day}",
        explore_enabled=explore_enabled,
        tasks=tasks_learned,
    )
    reasons += learned
    if not explored and learned:  # the ledger decided: its figures are the reasons
        reasons += _learned_neighbours(tier, costs, record)
    elif not explored:  # an exploring pick goes below what the reasons would defend
        reasons += _neighbours(tier, task_type, costs, record, quality_target, policy)
    if local and (TIERS.index(tier) <= TIERS.index("small")):
        local_models = price_models(table, day, "local", task_type, usage)
        if local_models:
            reasons.append(f"local first (--local): escalate to {tier} on failure")
            tier = "local"
            configured = configured | {e.model.provider for e in local_models}
    best, alternatives, has_key = choose_models(
        price_models(table, day, tier, task_type, usage), configured
    )
    if best is not None:
        reasons += _cheaper_alternatives(best, alternatives, task_type, configured)
    if not has_key:
        reasons.append(
            "no provider of this tier has a key configured (set e.g. ANTHROPIC_API_KEY or "
            "OPENAI_API_KEY): listing all"
        )
    confidence = classification.confidence if classification else 1.0
    return Recommendation(
        task_type, tier, best, alternatives, confidence, reasons, usage, seen, explored, has_key
    )


def _share(rate: float, target: float) -> str:
    """A percentage that never rounds across the target: 89.7% against 90% is 89%."""
    percent = rate * 100
    shown = math.floor(percent) if rate < target else round(percent)
    return f"{shown}%"


def _cheaper_alternatives(
    best: Estimate, alternatives: Sequence[Estimate], task_type: str | None, configured: set[str]
) -> list[str]:
    """Why an alternative that costs less than the pick is not the pick."""
    reasons = []
    for other in alternatives:
        if other.cost >= best.cost:
            continue
        if best.model.provider in configured and other.model.provider not in configured:
            why = f"no key is configured for {other.model.provider}"
        else:
            why = f"it is not listed as good for {task_type}"
        reasons.append(f"{other.model.id} costs less, but {why}")
    return reasons


def _learned_neighbours(
    tier: str, costs: Mapping[str, Decimal], record: Mapping[str, TierRecord]
) -> list[str]:
    """Why not one tier cheaper or dearer, when the ledger's figures chose the tier."""
    reasons = []
    cheaper, dearer = step(tier, -1), step(tier, 1)
    if cheaper != tier and cheaper in costs and tries(record.get(cheaper)) < MIN_TRIES:
        reasons.append(
            f"not {cheaper}: too few tasks of this kind have started there to judge "
            "(pick tries it now and then)"
        )
    if dearer != tier and dearer in costs and tier in costs and costs[tier]:
        reasons.append(f"not {dearer}: {costs[dearer] / costs[tier]:.1f}x the cost of a task")
    return reasons


def _neighbours(
    tier: str,
    task_type: str | None,
    costs: Mapping[str, Decimal],
    record: Mapping[str, TierRecord],
    quality_target: float,
    policy: Policy,
) -> list[str]:
    """Why not one tier cheaper, why not one dearer."""
    reasons = []
    cheaper, dearer_tier = step(tier, -1), step(tier, 1)
    policy_tier = policy.types[task_type].tier if task_type else "mid"
    if cheaper != tier:
        done = record.get(cheaper)
        if tries(done):
            # the belief the decision used (the policy's prior and the record), not the raw rate
            a, b = posteriors(policy_tier, record, [cheaper], policy)[cheaper]
            rate = a / (a + b)
            own = done.successes + done.failures
            why = (
                f"it finished {done.successes} of {own} such tasks "
                f"(believed {_share(rate, quality_target)})"
                if own
                else f"believed to finish {_share(rate, quality_target)} from other "
                f"{policy_tier} types"
            )
        else:
            rate = prior_success(cheaper, policy_tier)
            why = f"the policy expects it to finish about {_share(rate, quality_target)} of them"
        saving = ""
        if cheaper in costs and tier in costs and costs[tier]:
            saving = f" (it would cost {costs[cheaper] / costs[tier]:.0%} as much)"
        if rate < quality_target:
            reasons.append(
                f"not {cheaper}: {why}, short of the {quality_target:.0%} target{saving}"
            )
        else:  # the tier came from the words or the answers, not from the cheaper tier's odds
            reasons.append(
                f"not {cheaper}: {why}, which meets the {quality_target:.0%} target, but the "
                f"reasons above put this task at {tier}{saving}"
            )
    if dearer_tier != tier and dearer_tier in costs and tier in costs and costs[tier]:
        ratio = costs[dearer_tier] / costs[tier]
        reasons.append(f"not {dearer_tier}: {ratio:.1f}x the cost for no needed gain")
    return reasons
